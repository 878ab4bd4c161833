"""SemanticMEC as a gymnax ``Environment``: one centralised controller acts for every UE.

The single agent of this view observes all UEs' observations, shape (N, D) (wrap it in
gymnax's ``FlattenObservationWrapper`` for an MLP), and acts with one dictionary of (N,)
arrays: ``choice`` in {0..K}, ``power`` (W), ``freq`` (Hz), ``mu``; or, with
``action_space="discrete"``, one (N,) int32 array of joint indices over discrete MAPPO's bins
(:mod:`semjax.adapters.common`). gymnax has no multi-discrete space, so that action's space
is an integer ``Box`` over {0..n-1} of shape (N,), not a ``Discrete``: a single-agent
trainer that needs one ``Discrete(n)`` (PureJaxRL's PPO) has to factorise it per UE, since a
joint ``Discrete`` over all UEs would have n^N actions. Its reward is the team reward
r = sum_n r_n. The episode *terminates* after the queue's Q tasks (there is nothing
left to do, so nothing to bootstrap); it is never truncated.

``params`` are semjax's :class:`semjax.params.EnvParams`, traced like gymnax's own params, so
``jax.vmap`` over params works as it does for the semjax env. Auto-reset and the
``final_observation`` info are gymnax's (its ``Environment.step``).

Requires ``gymnax`` (``pip install "semjax[adapters]"``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from gymnax.environments import environment, spaces

from semjax.adapters.common import action_from_dict, discrete_action_spec
from semjax.agents.distributions import index_to_action, num_actions
from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams


class GymnaxMEC(environment.Environment):
    """A :class:`semjax.env.SemanticMEC` as a gymnax single-agent environment.

    Args:
      env: the env to wrap (default: ``SemanticMEC()``, the paper's world).
      action_space: ``"hybrid"`` (default) or ``"discrete"``.
      semantic: discrete only; False drops the mu bins (mu = 1).
      bins: discrete only; bins per part (default: discrete MAPPO's, power 4, freq 3, mu 5).

    Raises:
      ValueError: for a bad ``action_space``, ``semantic`` or ``bins`` (names the option and
        its accepted values).
    """

    def __init__(
        self,
        env: SemanticMEC | None = None,
        action_space: str = "hybrid",
        semantic: bool = True,
        bins: dict[str, int] | None = None,
    ):
        super().__init__()
        self.env = SemanticMEC() if env is None else env
        self.discrete_spec = discrete_action_spec(self.env, action_space, semantic, bins, owner="GymnaxMEC")

    @property
    def default_params(self) -> EnvParams:
        return self.env.default_params

    def step_env(
        self, key: jax.Array, state: EnvState, action: Any, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step without reset: (obs (N, D), state, team reward, terminated, info).

        ``action``: the hybrid dictionary, or the discrete (N,) joint indices (an index
        outside {0..n-1} is not rejected inside jit: JAX maps it onto some valid action).
        """
        if self.discrete_spec is None:
            return self.env.step_env(key, state, action_from_dict(action), params)
        return self.env.step_env(key, state, index_to_action(self.discrete_spec, action, params), params)

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        return self.env.reset(key, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key: jax.Array | None = None) -> jax.Array:
        del key
        return self.env.observe(state, params)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """True once every UE's queue of Q tasks is done."""
        del params
        return state.t >= self.env.queue_len

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """Never: an episode has exactly Q steps and ends by termination."""
        del state, params
        return jnp.zeros((), bool)

    @property
    def name(self) -> str:
        return "SemanticMEC"

    @property
    def num_actions(self) -> int:
        """How many discrete actions one UE has, K + 1 choices in the hybrid action (which
        also has continuous parts) or n joint actions in the discrete one."""
        if self.discrete_spec is None:
            return self.env.num_channels + 1
        return num_actions(self.discrete_spec)

    def action_space(self, params: EnvParams | None = None) -> spaces.Dict | spaces.Box:
        """Hybrid: a ``Dict`` of (N,) boxes in physical units; ``choice`` is an int32 box over
        {0..K}. Discrete: an int32 box over {0..n-1} of shape (N,).

        gymnax has no multi-discrete space; the integer boxes are sampled with ``randint``
        here so that a sample is uniform over their values.
        """
        if self.discrete_spec is not None:
            return _IntBox(0, num_actions(self.discrete_spec) - 1, (self.env.num_ues,))
        params = self.default_params if params is None else params
        space = self.env.action_space(params)
        n = (self.env.num_ues,)
        return spaces.Dict({
            "choice": _IntBox(0, self.env.num_channels, n),
            "power": spaces.Box(space.power[0], space.power[1], n, jnp.float32),
            "freq": spaces.Box(space.freq[0], space.freq[1], n, jnp.float32),
            "mu": spaces.Box(space.mu[0], space.mu[1], n, jnp.float32),
        })

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        """All UEs' observations, (N, D), unbounded float32."""
        return spaces.Box(-jnp.inf, jnp.inf, (self.env.num_ues, self.env.obs_dim), jnp.float32)


class _IntBox(spaces.Box):
    """An integer box over the closed range [low, high]: gymnax's ``Box.sample`` draws
    floats and truncates them, which would never return ``high``."""

    def __init__(self, low: int, high: int, shape: tuple[int, ...]):
        super().__init__(low, high, shape, jnp.int32)

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, self.shape, self.low, self.high + 1, jnp.int32)
