"""Counter-based Threefry-2x32 draws for the env's hot path, fusible on every backend.

Why not call ``jax.random`` directly. JAX lowers its Threefry hash on the CPU backend as a
``fori_loop`` of 5 trips (4 rounds each) to keep compile times short. XLA does not fuse a
while loop with its neighbours, so every trip streams the whole counter array through
memory. Written as 20 unrolled rounds of plain ``jnp`` integer ops, the same hash fuses into
the elementwise loop that consumes it: measured on 2 cores (CPU time, many envs drawing a
step's uniforms each inside a scan), several times faster than ``jax.random.uniform``.

One word per hash. Each output word is ``y0 ^ y1`` of the hash of its own counter pair, as
``jax.random.bits`` does under ``jax_threefry_partitionable`` (the default). Keeping both
words of a hash would halve the hashes on paper, but XLA then evaluates the hash once per
output word anyway (each element of the concatenation recomputes its producer) and the
draw took twice as long (measured, same setting).

Definitions (``key`` a typed Threefry key or its raw ``uint32[2]`` data; leading axes of a
key are batch axes), each equal to its ``jax.random`` counterpart bit for bit (tested):

* :func:`bits` / :func:`uniform` ``(key, n)``: ``jax.random.bits`` / ``uniform`` of
  ``(key, (n,))`` under the default partitionable Threefry (word i: ``y0 ^ y1`` of the hash of
  counters (0, i));
* :func:`fold_in` equals ``jax.random.fold_in`` (as raw key data);
* :func:`threefry2x32` is the hash itself, equal to JAX's ``threefry2x32`` primitive.

Written once. A fused hash is recomputed in every consumer XLA fuses it into. Where a draw
feeds several parts of a program, :func:`materialize` makes XLA compute it once and write it
to memory (an identity gather, which ends a fusion), and changes no value.

So swapping ``jax.random`` for these changes no number. Keys of another implementation
(``rbg``, ``unsafe_rbg``), and every draw when ``jax_threefry_partitionable`` is switched
off, go to ``jax.random`` unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)  # Threefry's key-schedule constant
_ONE_EXPONENT = np.uint32(0x3F800000)  # float32 bits of 1.0


def _is_typed(key) -> bool:
    return jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)


def is_threefry(key) -> bool:
    """True for a typed Threefry key or raw uint32 key data of trailing size 2."""
    if _is_typed(key):
        return str(jax.random.key_impl(key)) == "threefry2x32"
    return key.dtype == jnp.uint32 and key.shape[-1:] == (2,)


def _rotl(x: jax.Array, d: int) -> jax.Array:
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def threefry2x32(k0, k1, x0, x1) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 hash (20 rounds; Salmon et al., SC'11) of counter pairs (x0, x1)
    under key (k0, k1), unrolled. All arguments uint32 and broadcastable."""
    k0, k1 = jnp.asarray(k0, jnp.uint32), jnp.asarray(k1, jnp.uint32)
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = jnp.asarray(x0, jnp.uint32) + k0
    x1 = jnp.asarray(x1, jnp.uint32) + k1
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ _rotl(x1, r)
        x0 = x0 + schedule[(i + 1) % 3]
        x1 = x1 + schedule[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def bits(key, n: int) -> jax.Array:
    """uint32[..., n], exactly ``jax.random.bits(key, (n,))``: word i is ``y0 ^ y1`` of the hash
    of counters (0, i) under ``key`` (leading axes of ``key`` are batch axes)."""
    if not is_threefry(key) or not jax.config.jax_threefry_partitionable:
        return jax.random.bits(key if _is_typed(key) else jax.random.wrap_key_data(key), (n,), jnp.uint32)
    data = jax.random.key_data(key) if _is_typed(key) else key
    y0, y1 = threefry2x32(data[..., 0, None], data[..., 1, None], np.uint32(0), jnp.arange(n, dtype=jnp.uint32))
    return y0 ^ y1


def fold_in(key, data) -> jax.Array:
    """``jax.random.fold_in(key, data)`` as raw key data uint32[..., 2]: both words of the hash
    of counters (0, data) under ``key`` (``data`` a non-negative int, may be traced)."""
    if not is_threefry(key):
        typed = key if _is_typed(key) else jax.random.wrap_key_data(key)
        return jax.random.key_data(jax.random.fold_in(typed, data))
    k = jax.random.key_data(key) if _is_typed(key) else key
    y0, y1 = threefry2x32(k[..., 0], k[..., 1], np.uint32(0), jnp.asarray(data).astype(jnp.uint32))
    return jnp.stack([y0, y1], axis=-1)


def uniform_from_bits(words: jax.Array) -> jax.Array:
    """U[0, 1) float32 from uint32 words, as ``jax.random.uniform`` maps them (23 high bits)."""
    mantissa = (words >> np.uint32(9)) | _ONE_EXPONENT
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


def uniform(key, n: int) -> jax.Array:
    """float32[..., n] in [0, 1), exactly ``jax.random.uniform(key, (n,))``."""
    return uniform_from_bits(bits(key, n))


def materialize(x: jax.Array, key) -> jax.Array:
    """``x`` unchanged, but computed once and written to memory: an identity gather along the
    last axis whose indices depend on ``key`` (they are ``iota + (key word & 0)``), so XLA can
    neither fold it away nor fuse ``x``'s producer through it.

    Why. XLA fuses an elementwise producer, such as the unrolled hash behind a draw, into each
    of its consumers and recomputes it in each. A gather ends a fusion on XLA's CPU backend, so
    the hash runs once per word. ``jax.lax.optimization_barrier`` would say this directly, but
    XLA's CPU compiler drops it before fusion. ``key``: the typed key or raw key data the draw
    came from (leading axes broadcast against ``x``'s).
    """
    data = jax.random.key_data(key) if _is_typed(key) else jnp.asarray(key)
    zero = (data[..., :1] & np.uint32(0)).astype(jnp.int32)  # always 0; not a constant to XLA
    idx = jnp.broadcast_to(jnp.arange(x.shape[-1], dtype=jnp.int32) + zero, x.shape)
    return jnp.take_along_axis(x, idx, axis=-1, mode="promise_in_bounds")
