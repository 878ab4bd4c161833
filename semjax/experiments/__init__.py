"""The experiment engine and what runs on it.

* :mod:`~semjax.experiments.methods`: every method behind one interface (the registry);
* :mod:`~semjax.experiments.sweep`: sweep files -> one vmapped, sharded program per group of
  runs with equal shapes; per-run resume; tidy tables;
* :mod:`~semjax.experiments.store`: what the engine keeps on disk (tables, trained policies);
* :mod:`~semjax.experiments.stats`: means, Student-t intervals and Welch's test over seeds;
* :mod:`~semjax.experiments.paper` and :mod:`~semjax.experiments.report`: the paper's
  experiments as sweep specs, and the figures, ``results.json`` and ``RESULTS.md`` built from
  the engine's tables.
"""
