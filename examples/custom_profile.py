"""Example: a world with your own task types (a custom task profile).

A task profile holds the per-task-type constants of the model (FLOPs, payload size,
accuracy curve, accuracy floor; SPEC section 5). Here we start from the paper's profile and
add a fourth type, ``speech`` (a small keyword-spotting model with a large raw payload),
build an env on it, and evaluate three fixed policies. The same dictionary could be saved as
JSON and passed as ``SemanticMEC(profile="my_profile.json")`` or ``env.profile=...`` in a
training config.

Run: ``python examples/custom_profile.py [--episodes 50] [--quick]``
"""

from __future__ import annotations

import argparse
import json
from importlib import resources

import jax

import semjax
from semjax.agents import heuristics
from semjax.evaluation import evaluate

#: The new task type: one value per profile field (SPEC section 5 names, SI units).
SPEECH = {
    "flops_local": 1.2e9,  # FLOPs of the whole model on the device
    "flops_extract": 0.03e9,  # FLOPs of the semantic encoder at mu = 1
    "flops_server": 1.1e9,  # FLOPs left for the server after extraction
    "data_bits": 256_000,  # 1 s of 16 kHz 16-bit audio
    "exp_data": 1.0,
    "exp_extract": 0.5,
    "exp_accuracy": 0.3,
    "acc_local": 0.85,  # accuracy when run locally (or raw) in a clean channel
    "snr_mid_db": 0.0,
    "snr_width_db": 2.0,
    "acc_min": 0.6,  # the accuracy floor of the constraint
}


def speech_profile() -> semjax.TaskProfile:
    """The paper's profile plus a ``speech`` task type, validated by ``profile_from_dict``."""
    data = json.loads(resources.files("semjax.profiles").joinpath("paper.json").read_text())
    for name, value in SPEECH.items():
        data["fields"][name]["values"].append(value)
    data["task_types"] = [*data["task_types"], "speech"]
    return semjax.profile_from_dict(data, origin="examples/custom_profile.py")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="test episodes per policy")
    parser.add_argument("--quick", action="store_true", help="10 episodes, 10-task queues (a smoke run)")
    args = parser.parse_args(argv)
    episodes, queue = (10, 10) if args.quick else (args.episodes, 20)

    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=queue, profile=speech_profile())
    # Half the tasks are speech, the rest split evenly.
    params = env.default_params.replace(task_mix=[1 / 6, 1 / 6, 1 / 6, 1 / 2])
    policies = {
        "local": heuristics.local(env),
        "offload mu=0.2": heuristics.offload_own_channel(env, mu=0.2),
        "raw offload": heuristics.raw_offload(env),
    }
    results = {name: evaluate(env, params, policy, jax.random.key(0), episodes) for name, policy in policies.items()}

    print(f"{env}, {episodes} episodes, task mix {[round(float(x), 3) for x in params.task_mix]}")
    print(f"{'policy':<16}{'QoE':>8}" + "".join(f"{t + ' QoE':>12}" for t in env.profile.names) + f"{'speech acc':>12}")
    for name, r in results.items():
        per_type = "".join(f"{r['per_task'][t]['qoe']:>12.4f}" for t in env.profile.names)
        print(f"{name:<16}{r['qoe']:>8.4f}{per_type}{r['per_task']['speech']['accuracy']:>12.4f}")
    return results


if __name__ == "__main__":
    main()
