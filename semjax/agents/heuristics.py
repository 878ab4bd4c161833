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




def greedy(env: SemanticMEC, freq_points: int = 5, power_points: int = 5, mu_points: int = 10) -> Policy:
    """Myopic search, per UE on its own sub-channel: the best one-step reward on a grid.

    Each UE, alone (other UEs' server load ignored), compares local execution at
    ``freq_points`` clocks with offloading on sub-channel n mod K + 1 at every combination of
    ``power_points`` powers, ``freq_points`` clocks and ``mu_points`` extraction factors
    (mu = 1, a raw upload, included), all evenly spaced over their ranges, and takes the
    candidate with the highest reward (12) under full information of the current step.
    """
    from semjax import physics

    n = env.num_ues
    channel = _own_channel(env)

    def grid(lo, hi, count):
        return jnp.linspace(jnp.asarray(lo, jnp.float32), jnp.asarray(hi, jnp.float32), count)

    def policy(key, state, params):
        del key
        freqs = grid(params.freq_min, params.freq_max, freq_points)
        powers = grid(params.power_min, params.power_max, power_points)
        mus = grid(params.mu_min, 1.0, mu_points)
        p_off, f_off, m_off = (x.ravel() for x in jnp.meshgrid(powers, freqs, mus, indexing="ij"))
        # candidates (C,): local at each clock, then every offload combination
        choice_kind = jnp.concatenate([jnp.zeros(freq_points, bool), jnp.ones(p_off.size, bool)])
        cand_power = jnp.concatenate([jnp.full(freq_points, powers[0]), p_off])
        cand_freq = jnp.concatenate([freqs, f_off])
        cand_mu = jnp.concatenate([jnp.ones(freq_points, jnp.float32), m_off])

        def reward_of_ue(ue):
            def one(offload, power, freq, mu):
                action = Action(
                    choice=jnp.where(offload, channel[ue], 0)[None],
                    power=power[None], freq=freq[None], mu=mu[None],
                )
                m = physics.step_metrics(
                    params, state.task_type[ue][None], state.distance[ue][None],
                    jax.lax.dynamic_slice_in_dim(state.fading, ue, 1, axis=1), state.energy_budget[ue][None], action,
                )
                return m.reward[0]

            return jax.vmap(one)(choice_kind, cand_power, cand_freq, cand_mu)

        rewards = jax.vmap(reward_of_ue)(jnp.arange(n))  # (N, C)
        best = jnp.argmax(rewards, axis=1)
        return Action(
            choice=jnp.where(choice_kind[best], channel, 0).astype(jnp.int32),
            power=cand_power[best],
            freq=cand_freq[best],
            mu=cand_mu[best],
        )

    return policy


HEURISTICS: dict[str, Callable[[SemanticMEC], Policy]] = {
    "local": local,
    "random": random,
    "offload_own_channel": offload_own_channel,
    "raw_offload": raw_offload,
    "greedy": greedy,
}
