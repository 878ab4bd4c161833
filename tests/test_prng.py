"""semjax.prng: the unrolled Threefry draws equal jax.random's, bit for bit."""

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from semjax import prng

seeds = st.integers(0, 2**31 - 1)


@given(seed=seeds, n=st.sampled_from((1, 2, 3, 24, 65)))
def test_bits_and_uniform_are_jax_random(seed, n):
    key = jax.random.key(seed)
    np.testing.assert_array_equal(prng.bits(key, n), jax.random.bits(key, (n,), jnp.uint32))
    np.testing.assert_array_equal(prng.uniform(key, n), jax.random.uniform(key, (n,)))
    # raw key data is read as a Threefry key
    np.testing.assert_array_equal(prng.uniform(jax.random.key_data(key), n), jax.random.uniform(key, (n,)))


@given(seed=seeds, data=st.integers(0, 2**32 - 1))
def test_fold_in_is_jax_random(seed, data):
    key = jax.random.key(seed)
    expected = jax.random.key_data(jax.random.fold_in(key, np.uint32(data)))
    np.testing.assert_array_equal(prng.fold_in(key, np.uint32(data)), expected)
    np.testing.assert_array_equal(prng.fold_in(jax.random.key_data(key), np.uint32(data)), expected)


def test_threefry2x32_is_jax_primitive():
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2**32, 2, dtype=np.uint32)
    x = rng.integers(0, 2**32, (2, 1000), dtype=np.uint32)
    y0, y1 = prng.threefry2x32(k[0], k[1], x[0], x[1])
    expected = np.asarray(jex_random.threefry_2x32((k[0], k[1]), x.reshape(-1)))
    np.testing.assert_array_equal(np.concatenate([y0, y1]), expected)


def test_batched_keys_and_vmap_agree():
    keys = jax.random.split(jax.random.key(4), 6)
    expected = jax.vmap(lambda k: jax.random.uniform(k, (5,)))(keys)
    np.testing.assert_array_equal(prng.uniform(keys, 5), expected)
    np.testing.assert_array_equal(jax.vmap(lambda k: prng.uniform(k, 5))(keys), expected)
    steps = jnp.arange(6)
    expected_keys = jax.vmap(lambda k, t: jax.random.key_data(jax.random.fold_in(k, t)))(keys, steps)
    np.testing.assert_array_equal(jax.vmap(prng.fold_in)(keys, steps), expected_keys)


def test_the_non_partitionable_layout_goes_to_jax_random():
    key = jax.random.key(8)
    with jax.threefry_partitionable(False):
        np.testing.assert_array_equal(prng.uniform(key, 9), jax.random.uniform(key, (9,)))


def test_uniform_range_and_moments():
    u = np.asarray(prng.uniform(jax.random.key(5), 200_000))
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 3e-3 and abs(u.var() - 1 / 12) < 2e-3


def test_other_implementations_use_jax_random():
    key = jax.random.key(3, impl="rbg")
    assert not prng.is_threefry(key)
    np.testing.assert_array_equal(prng.uniform(key, 7), jax.random.uniform(key, (7,)))
    np.testing.assert_array_equal(prng.fold_in(key, 2), jax.random.key_data(jax.random.fold_in(key, 2)))


@given(seed=seeds, n=st.sampled_from((1, 3, 24)))
def test_materialize_changes_no_value(seed, n):
    key = jax.random.key(seed)
    x = prng.uniform(key, n)
    np.testing.assert_array_equal(prng.materialize(x, key), x)
    np.testing.assert_array_equal(jax.jit(prng.materialize)(x, jax.random.key_data(key)), x)
    keys = jax.random.split(key, 4)
    xs = prng.uniform(keys, n)
    np.testing.assert_array_equal(prng.materialize(xs, keys), xs)  # batch axes of the key
    np.testing.assert_array_equal(jax.jit(jax.vmap(lambda k: prng.materialize(prng.uniform(k, n), k)))(keys), xs)


def test_materialize_survives_compilation_as_a_gather():
    """What it is for: the compiled program keeps a gather (XLA did not fold the identity away)."""
    key = jax.random.key(0)
    hlo = jax.jit(lambda k: prng.materialize(prng.uniform(k, 24), k)).lower(key).compile().as_text()
    assert "gather" in hlo
