#!/usr/bin/env python
"""Training throughput of MAPPO: env steps per second *including learning*.

One measurement = ``--updates`` PPO updates of ``train(key, runner, updates)`` (rollout of
num_envs x rollout_len env steps, GAE, update_epochs x num_minibatches gradient steps each),
compiled ahead of time (compile time reported apart), median of ``--repeats`` runs, each
ending in ``block_until_ready``. Sweeps the network width (Table III's 256 and 64 by default).

    python benchmarks/train_throughput.py [--widths 64,256] [--updates 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax

import semjax
from semjax.agents.mappo import MAPPOConfig, init_runner, make_train
from semjax.config import versions


def measure(width: int, num_envs: int, updates: int, repeats: int, semantic: bool = True) -> dict:
    env = semjax.SemanticMEC()
    params = env.default_params
    config = MAPPOConfig(hidden=width, num_envs=num_envs, num_updates=updates, semantic=semantic)
    train = make_train(config, env, params)
    runner = init_runner(config, env, params, jax.random.key(0))
    fn = jax.jit(lambda r: train(jax.random.key(0), r, updates))
    start = time.perf_counter()
    compiled = fn.lower(runner).compile()
    compile_s = time.perf_counter() - start
    runner, _ = compiled(runner)  # warm-up
    jax.block_until_ready(runner)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner, metrics = compiled(runner)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    env_steps = updates * config.rollout_len * num_envs
    median = statistics.median(times)
    return {
        "width": width, "num_envs": num_envs, "updates": updates, "env_steps": env_steps,
        "compile_s": compile_s, "times_s": times, "median_s": median,
        "env_steps_per_s": env_steps / median, "updates_per_s": updates / median,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,256")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/train_throughput.json")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'width':>6}{'envs':>6}{'compile s':>11}{'env steps/s':>14}{'updates/s':>11}")
    for width in (int(w) for w in args.widths.split(",")):
        row = measure(width, args.num_envs, args.updates, args.repeats)
        rows.append(row)
        print(f"{width:>6}{args.num_envs:>6}{row['compile_s']:>11.1f}{row['env_steps_per_s']:>14.0f}{row['updates_per_s']:>11.2f}")
    result = {"args": vars(args), "machine": {"processor": platform.processor() or platform.machine(),
                                              "cpu_count": __import__("os").cpu_count()},
              "versions": versions(), "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
