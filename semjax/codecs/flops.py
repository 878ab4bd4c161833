"""FLOPs and payload of a split codec, from XLA's cost analysis of the compiled functions.

``compiled_flops(f, *args)`` is ``jax.jit(f).lower(*args).compile().cost_analysis()["flops"]``:
what XLA counts for the optimised program (a multiply-add is 2 FLOPs). Arguments may be
``jax.ShapeDtypeStruct`` values, so paper-scale models are costed without allocating weights.
All costs are for one sample (batch 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from semjax.codecs.models import SplitCodec, abstract_params, dummy_inputs


def compiled_flops(fn, *args) -> float:
    analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
    # Older jaxlibs return one dict per device program.
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    if not analysis or "flops" not in analysis:
        raise RuntimeError("XLA's cost analysis reported no 'flops' on this backend")
    return float(analysis["flops"])


def _abstract(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), tree)


def codec_costs(model: SplitCodec, bits_per_element: int = 8, params=None, full: bool = True) -> dict:
    """Encoder FLOPs (device), decoder FLOPs (server), full-model FLOPs and transmitted bits.

    ``params`` defaults to abstract shapes (FLOPs do not depend on the weights). ``full=False``
    skips the whole-model compile (``full_flops`` is then None).
    """
    concrete = dummy_inputs(model, 1)
    inputs = _abstract(concrete)
    p = abstract_params(model, concrete) if params is None else _abstract(params)

    def enc(p, x):
        return model.apply({"params": p}, x, method=SplitCodec.encode)

    def dec(p, y, mask):
        return model.apply({"params": p}, y, mask, method=SplitCodec.decode)

    def whole(p, x):
        return model.apply({"params": p}, x)

    feat = jax.eval_shape(enc, p, inputs)
    mask = inputs.get("mask")
    shape = feature_shape(model)
    return {
        "encoder_flops": compiled_flops(enc, p, inputs),
        "decoder_flops": compiled_flops(dec, p, feat, mask),
        "full_flops": compiled_flops(whole, p, inputs) if full else None,
        "feature_shape": shape,
        "bits": int(shape[0] * shape[1] * bits_per_element),
    }


def model_flops(model: SplitCodec) -> float:
    """FLOPs of the whole codec over a noiseless channel (the local model), batch 1."""
    concrete = dummy_inputs(model, 1)
    return compiled_flops(lambda p, x: model.apply({"params": p}, x), abstract_params(model, concrete),
                          _abstract(concrete))


def feature_shape(model: SplitCodec) -> list[int]:
    """(tokens, width) of one sample's transmitted features, by shape inference only."""
    concrete = dummy_inputs(model, 1)
    p = abstract_params(model, concrete)
    out = jax.eval_shape(lambda p, x: model.apply({"params": p}, x, method=SplitCodec.encode), p, _abstract(concrete))
    return list(out.shape[1:])


def feature_bits(model: SplitCodec, bits_per_element: int = 8) -> int:
    """Transmitted bits per sample: tokens x width x ``bits_per_element``."""
    tokens, width = feature_shape(model)
    return int(tokens * width * bits_per_element)
