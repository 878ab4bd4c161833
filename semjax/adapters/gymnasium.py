"""SemanticMEC for Gymnasium: a single-world ``Env`` and a jitted, batched ``VectorEnv``.

Both are the centralised-controller view: one agent observes every UE, shape (N, D), and
acts for all of them with a ``Dict`` action of ``choice`` (``MultiDiscrete``, N values in
{0..K}) and ``power`` (W), ``freq`` (Hz), ``mu`` (``Box`` es of shape (N,) with the env's
physical bounds); or, with ``action_space="discrete"``, a ``MultiDiscrete`` of N joint
indices in {0..n-1} over discrete MAPPO's bins (:mod:`semjax.adapters.common`), decoded
inside the compiled step. The reward is the team reward r = sum_n r_n; ``info`` holds the
step's per-UE metrics as (N,) arrays. An episode *terminates* after its Q tasks and is never
truncated.

:class:`GymnasiumVectorEnvMEC` steps B worlds in one compiled ``jax.vmap`` of the env and
converts to NumPy only at the boundary (actions in, results out). Its autoreset mode is
``AutoresetMode.SAME_STEP``: a world that terminates is reset within the same ``step``; the
returned observation is the new episode's, the terminal observation and info are in
``info["final_obs"]`` / ``info["final_info"]`` (masks ``_final_obs`` / ``_final_info``),
exactly as Gymnasium's ``SyncVectorEnv`` lays them out in that mode. Since every world's
episode has Q steps and all worlds reset together, they terminate on the same step.

Seeding: ``reset(seed=s)`` starts a JAX key chain from ``jax.random.key(s)`` (world i of the
vector env from ``s + i``, as ``SyncVectorEnv`` seeds its sub-envs); every reset and step
takes the next key of the chain. So a ``GymnasiumVectorEnvMEC(B)`` gives the same numbers
as ``SyncVectorEnv`` over B :class:`GymnasiumMEC` (up to float32 rounding of the batched
program).

Requires ``gymnasium`` (``pip install "semjax[adapters]"``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from semjax.adapters.common import (
    INFO_KEYS,
    action_bounds,
    action_from_dict,
    check_choice,
    check_index,
    discrete_action_spec,
    jit_reset,
    jit_step_env,
)
from semjax.agents.distributions import ActionHeadSpec, index_to_action, num_actions
from semjax.env import SemanticMEC
from semjax.params import EnvParams


def _spaces(
    env: SemanticMEC, params: EnvParams, spec: ActionHeadSpec | None
) -> tuple[gymnasium.spaces.Box, gymnasium.spaces.Space]:
    n = env.num_ues
    obs = gymnasium.spaces.Box(-np.inf, np.inf, (n, env.obs_dim), np.float32)
    if spec is not None:
        return obs, gymnasium.spaces.MultiDiscrete(np.full((n,), num_actions(spec)))
    act = gymnasium.spaces.Dict({
        "choice": gymnasium.spaces.MultiDiscrete(np.full((n,), env.num_channels + 1)),
        **{k: gymnasium.spaces.Box(np.float32(lo), np.float32(hi), (n,), np.float32)
           for k, (lo, hi) in action_bounds(env, params).items()},
    })
    return obs, act


def _action(action: Any, env: SemanticMEC, spec: ActionHeadSpec | None) -> Any:
    """Checks a concrete action and puts it in the form the compiled step takes."""
    if spec is None:
        check_choice(action["choice"], env.num_channels)
        return action_from_dict(action)
    check_index(action, num_actions(spec))
    return np.asarray(action)


def _entropy_seed() -> int:
    # No seed given: fresh OS entropy, as Gymnasium does for its own np_random.
    return int(np.random.SeedSequence().generate_state(1)[0])


class GymnasiumMEC(gymnasium.Env):
    """One :class:`semjax.env.SemanticMEC` world as a Gymnasium environment (NumPy in and out).

    Args:
      env: the env to wrap (default: ``SemanticMEC()``, the paper's world).
      params: its params (default: ``env.default_params``).
      action_space: ``"hybrid"`` (default: a ``Dict``) or ``"discrete"`` (a ``MultiDiscrete``).
      semantic: discrete only; False drops the mu bins (mu = 1).
      bins: discrete only; bins per part (default: discrete MAPPO's, power 4, freq 3, mu 5).

    Raises:
      ValueError: for a bad ``action_space``, ``semantic`` or ``bins`` (names the option and
        its accepted values).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        env: SemanticMEC | None = None,
        params: EnvParams | None = None,
        action_space: str = "hybrid",
        semantic: bool = True,
        bins: dict[str, int] | None = None,
    ):
        self.env = SemanticMEC() if env is None else env
        self.params = self.env.default_params if params is None else params
        self.discrete_spec = discrete_action_spec(self.env, action_space, semantic, bins, owner="GymnasiumMEC")
        self.observation_space, self.action_space = _spaces(self.env, self.params, self.discrete_spec)
        self._key: jax.Array | None = None
        self._state = None

    def _next_key(self) -> jax.Array:
        if self._key is None:
            self._key = jax.random.key(_entropy_seed())
        self._key, key = jax.random.split(self._key)
        return key

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Starts an episode; returns (obs (N, D), {})."""
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        obs, self._state = jit_reset(self.env, self._next_key(), self.params)
        return np.asarray(obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, np.ndarray]]:
        """One step of every UE; returns (obs, team reward, terminated, truncated=False, info).

        Raises:
          ValueError: when called before ``reset``, when ``choice`` is outside {0..K}
            (hybrid) or an index is not an integer in {0..n-1} (discrete).
        """
        if self._state is None:
            raise ValueError("step() needs a running episode: call reset() first")
        obs, self._state, reward, done, info = jit_step_env(
            self.env, self._next_key(), self._state, _action(action, self.env, self.discrete_spec), self.params,
            spec=self.discrete_spec)
        obs, reward, done, info = jax.device_get((obs, reward, done, {k: info[k] for k in INFO_KEYS}))
        return np.asarray(obs), float(reward), bool(done), False, {k: np.asarray(v) for k, v in info.items()}


class GymnasiumVectorEnvMEC(gymnasium.vector.VectorEnv):
    """B :class:`semjax.env.SemanticMEC` worlds stepped together on the device.

    Args:
      num_envs: B, the number of worlds.
      env: the env to wrap (default: ``SemanticMEC()``, the paper's world).
      params: its params, shared by all worlds (default: ``env.default_params``).
      action_space: ``"hybrid"`` (default) or ``"discrete"``, as for :class:`GymnasiumMEC`.
      semantic: discrete only; False drops the mu bins (mu = 1).
      bins: discrete only; bins per part (default: discrete MAPPO's, power 4, freq 3, mu 5).

    Actions are a dictionary of (B, N) arrays with the keys of the single env's action
    (hybrid), or one (B, N) integer array (discrete).

    Raises:
      ValueError: for a bad ``num_envs``, ``action_space``, ``semantic`` or ``bins`` (names
        the option and its accepted values).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        env: SemanticMEC | None = None,
        params: EnvParams | None = None,
        action_space: str = "hybrid",
        semantic: bool = True,
        bins: dict[str, int] | None = None,
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"GymnasiumVectorEnvMEC.num_envs must be an integer >= 1 (got {num_envs!r})")
        self.env = SemanticMEC() if env is None else env
        self.params = self.env.default_params if params is None else params
        self.discrete_spec = discrete_action_spec(
            self.env, action_space, semantic, bins, owner="GymnasiumVectorEnvMEC")
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.single_observation_space, self.single_action_space = _spaces(self.env, self.params, self.discrete_spec)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._keys: jax.Array | None = None
        self._state = None

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Resets every world; returns (obs (B, N, D), {}). An int seed s seeds world i with s + i."""
        if seed is None and self._keys is None:
            seed = _entropy_seed()
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, (int, np.integer)) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed must be an int or a list of num_envs={self.num_envs} ints (got {len(seeds)})")
            bad = [x for x in seeds if not isinstance(x, (int, np.integer)) or not 0 <= x < 2**32]
            if bad:
                raise ValueError(f"seeds must be integers in [0, 2**32) (got {bad})")
            self._keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
        self._keys, obs, self._state = _vector_reset(self.env, self._keys, self.params)
        return np.asarray(obs), {}

    def step(self, actions: Any):
        """Steps every world; returns (obs, rewards, terminations, truncations, infos), batched.

        Raises:
          ValueError: when called before ``reset``, when a ``choice`` is outside {0..K}
            (hybrid) or an index is not an integer in {0..n-1} (discrete).
        """
        if self._state is None:
            raise ValueError("step() needs running episodes: call reset() first")
        self._keys, self._state, obs, obs_end, reward, done, info = _vector_step(
            self.env, self.discrete_spec, self._keys, self._state, _action(actions, self.env, self.discrete_spec),
            self.params)
        obs, obs_end, reward, done, info = jax.device_get((obs, obs_end, reward, done, info))
        done = np.asarray(done, bool)
        infos = _same_step_infos(done, np.asarray(obs_end), {k: np.asarray(v) for k, v in info.items()})
        return (np.asarray(obs), np.asarray(reward, np.float64), done.copy(),
                np.zeros(self.num_envs, bool), infos)


# The key chain of each world, as GymnasiumMEC keeps it: chain, use = split(chain). Compiled
# once per env and batch size, shared by every vector env over that env.
@partial(jax.jit, static_argnums=0)
def _vector_reset(env: SemanticMEC, chains: jax.Array, params: EnvParams):
    chains, use = jax.vmap(jax.random.split, out_axes=1)(chains)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(use, params)
    return chains, obs, state


@partial(jax.jit, static_argnums=(0, 1))
def _vector_step(env: SemanticMEC, spec: ActionHeadSpec | None, chains: jax.Array, state, action, params: EnvParams):
    if spec is not None:  # discrete: (B, N) joint indices, decoded in the same program
        action = index_to_action(spec, action, params)
    chains, use = jax.vmap(jax.random.split, out_axes=1)(chains)
    obs_end, state_end, reward, done, info = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
        use, state, action, params)
    # Worlds that terminated reset now (SAME_STEP), taking the next key of their chain.
    chains_reset, obs_new, state_new = _vector_reset(env, chains, params)
    pick = lambda new, old: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)  # noqa: E731
    chains = jax.tree.map(pick, jax.random.key_data(chains_reset), jax.random.key_data(chains))
    state = jax.tree.map(pick, state_new, state_end)
    obs = pick(obs_new, obs_end)
    info = {k: info[k] for k in INFO_KEYS}
    return jax.random.wrap_key_data(chains), state, obs, obs_end, reward, done, info


def _same_step_infos(done: np.ndarray, obs_end: np.ndarray, info: dict[str, np.ndarray]) -> dict[str, Any]:
    """The infos ``SyncVectorEnv`` builds in SAME_STEP mode: the step's info under each key
    (with a ``_key`` mask) for worlds that continue; for worlds that terminated, their
    terminal obs and info under ``final_obs`` / ``final_info`` (a reset's info is empty)."""
    infos: dict[str, Any] = {}
    going = ~done
    if going.any():
        for k, v in info.items():
            infos[k] = np.where(going.reshape((-1,) + (1,) * (v.ndim - 1)), v, np.zeros_like(v))
            infos[f"_{k}"] = going.copy()
    if done.any():
        # Gymnasium's convention: an object array holding each terminal obs (None elsewhere).
        final_obs = np.full(done.shape, None, dtype=object)
        for i in np.flatnonzero(done):
            final_obs[i] = obs_end[i]
        final_info: dict[str, Any] = {}
        for k, v in info.items():
            final_info[k] = np.where(done.reshape((-1,) + (1,) * (v.ndim - 1)), v, np.zeros_like(v))
            final_info[f"_{k}"] = done.copy()
        infos.update(final_obs=final_obs, _final_obs=done.copy(), final_info=final_info, _final_info=done.copy())
    return infos
