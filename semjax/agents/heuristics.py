"""Fixed policies: baselines and sanity references.

A policy is a pure function ``policy(key, state, params) -> Action``; it may read the full
env state (heuristics have full information) and is jittable and vmappable like the env.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from semjax.env import EnvState, SemanticMEC
from semjax.params import EnvParams
from semjax.physics import Action

Policy = Callable[[jax.Array, EnvState, EnvParams], Action]


def _full(env: SemanticMEC, value) -> jax.Array:
    return jnp.full((env.num_ues,), value, jnp.float32)


def local(env: SemanticMEC) -> Policy:
    """Every task on the device at freq_ref: QoE exactly 0.5 (the paper's Local)."""

    def policy(key, state, params):
        del key, state
        return Action(
            choice=jnp.zeros((env.num_ues,), jnp.int32),
            power=_full(env, params.power_min),
            freq=_full(env, params.freq_ref),
            mu=_full(env, 1.0),
        )

    return policy


def random(env: SemanticMEC) -> Policy:
    """Uniformly random choice, power, clock and mu."""

    def policy(key, state, params):
        del state
        return env.sample_action(key, params)

    return policy


def _own_channel(env: SemanticMEC) -> jax.Array:
    # UE n uses sub-channel n mod K: no collisions while N <= K.
    return (jnp.arange(env.num_ues, dtype=jnp.int32) % env.num_channels) + 1


def offload_own_channel(env: SemanticMEC, mu: float = 0.2, raw_types: tuple[str, ...] = ("text",)) -> Policy:
    """Offload every task on the UE's own sub-channel at p_max and f_min with a fixed mu.

    Task types named in ``raw_types`` are uploaded raw (mu = 1): a text payload is so small
    that extraction costs more than it saves.
    """
    names = env.profile.names
    raw = jnp.asarray([name in raw_types for name in names] or [False] * env.num_task_types)

    def policy(key, state, params):
        del key
        task = env.current_task(state)
        return Action(
            choice=_own_channel(env),
            power=_full(env, params.power_max),
            freq=_full(env, params.freq_min),
            mu=jnp.where(raw[task], 1.0, jnp.maximum(mu, params.mu_min)).astype(jnp.float32),
        )

    return policy


def raw_offload(env: SemanticMEC) -> Policy:
    """Conventional offloading: every task uploaded raw (mu = 1) on the UE's own sub-channel at p_max."""

    def policy(key, state, params):
        del key, state
        return Action(
            choice=_own_channel(env),
            power=_full(env, params.power_max),
            freq=_full(env, params.freq_min),
            mu=_full(env, 1.0),
        )

    return policy


HEURISTICS: dict[str, Callable[[SemanticMEC], Policy]] = {
    "local": local,
    "random": random,
    "offload_own_channel": offload_own_channel,
    "raw_offload": raw_offload,
}
