"""The one key scheme: what seed ``s`` means everywhere.

A run with seed ``s`` trains from ``train_key(s) = jax.random.key(s)`` and is tested on
``eval_key(s) = fold_in(key(s), EVAL_SALT)``. ``semjax train seed=s``, a sweep run with seed
``s`` and the paper's seed ``s`` are the same run: they draw the same keys, so they train the
same networks (up to float32 rounding when runs are batched together) and are tested on the
same worlds.

Consequences worth knowing:

* Test worlds are common random numbers across methods and configs: seed ``s`` of every
  method sees the same episodes (fading, distances, budgets, task queues) when the world's
  shapes agree, so differences between methods are paired per seed.
* A run's numbers do not depend on what it was batched with (each run carries its own key).
* Fixed policies (the heuristics, the oracle) use only ``eval_key``: their seed picks the
  test worlds.
"""

from __future__ import annotations

import jax

#: Folded into a run's key to make its test key, disjoint from every key training draws.
EVAL_SALT = 0x7E57


def train_key(seed) -> jax.Array:
    """The training key of seed ``seed`` (an int, or a traced integer scalar)."""
    return jax.random.key(seed)


def eval_key(seed) -> jax.Array:
    """The test-episode key of seed ``seed``."""
    return eval_key_from(train_key(seed))


def eval_key_from(key: jax.Array) -> jax.Array:
    """The test-episode key that belongs to the training key ``key`` (for keys already drawn)."""
    return jax.random.fold_in(key, EVAL_SALT)
