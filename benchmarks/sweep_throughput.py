#!/usr/bin/env python
"""Sweep throughput: runs ``semjax bench sweep`` (configs per hour, one vmapped program of the
sweep engine against a loop of single runs) and writes its JSON.

    python benchmarks/sweep_throughput.py                       # 16 configs x 10 updates x 16 envs
    python benchmarks/sweep_throughput.py --host-devices 2      # any bench option

Writes ``benchmarks/results/sweep_throughput.json`` (``--out`` to change it); ``python
docs/generate.py`` then rewrites every table that quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "sweep_throughput.json"


def main(argv: list[str] | None = None) -> int:
    from semjax import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" not in argv:
        argv += ["--out", str(DEFAULT_OUT)]
    return bench.main(["sweep", *argv])


if __name__ == "__main__":
    raise SystemExit(main())
