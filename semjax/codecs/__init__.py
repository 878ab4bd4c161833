"""Split-computing semantic codecs and offline profiling (SPEC section 8).

Needs the ``codecs`` extra (``pip install -e ".[codecs]"``: transformers, tokenizers,
scikit-learn, scipy). Modules: ``split`` (mu -> split point), ``channel`` (AWGN),
``data`` (bundled / generated / local real data), ``models`` (the Flax split codecs),
``train`` (training and evaluation), ``flops`` (XLA cost analysis), ``fit`` (least-squares
fits), ``profile`` (measure, fit, write the profile JSON). ``semjax profile`` runs it.
"""
