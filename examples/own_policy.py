"""Example: write your own policy function and evaluate it like the built-in baselines.

A policy is a pure function ``policy(key, state, params) -> semjax.Action`` (each field of
shape (N,), physical units). This one is decentralised: each UE decides from its *own*
observation row only (``env.observe``), the way a trained actor would. It keeps text tasks on
the device, and offloads image and VQA tasks on the UE's own sub-channel when that channel's
gain is above a threshold, compressing them with a per-type mu. ``semjax.evaluation.evaluate``
then runs it over whole test episodes as one jitted program and reports the paper's metrics.

Run: ``python examples/own_policy.py [--episodes 100] [--threshold -1.5] [--quick]``
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

import semjax
from semjax.agents import heuristics
from semjax.evaluation import evaluate

#: The extraction factor used for each offloaded task type (text is never offloaded).
MU = {"image": 0.3, "vqa": 0.4}


def threshold_policy(env: semjax.SemanticMEC, log10_gain_threshold: float = -1.5):
    """Offload image/VQA on the own sub-channel when log10 of its gain exceeds the threshold."""
    k = env.num_channels
    names = env.profile.names
    offloadable = jnp.array([n in MU for n in names])
    mu_of_type = jnp.array([MU.get(n, 1.0) for n in names], jnp.float32)
    own = jnp.arange(env.num_ues) % k  # sub-channel index of UE n

    def act_one(obs_n, own_n, params):
        # Observation layout (SemanticMEC.observe): K log10 gains, 10 scalars, a one-hot task type, ...
        gain = obs_n[own_n]
        task = jnp.argmax(obs_n[k + 10:k + 10 + env.num_task_types])
        offload = offloadable[task] & (gain > log10_gain_threshold)
        return (
            jnp.where(offload, own_n + 1, 0).astype(jnp.int32),
            jnp.asarray(params.power_max, jnp.float32),
            jnp.asarray(params.freq_ref, jnp.float32),
            jnp.where(offload, mu_of_type[task], 1.0),
        )

    def policy(key, state, params):
        del key  # deterministic
        obs = env.observe(state, params)
        choice, power, freq, mu = jax.vmap(act_one, in_axes=(0, 0, None))(obs, own, params)
        return semjax.Action(choice=choice, power=power, freq=freq, mu=mu)

    return policy


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100, help="test episodes per policy")
    parser.add_argument("--threshold", type=float, default=-1.5, help="log10 gain above which to offload")
    parser.add_argument("--quick", action="store_true", help="10 episodes, 10-task queues (a smoke run)")
    args = parser.parse_args(argv)
    episodes, queue = (10, 10) if args.quick else (args.episodes, 20)

    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=queue)
    params = env.default_params
    key = jax.random.key(0)
    policies = {
        "threshold (ours)": threshold_policy(env, args.threshold),
        "local": heuristics.local(env),
        "own channel, mu 0.2": heuristics.offload_own_channel(env, mu=0.2),
    }
    results = {name: evaluate(env, params, p, key, episodes) for name, p in policies.items()}

    print(f"{env}, {episodes} episodes")
    cols = ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate", "violation_accuracy")
    print(f"{'policy':<22}" + "".join(f"{c:>19}" for c in cols))
    for name, r in results.items():
        print(f"{name:<22}" + "".join(f"{r[c]:>19.4f}" for c in cols))
    return results


if __name__ == "__main__":
    main()
