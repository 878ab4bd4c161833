"""Example: sweep the QoE weights (w_latency, w_energy, w_accuracy) in one vmapped program.

The QoE (and so the reward) weighs three logistic scores; the weights are traced
``EnvParams`` fields, so a whole grid of them is one ``jax.vmap`` over params: every weight
setting runs the same test episodes (same keys) in a single compiled program. The policy is
the greedy heuristic, which picks each UE's best one-step reward on a grid of actions and
so reacts to the weights: weighting energy pushes it to offload, weighting accuracy pushes
mu up (less compression). Local execution scores QoE 0.5 under every weighting.

To train MAPPO at one weighting instead, override the params of the paper config, e.g.
``semjax train --config configs/paper.yaml --out runs/w622 params.w_latency=0.6
params.w_energy=0.2 params.w_accuracy=0.2``.

Run: ``python examples/reward_weights_sweep.py [--episodes 50] [--quick]``
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import semjax
from semjax.agents import heuristics
from semjax.evaluation import rollout

#: The weight grid: every (w_latency, w_energy, w_accuracy) on the simplex in steps of 0.2
#: with each weight at least 0.2, and the paper's equal weights.
WEIGHTS = [(1 / 3, 1 / 3, 1 / 3)] + [
    (a / 5, b / 5, (5 - a - b) / 5) for a in range(1, 4) for b in range(1, 4) if 5 - a - b >= 1
]


def sweep(env: semjax.SemanticMEC, policy, weights, key: jax.Array, episodes: int) -> dict[str, np.ndarray]:
    """Means over ``episodes`` test episodes for each weight setting, as arrays (len(weights),).

    One program: ``jax.vmap`` of ``semjax.evaluation.rollout`` over the three weight fields.
    """
    w = np.asarray(weights, np.float32)
    base = env.default_params
    params = base.replace(w_latency=w[:, 0], w_energy=w[:, 1], w_accuracy=w[:, 2])
    axes = semjax.batch_axes(base, w_latency=0, w_energy=0, w_accuracy=0)

    @jax.jit
    def run(params):
        def one(p):
            rec = rollout(env, p, policy, key, episodes)
            off = rec["offloaded"].astype(jnp.float32)
            return {
                "qoe": rec["qoe"].mean(),
                "reward": rec["reward"].sum(-1).mean(),  # team reward per step
                "latency_ms": rec["latency"].mean() * 1e3,
                "energy_j": rec["energy"].mean(),
                "accuracy": rec["accuracy"].mean(),
                "offload_rate": off.mean(),
                "mean_mu": jnp.sum(off * rec["mu"]) / jnp.maximum(jnp.sum(off), 1.0),
            }

        return jax.vmap(one, in_axes=(axes,))(params)

    return {k: np.asarray(v) for k, v in jax.device_get(run(params)).items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="test episodes per weight setting")
    parser.add_argument("--quick", action="store_true", help="10 episodes, 10-task queues, a coarse greedy grid")
    args = parser.parse_args(argv)
    episodes, queue, grid = (10, 10, 3) if args.quick else (args.episodes, 20, 5)

    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=queue)
    key = jax.random.key(0)
    policy = heuristics.greedy(env, freq_points=grid, power_points=grid, mu_points=2 * grid)
    greedy = sweep(env, policy, WEIGHTS, key, episodes)
    local = sweep(env, heuristics.local(env), WEIGHTS, key, episodes)

    print(f"{env}, greedy heuristic, {episodes} episodes per weighting")
    cols = ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate", "mean_mu")
    print(f"{'w_lat':>6}{'w_en':>6}{'w_acc':>6}" + "".join(f"{c:>13}" for c in cols) + f"{'local qoe':>11}")
    for i, w in enumerate(WEIGHTS):
        row = "".join(f"{greedy[c][i]:>13.4f}" for c in cols)
        print(f"{w[0]:>6.2f}{w[1]:>6.2f}{w[2]:>6.2f}{row}{local['qoe'][i]:>11.4f}")
    return {"weights": WEIGHTS, "greedy": greedy, "local": local, "episodes": episodes, "queue_len": queue}


if __name__ == "__main__":
    main()
