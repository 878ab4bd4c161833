"""SemanticMEC as a PettingZoo ``ParallelEnv``: NumPy in and out, a jitted JAX step inside.

One world; the N UEs are the agents ``ue_0 .. ue_{N-1}``. Each step stacks the agents'
actions, runs one compiled ``SemanticMEC.step_env`` and hands back NumPy. An agent's action
is the hybrid dictionary (default) or, with ``action_space="discrete"``, one integer of a
``Discrete(n)`` over discrete MAPPO's bins (:mod:`semjax.adapters.common`), decoded inside
the compiled step. Every agent's reward is the team reward r = sum_n r_n; ``infos[agent]``
holds that UE's metrics of the step (``qoe``, its own ``reward`` r_n, ``latency``,
``energy``, ``accuracy``, ``offloaded``, ``collided``, ``task_type``). After the queue's Q steps every agent is
terminated and ``agents`` empties, as PettingZoo expects; call ``reset`` for a new episode.

Seeding: ``reset(seed=s)`` starts a JAX key chain from ``jax.random.key(s)``; each reset and
step takes the next key of the chain, so a seed fixes the whole run.

Requires ``pettingzoo`` and ``gymnasium`` (``pip install "semjax[adapters]"``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np
from pettingzoo import ParallelEnv

from semjax.adapters.common import (
    INFO_KEYS,
    action_bounds,
    action_from_dict,
    check_choice,
    check_index,
    discrete_action_spec,
    jit_reset,
    jit_step_env,
    stack_agent_actions,
    stack_agent_indices,
)
from semjax.agents.distributions import num_actions
from semjax.env import SemanticMEC
from semjax.params import EnvParams


class PettingZooMEC(ParallelEnv):
    """A :class:`semjax.env.SemanticMEC` with fixed params as a PettingZoo parallel env.

    Args:
      env: the env to wrap (default: ``SemanticMEC()``, the paper's world).
      params: its params (default: ``env.default_params``).
      action_space: ``"hybrid"`` (default) or ``"discrete"``.
      semantic: discrete only; False drops the mu bins (mu = 1).
      bins: discrete only; bins per part (default: discrete MAPPO's, power 4, freq 3, mu 5).

    Hybrid: an agent's action is a dictionary ``{"choice": int in {0..K}, "power": W,
    "freq": Hz, "mu": float}``; its space is a Gymnasium ``Dict`` of ``Discrete(K + 1)`` and
    three scalar ``Box`` es with the env's bounds. Discrete: one integer, its space
    ``Discrete(n)``. An agent's observation is the env's (D,) vector.

    Raises:
      ValueError: for a bad ``action_space``, ``semantic`` or ``bins`` (names the option and
        its accepted values).
    """

    metadata = {"name": "semjax_mec_v0", "render_modes": [], "is_parallelizable": True}

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
        self.discrete_spec = discrete_action_spec(self.env, action_space, semantic, bins, owner="PettingZooMEC")
        self.possible_agents = [f"ue_{n}" for n in range(self.env.num_ues)]
        self.agents: list[str] = []
        self.render_mode = None
        # One space object per agent, so that each can be seeded on its own.
        if self.discrete_spec is None:
            bounds = action_bounds(self.env, self.params)
            self.action_spaces = {a: gymnasium.spaces.Dict({
                "choice": gymnasium.spaces.Discrete(self.env.num_channels + 1),
                **{k: gymnasium.spaces.Box(np.float32(lo), np.float32(hi), (), np.float32)
                   for k, (lo, hi) in bounds.items()},
            }) for a in self.possible_agents}
        else:
            n = num_actions(self.discrete_spec)
            self.action_spaces = {a: gymnasium.spaces.Discrete(n) for a in self.possible_agents}
        self.observation_spaces = {
            a: gymnasium.spaces.Box(-np.inf, np.inf, (self.env.obs_dim,), np.float32) for a in self.possible_agents
        }
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, (self.env.num_ues * self.env.obs_dim,), np.float32)
        self._key: jax.Array | None = None
        self._state = None
        self._obs: np.ndarray | None = None

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        """The agent's observation space (the same object on every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Dict | gymnasium.spaces.Discrete:
        """The agent's action space (the same object on every call, so seeding sticks)."""
        return self.action_spaces[agent]

    def _next_key(self) -> jax.Array:
        if self._key is None:
            # No seed given: fresh OS entropy, as Gymnasium does.
            self._key = jax.random.key(int(np.random.SeedSequence().generate_state(1)[0]))
        self._key, key = jax.random.split(self._key)
        return key

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Starts an episode; returns (observations, infos), keyed by agent."""
        del options
        if seed is not None:
            self._key = jax.random.key(seed)
        obs, self._state = jit_reset(self.env, self._next_key(), self.params)
        self._obs = np.asarray(obs)
        self.agents = list(self.possible_agents)
        return self._split(self._obs), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        """One step of every UE; returns (observations, rewards, terminations, truncations, infos).

        Raises:
          ValueError: when called with no episode running, when an agent's action is missing,
            its ``choice`` is outside {0..K} (hybrid) or it is not an integer in {0..n-1}
            (discrete).
        """
        if not self.agents:
            raise ValueError("step() needs a running episode: call reset() first")
        if self.discrete_spec is None:
            stacked = stack_agent_actions(actions, self.agents, np)
            check_choice(stacked["choice"], self.env.num_channels)
            action = action_from_dict(stacked)
        else:
            action = stack_agent_indices(actions, self.agents, np)
            check_index(action, num_actions(self.discrete_spec))
        obs, self._state, reward, done, info = jit_step_env(
            self.env, self._next_key(), self._state, action, self.params, spec=self.discrete_spec)
        obs, reward, done, info = jax.device_get((obs, reward, done, {k: info[k] for k in INFO_KEYS}))
        self._obs = np.asarray(obs)
        agents = self.agents
        rewards = {a: float(reward) for a in agents}
        terminations = {a: bool(done) for a in agents}
        truncations = {a: False for a in agents}
        infos = {a: {k: np.asarray(info[k][n]) for k in INFO_KEYS} for n, a in enumerate(agents)}
        if done:
            self.agents = []
        return self._split(self._obs, agents), rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The global state: every UE's observation, concatenated (N*D,)."""
        if self._obs is None:
            raise ValueError("state() needs a running episode: call reset() first")
        return self._obs.reshape(-1)

    def close(self) -> None:
        pass

    def render(self) -> None:
        return None

    def _split(self, obs: np.ndarray, agents: list[str] | None = None) -> dict[str, np.ndarray]:
        agents = self.possible_agents if agents is None else agents
        return {a: obs[self.possible_agents.index(a)] for a in agents}
