"""The AWGN channel between the device and the server.

The device power-normalises each sample's feature tensor to unit mean power (as a
transmitter with a fixed power budget does), so the SNR nu fixes the noise variance at
1 / nu per real value. The server receives the normalised features plus noise; the decoder
is trained on that signal, so no scale needs to be sent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def power_normalise(z: jax.Array, eps: float = 1e-12) -> jax.Array:
    """Scales each sample (leading axis) of ``z`` to mean power 1 over its other axes."""
    axes = tuple(range(1, z.ndim))
    power = jnp.mean(jnp.square(z), axis=axes, keepdims=True)
    return z * jax.lax.rsqrt(power + eps)


def awgn(key: jax.Array, z: jax.Array, snr_db: jax.Array) -> jax.Array:
    """Power-normalises ``z`` and adds white Gaussian noise at ``snr_db`` (scalar or per sample).

    Returns the received signal ``x + n`` with ``x`` of unit mean power and ``n ~ N(0, 1/nu)``.
    """
    x = power_normalise(z)
    snr_db = jnp.asarray(snr_db, x.dtype)
    snr_db = snr_db.reshape(snr_db.shape + (1,) * (x.ndim - snr_db.ndim))
    sigma = jnp.power(10.0, -snr_db / 20.0)
    return x + sigma * jax.random.normal(key, x.shape, x.dtype)
