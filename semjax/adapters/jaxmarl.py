"""SemanticMEC behind JaxMARL's ``MultiAgentEnv`` interface.

Agents are named ``agent_0 .. agent_{N-1}`` (JaxMARL's convention; agent n is UE n).
Observations, actions, rewards and dones are dictionaries keyed by agent; ``dones`` also
carries ``"__all__"``. All UEs finish their queues together, so every agent's done equals
``"__all__"``. The info holds the step's per-UE metrics as (N,) arrays, the layout
JaxMARL's baselines and ``LogWrapper`` expect (they reshape every info leaf to one value
per actor).

Actions: ``action_space="hybrid"`` (default) gives each agent a ``Dict`` action (choice and
physical power, freq, mu); ``action_space="discrete"`` gives each agent a ``Discrete(n)``
over discrete MAPPO's bins (:mod:`semjax.adapters.common`), so JaxMARL's own IPPO/MAPPO
baselines, which read ``env.action_space(agent).n``, drive it unchanged.

Rewards: every agent receives the team reward r = sum_n r_n (the cooperative setting MAPPO
trains in; unclipped); its own r_n is ``info["reward"][n]``. So JaxMARL's ``LogWrapper``
logs, for each agent, the team return (read one agent's entry, or the mean over agents;
a sum over agents is N times the team return). ``MPELogWrapper`` (the one
``ippo_rnn_mpe.py`` uses) multiplies every reward by N before logging, as the on-policy
MAPPO codebase sums rewards over agents: its returns are N times the team return, so
divide by N. Likewise ``CTRolloutManager``'s global reward, the sum over agents, is N r.

Auto-reset is JaxMARL's own: ``JaxMARLMEC.step`` is the base class's, which calls
:meth:`JaxMARLMEC.step_env` (semjax's ``step_env``, no reset) and swaps in
:meth:`JaxMARLMEC.reset` of a split key when the episode ends.

Requires ``jaxmarl`` (``pip install "semjax[adapters]"``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jaxmarl.environments import spaces
from jaxmarl.environments.multi_agent_env import MultiAgentEnv

from semjax.adapters.common import (
    action_bounds,
    action_from_dict,
    discrete_action_spec,
    stack_agent_actions,
    stack_agent_indices,
)
from semjax.agents.distributions import index_to_action, num_actions
from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams


class JaxMARLMEC(MultiAgentEnv):
    """A :class:`semjax.env.SemanticMEC` with fixed params as a JaxMARL multi-agent env.

    JaxMARL's ``reset(key)`` / ``step(key, state, actions)`` take no params, so the params
    are fixed at construction (constants of the compiled functions); build
    one adapter per parameter set, or use the semjax env directly to vmap over params.

    Args:
      env: the env to wrap (default: ``SemanticMEC()``, the paper's world).
      params: its params (default: ``env.default_params``).
      action_space: ``"hybrid"`` (default) or ``"discrete"``.
      semantic: discrete only; False drops the mu bins (mu = 1).
      bins: discrete only; bins per part (default: discrete MAPPO's, power 4, freq 3, mu 5).

    Hybrid: each agent's action is a dictionary with keys ``choice`` (int in {0..K}),
    ``power`` (W), ``freq`` (Hz) and ``mu``, each a scalar; its space is a JaxMARL ``Dict``
    of a ``Discrete(K + 1)`` and three scalar ``Box`` es with the env's physical bounds.
    Discrete: each agent's action is one integer, its space ``Discrete(n)``, the joint index
    of discrete MAPPO's bins (``discrete_spec`` holds their head). Inside jit an index
    outside {0..n-1} is not rejected (JAX maps it onto some valid action).

    Raises:
      ValueError: for a bad ``action_space``, ``semantic`` or ``bins`` (names the option and
        its accepted values).
    """

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
        self.discrete_spec = discrete_action_spec(self.env, action_space, semantic, bins, owner="JaxMARLMEC")
        super().__init__(num_agents=self.env.num_ues)
        obs_space = spaces.Box(-jnp.inf, jnp.inf, (self.env.obs_dim,), jnp.float32)
        if self.discrete_spec is None:
            act_space = spaces.Dict({
                "choice": spaces.Discrete(self.env.num_channels + 1),
                **{k: spaces.Box(lo, hi, (), jnp.float32)
                   for k, (lo, hi) in action_bounds(self.env, self.params).items()},
            })
        else:
            act_space = spaces.Discrete(num_actions(self.discrete_spec))
        self.observation_spaces = {a: obs_space for a in self.agents}
        self.action_spaces = {a: act_space for a in self.agents}

    @partial(jax.jit, static_argnums=(0,))
    def reset(self, key: jax.Array) -> tuple[dict[str, jax.Array], EnvState]:
        """Starts an episode; returns the observations keyed by agent and the state."""
        obs, state = self.env.reset(key, self.params)
        return self._split(obs), state

    def step_env(
        self, key: jax.Array, state: EnvState, actions: dict[str, Any]
    ) -> tuple[dict[str, jax.Array], EnvState, dict[str, jax.Array], dict[str, jax.Array], dict[str, jax.Array]]:
        """One step without reset: (obs, state, rewards, dones, info), dictionaries keyed by agent."""
        if self.discrete_spec is None:
            action = action_from_dict(stack_agent_actions(actions, self.agents))
        else:
            action = index_to_action(self.discrete_spec, stack_agent_indices(actions, self.agents), self.params)
        obs, state, reward, done, info = self.env.step_env(key, state, action, self.params)
        rewards = {a: reward for a in self.agents}
        dones = {a: done for a in self.agents}
        dones["__all__"] = done
        return self._split(obs), state, rewards, dones, info

    def get_obs(self, state: EnvState) -> dict[str, jax.Array]:
        """The observation of every agent, keyed by agent."""
        return self._split(self.env.observe(state, self.params))

    @partial(jax.jit, static_argnums=(0,))
    def get_avail_actions(self, state: EnvState) -> dict[str, jax.Array]:
        """Every discrete action is always available: a mask of ones per agent, over the
        K + 1 choices (hybrid) or the n joint actions (discrete)."""
        del state
        if self.discrete_spec is None:
            mask = jnp.ones((self.env.num_channels + 1,), bool)
        else:
            mask = jnp.ones((num_actions(self.discrete_spec),), bool)
        return {a: mask for a in self.agents}

    @property
    def name(self) -> str:
        return "SemanticMEC"

    @property
    def agent_classes(self) -> dict[str, list[str]]:
        """All agents are UEs of one class (they share a policy in MAPPO)."""
        return {"ue": list(self.agents)}

    def world_state(self, obs: dict[str, jax.Array]) -> jax.Array:
        """The centralised critic's input (N, N*D + N), as :meth:`semjax.env.SemanticMEC.world_state`."""
        return self.env.world_state(jnp.stack([obs[a] for a in self.agents]))

    def _split(self, obs: jax.Array) -> dict[str, jax.Array]:
        return {a: obs[i] for i, a in enumerate(self.agents)}
