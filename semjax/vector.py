"""A batch of envs spread over every device: sharded, jitted steps and rollouts.

On a CPU, XLA's runtime splits a vmapped step's large fused loops over its thread pool but runs
the rest of the program (the scan, small fusions, reductions) on one thread. Splitting the
host into one device per core and sharding the env axis over a :class:`jax.sharding.Mesh` of
them runs one slice of the whole step per core. On a GPU the same code shards over the GPUs
(one GPU: a mesh of one).

On a CPU mesh the programs here are compiled with :data:`CPU_COMPILER_OPTIONS` (YNNPACK
fusions off; see :func:`compiler_options`); a program of your own gets them with
``jax.jit(f, compiler_options=vector.compiler_options(mesh))``.

The recipe, for a script (XLA reads its flags once, when JAX starts its backend)::

    import semjax
    from semjax import vector

    vector.prepare_host()                    # before any JAX computation: one device per core
    env = semjax.SemanticMEC()
    params = env.default_params
    mesh = vector.env_mesh()                 # every device, axis "envs"
    obs, state = vector.reset(env, mesh, jax.random.key(0), 16384, params)
    step = vector.make_step(env, mesh)       # jitted vmap(env.step), sharded over envs
    obs, state, reward, done, info = step(key, state, action, params)

    rollout = vector.make_random_rollout(env, mesh, 16384, 100)   # benchmark-style rollout
    state, totals = rollout(key, state, params)

The batch B must be a multiple of the number of devices. Random numbers come from counters
over the global env index (``jax.random.split`` of one key and :mod:`semjax.prng`), so the
same key gives the same trajectory on 1, 2 or 16 devices.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from semjax import host, prng
from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams
from semjax.physics import Action

ENVS = "envs"


def prepare_host(devices: int | None = None) -> str:
    """XLA's CPU settings for sharded env rollouts; call before anything starts JAX.

    :func:`semjax.host.prepare_host` (one CPU device per core, default ``os.cpu_count()``;
    single-threaded Eigen), except that XLA's thread pool keeps its default size (``NPROC`` =
    the core count) unless ``NPROC`` is already set: the wider pool (cores + devices) that
    vmapped *training* programs need to avoid a wedge costs an env rollout CPU time per env
    step (docs/benchmarks.md says how to measure it on yours). A process that
    also trains should use ``semjax.host.prepare_host``.
    Returns ``XLA_FLAGS``.
    """
    os.environ.setdefault("NPROC", str(os.cpu_count() or 1))
    return host.prepare_host(devices)


#: XLA options for env programs on a CPU, which turn YNNPACK fusions off (no fusion type is
#: listed). By default XLA's CPU compiler hands the step's reductions, with the elementwise
#: work fused into them (the QoE's tanh, the observation's logarithms), to YNNPACK, which ran
#: that work several times slower than XLA's own loops (the ``rollout_ynnpack`` part of
#: ``semjax bench env --profile``). Training keeps XLA's defaults: its matmuls run faster there.
CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _cpu_options_supported() -> bool:
    """Whether this XLA knows :data:`CPU_COMPILER_OPTIONS` (the flag is experimental)."""
    x = jax.device_put(np.float32(0), jax.devices("cpu")[0])
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_COMPILER_OPTIONS)(x)
    except jax.errors.JaxRuntimeError:  # "No such compile option": compile with XLA's defaults
        return False
    return True


def compiler_options(mesh: Mesh) -> dict[str, str] | None:
    """:data:`CPU_COMPILER_OPTIONS` for a mesh of CPU devices (when this XLA knows them), else
    None (XLA's defaults): the ``compiler_options`` of every program this module jits."""
    if mesh.devices.flat[0].platform != "cpu" or not _cpu_options_supported():
        return None
    return dict(CPU_COMPILER_OPTIONS)


def env_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh ("envs") over ``devices`` (default: every device)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("env_mesh: devices must not be empty")
    return Mesh(np.array(devices), (ENVS,))


def _check_batch(num_envs: int, mesh: Mesh) -> None:
    size = mesh.shape[ENVS]
    if num_envs < 1 or num_envs % size:
        raise ValueError(f"num_envs must be a positive multiple of the mesh's {size} devices (got {num_envs})")


def env_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (env) axis split over the mesh, the rest whole."""
    return NamedSharding(mesh, P(ENVS))


def reset(env: SemanticMEC, mesh: Mesh, key: jax.Array, num_envs: int, params: EnvParams | None = None):
    """``vmap(env.reset)`` of ``split(key, num_envs)``, computed sharded: (obs, state) on the mesh."""
    _check_batch(num_envs, mesh)
    params = env.default_params if params is None else params
    sharded, whole = env_sharding(mesh), NamedSharding(mesh, P())

    def run(key, params):
        return jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

    return jax.jit(run, in_shardings=(whole, whole), out_shardings=(sharded, sharded),
                   compiler_options=compiler_options(mesh))(key, params)


def make_step(env: SemanticMEC, mesh: Mesh) -> Callable:
    """``step(keys (B,), state, action, params) -> (obs, state, reward, done, info)``: jitted
    ``vmap(env.step)`` with every batched input and output sharded over the mesh's envs."""
    sharded, whole = env_sharding(mesh), NamedSharding(mesh, P())
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    return jax.jit(step, in_shardings=(sharded, sharded, sharded, whole), out_shardings=sharded,
                   compiler_options=compiler_options(mesh))


def action_uniforms(env: SemanticMEC, key: jax.Array, num_envs: int) -> jax.Array:
    """The uniforms of B random actions, (B, 4, N): word ``(b, part, n)`` of
    :func:`semjax.prng.uniform` under ``key``; parts are choice, power, freq, mu."""
    n = env.num_ues
    return prng.uniform(key, num_envs * 4 * n).reshape(num_envs, 4, n)


def actions_from_uniforms(env: SemanticMEC, u: jax.Array, params: EnvParams) -> Action:
    """Uniformly random actions (B, N) from :func:`action_uniforms`: choice uniform on {0..K};
    power, freq and mu uniform on their ranges (the distribution of ``env.sample_action``)."""
    k = env.num_channels
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731

    def scale(v, lo, hi):
        return f32(lo) + (f32(hi) - f32(lo)) * v

    return Action(
        # floor(u (K + 1)) is uniform on {0..K}; the minimum guards the rounding at u -> 1.
        choice=jnp.minimum((u[:, 0] * (k + 1)).astype(jnp.int32), k),
        power=scale(u[:, 1], params.power_min, params.power_max),
        freq=scale(u[:, 2], params.freq_min, params.freq_max),
        mu=scale(u[:, 3], params.mu_min, 1.0),
    )


def random_actions(env: SemanticMEC, key: jax.Array, num_envs: int, params: EnvParams) -> Action:
    """Uniformly random actions (B, N) from one draw of 4 uniforms per UE, transformed: the
    distribution of ``env.sample_action`` from a quarter of its PRNG calls."""
    return actions_from_uniforms(env, action_uniforms(env, key, num_envs), params)


def make_random_rollout(env: SemanticMEC, mesh: Mesh, num_envs: int, num_steps: int) -> Callable:
    """``rollout(key, state, params) -> (state, totals)``: ``num_steps`` auto-resetting steps of
    B envs under uniformly random actions, jitted and sharded over the mesh's envs.

    ``totals`` = [sum of team rewards, sum of observations] over the rollout: both keep the
    whole step (observations included) alive. The state is donated (updated in place).
    This is the env benchmark's measured program.
    """
    _check_batch(num_envs, mesh)
    sharded, whole = env_sharding(mesh), NamedSharding(mesh, P())
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def rollout(key: jax.Array, state: EnvState, params: EnvParams):
        def body(carry, _):
            key, u, state, totals = carry
            key, k_next, k_step = jax.random.split(key, 3)
            action = actions_from_uniforms(env, u, params)
            obs, state, reward, _, _ = step(jax.random.split(k_step, num_envs), state, action, params)
            # The next step's action uniforms travel in the carry, so they are written to memory
            # once. Drawn where they are used, the hash behind each word was fused into every
            # consumer of the action (a dozen fusions of the step) and recomputed in each: the
            # rollout took twice as long (measured). XLA's CPU compiler drops an
            # optimization_barrier before fusion, so a barrier does not prevent it.
            u = action_uniforms(env, k_next, num_envs)
            return (key, u, state, totals + jnp.stack([jnp.sum(reward), jnp.sum(obs)])), None

        key, k_first = jax.random.split(key)
        init = (key, action_uniforms(env, k_first, num_envs), state, jnp.zeros((2,), jnp.float32))
        (_, _, state, totals), _ = jax.lax.scan(body, init, None, length=num_steps)
        return state, totals

    return jax.jit(rollout, in_shardings=(whole, sharded, whole), out_shardings=(sharded, whole),
                   donate_argnums=(1,), compiler_options=compiler_options(mesh))
