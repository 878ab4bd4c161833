#!/usr/bin/env python
"""The most a sweep can gain from batching on this machine: one MAPPO run's time against its
env batch, under semjax's default settings (what a user's loop of single runs gets).

A vmapped sweep of C configs x E envs does the env work of one run of C x E envs, and batching
configs is no cheaper than batching envs (each config has its own network). So
C x t(E) / t(C x E) bounds the sweep's speed-up over a loop of single runs.

    python benchmarks/batch_ceiling.py [--envs 16 64 256] [--updates 10] [--out FILE]

The ceiling is reported for (largest / smallest) configs of the smallest batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import jax

from semjax.agents.mappo import make_train
from semjax.config import build_env, load_config, train_config, versions

REPO = Path(__file__).resolve().parents[1]


def time_run(cfg, num_envs: int, updates: int, repeats: int = 3) -> float:
    """Median seconds of one compiled training call (compile excluded)."""
    env, params = build_env(cfg)
    config = dataclasses.replace(train_config(cfg), num_envs=num_envs, num_updates=updates)
    compiled = jax.jit(make_train(config, env, params)).lower(jax.random.key(0)).compile()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.key(i)))
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "batch_ceiling.json"))
    args = parser.parse_args(argv)
    cfg = load_config(REPO / "configs" / "paper.yaml")
    seconds = {e: time_run(cfg, e, args.updates) for e in args.envs}
    small, big = min(args.envs), max(args.envs)
    result = {
        "updates": args.updates,
        "seconds": {str(e): s for e, s in seconds.items()},
        "ceiling": {"configs": big // small, "envs_per_config": small,
                    "speedup": (big // small) * seconds[small] / seconds[big]},
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average": os.getloadavg()[0],
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "versions": versions(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for e, s in seconds.items():
        print(f"{e:>5} envs: {s:.3f} s per {args.updates} updates ({1000 * s / e:.1f} ms per env)")
    c = result["ceiling"]
    print(f"ceiling: {c['configs']} configs x {c['envs_per_config']} envs batched like one {big}-env run: "
          f"{c['speedup']:.2f}x over the loop; wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
