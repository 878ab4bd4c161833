#!/usr/bin/env python
"""What several ``semjax paper`` processes on one output folder gain: retraining programs per hour
with one process against W processes running at once, on this machine.

Each process runs one program shaped like the full budget's retraining chunks (MAPPO, 2
settings x the budget's seeds, 64 envs; fewer updates than the full budget's 1000, given by
``--updates``), compile included, as a worker does for every program. First one process runs
alone, then W start together; the gain is W x t(alone) / t(slowest of W).

    python benchmarks/paper_workers.py [--workers 2] [--updates 50] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(updates: int) -> None:
    """One retraining-shaped program; prints its wall seconds (compile included)."""
    import dataclasses
    import tempfile

    import jax

    from semjax.paper import PaperRun, _stack, train_seeds

    run = PaperRun(tempfile.mkdtemp(), progress=False, resume=False)
    config = dataclasses.replace(run._config("mappo", retrain=True), num_updates=updates)
    batch = _stack([run.params.replace(mu_min=0.1), run.params.replace(mu_min=0.3)])
    start = time.perf_counter()
    train_seeds(config, run.env, run.params, run.train_keys, "", False,
                param_batch=batch, param_axes=jax.tree.map(lambda _: 0, batch))
    print(json.dumps({"seconds": time.perf_counter() - start}))


def together(n: int, updates: int) -> list[float]:
    """Wall seconds of each of ``n`` processes started at once."""
    cmd = [sys.executable, __file__, "--child", "--updates", str(updates)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"worker exited with status {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1])["seconds"])
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "paper_workers.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1 or args.updates < 1:
        parser.error(f"--workers and --updates must be >= 1 (got {args.workers}, {args.updates})")
    if args.child:
        child(args.updates)
        return {}
    from semjax.config import versions

    alone = together(1, args.updates)[0]
    many = together(args.workers, args.updates)
    result = {
        "updates": args.updates,
        "workers": args.workers,
        "alone_s": alone,
        "together_s": many,
        "programs_per_hour": {"1": 3600 / alone, str(args.workers): args.workers * 3600 / max(many)},
        "gain": args.workers * alone / max(many),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "versions": versions(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"one process: {alone:.1f} s per program; {args.workers} at once: "
          f"{', '.join(f'{s:.1f}' for s in many)} s; gain {result['gain']:.2f}x")
    return result


if __name__ == "__main__":
    main()
