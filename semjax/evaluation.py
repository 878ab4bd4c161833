"""Evaluating a policy over whole episodes: one jitted program, vmapped over episodes.

The metrics (means over every task of every UE in every episode unless said otherwise):
``qoe``; ``reward`` (team reward per step); ``latency_ms``; ``energy_j``; ``accuracy``;
``offload_rate`` (tasks run on the server); ``mean_mu`` (over offloaded tasks; NaN if none);
``collision_rate`` (tasks that lost their sub-channel); ``violation_latency``,
``violation_energy``, ``violation_accuracy`` (fraction of tasks over t_max, over the UE's
energy budget, under eps_min); and ``per_task``, the same keys per task type (``reward``
there is the mean per-UE reward r_n of that task type).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from semjax import physics
from semjax.env import SemanticMEC
from semjax.params import EnvParams

METRICS = (
    "qoe",
    "reward",
    "latency_ms",
    "energy_j",
    "accuracy",
    "offload_rate",
    "mean_mu",
    "collision_rate",
    "violation_latency",
    "violation_energy",
    "violation_accuracy",
)


def rollout(env: SemanticMEC, params: EnvParams, policy, key: jax.Array, num_episodes: int, initial_carry=None):
    """Runs ``num_episodes`` whole episodes; returns per-step records shaped (E, Q, N).

    ``policy`` is a heuristic ``(key, state, params) -> Action`` when ``initial_carry`` is
    None, else a recurrent policy ``(key, carry, obs, state, params) -> (carry, Action)``
    started from ``initial_carry`` in every episode.
    """

    def episode(key):
        key_reset, key_steps = jax.random.split(key)
        obs, state = env.reset(key_reset, params)

        def body(carry, key):
            state, obs, policy_carry = carry
            key_act, key_env = jax.random.split(key)
            if initial_carry is None:
                action = policy(key_act, state, params)
            else:
                policy_carry, action = policy(key_act, policy_carry, obs, state, params)
            mu = physics.clip_action(params, action, env.num_channels).mu
            next_obs, next_state, _, _, info = env.step_env(key_env, state, action, params)
            record = {k: info[k] for k in ("qoe", "reward", "latency", "energy", "accuracy",
                                           "offloaded", "collided", "task_type")}
            record["mu"] = mu
            record["energy_budget"] = state.energy_budget
            return (next_state, next_obs, policy_carry), record

        _, records = jax.lax.scan(body, (state, obs, initial_carry), jax.random.split(key_steps, env.queue_len))
        return records

    return jax.vmap(episode)(jax.random.split(key, num_episodes))


def _summaries(params: EnvParams, rec: dict[str, jax.Array], mask: jax.Array, num_ues: int) -> dict[str, jax.Array]:
    w = mask.astype(jnp.float32)
    count = jnp.sum(w)
    mean = lambda x: jnp.sum(w * x) / count  # noqa: E731
    off = rec["offloaded"].astype(jnp.float32)
    acc_min = jnp.asarray(params.profile.acc_min, jnp.float32)[rec["task_type"]]
    return {
        "qoe": mean(rec["qoe"]),
        # team reward per step = N x the mean per-UE reward
        "reward": mean(rec["reward"]) * num_ues,
        "latency_ms": mean(rec["latency"]) * 1e3,
        "energy_j": mean(rec["energy"]),
        "accuracy": mean(rec["accuracy"]),
        "offload_rate": mean(off),
        "mean_mu": jnp.sum(w * off * rec["mu"]) / jnp.sum(w * off),
        "collision_rate": mean(rec["collided"].astype(jnp.float32)),
        "violation_latency": mean((rec["latency"] > jnp.asarray(params.t_max, jnp.float32)).astype(jnp.float32)),
        "violation_energy": mean((rec["energy"] > rec["energy_budget"]).astype(jnp.float32)),
        "violation_accuracy": mean((rec["accuracy"] < acc_min).astype(jnp.float32)),
    }


def summarize(env: SemanticMEC, params: EnvParams, rec: dict[str, jax.Array]):
    """The metrics of ``rollout`` records, jittable: (overall, [per task type]) dicts of scalars."""
    overall = _summaries(params, rec, jnp.ones_like(rec["qoe"], bool), env.num_ues)
    per_task = [_summaries(params, rec, rec["task_type"] == m, 1) for m in range(env.num_task_types)]
    return overall, per_task


def evaluate(
    env: SemanticMEC,
    params: EnvParams,
    policy,
    key: jax.Array,
    num_episodes: int = 200,
    initial_carry=None,
) -> dict[str, Any]:
    """Evaluates ``policy`` over ``num_episodes`` test episodes; returns Python floats (see module doc).

    See ``rollout`` for the two kinds of policy.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1 (got {num_episodes})")

    @jax.jit
    def run(key):
        return summarize(env, params, rollout(env, params, policy, key, num_episodes, initial_carry))

    overall, per_task = jax.device_get(run(key))
    names = env.profile.names or tuple(f"type{m}" for m in range(env.num_task_types))
    result = {k: _float(overall[k]) for k in METRICS}
    result["reward_per_ue"] = result["reward"] / env.num_ues
    result["per_task"] = {name: {k: _float(per_task[m][k]) for k in METRICS} for m, name in enumerate(names)}
    result["episodes"] = num_episodes
    return result


def _float(x) -> float | None:
    value = float(x)
    return None if math.isnan(value) else value
