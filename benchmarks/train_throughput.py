#!/usr/bin/env python
"""Training throughput: runs ``semjax bench train`` and refreshes the tables that quote it.

    python benchmarks/train_throughput.py                 # widths 64, 128, 256
    python benchmarks/train_throughput.py --widths 64     # any bench option

Writes ``benchmarks/results/train_throughput.json`` (``--out`` to change it) and prints
README's training table (Markdown; ``python docs/generate.py`` then rewrites the
``bench_train`` tables of README and docs/benchmarks.md):
env steps/s including learning, FLOPs per env step, achieved FLOP/s against the matmul
FLOP/s measured in the same run, memory per run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "train_throughput.json"


def main(argv: list[str] | None = None) -> int:
    from semjax import bench
    from semjax.bench import tables

    argv = list(sys.argv[1:] if argv is None else argv)
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else DEFAULT_OUT
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code = bench.main(["train", *argv])
    if code:
        return code
    print("\nREADME table (Markdown):\n")
    print(tables.train_table(json.loads(out.read_text())))
    print("\nthen `python docs/generate.py` rewrites every table that quotes this JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
