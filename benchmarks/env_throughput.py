#!/usr/bin/env python
"""Env throughput: runs ``semjax bench env`` and refreshes the tables that quote it.

    python benchmarks/env_throughput.py            # the full sweep (several minutes on 2 cores)
    python benchmarks/env_throughput.py --quick    # the headline row only
    python benchmarks/env_throughput.py --devices 1,2,4 --batch-sizes 16384,65536   # any bench option

Writes ``benchmarks/results/env_throughput.json`` (``--out`` to change it) and prints
README's env table (Markdown) and the headline; ``python docs/generate.py`` then rewrites the
``bench_env``, ``bench_env_memory`` and ``bench_env_profile`` tables of README and
docs/benchmarks.md from that JSON. What is measured and how: ``semjax bench env --help`` and
docs/benchmarks.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "env_throughput.json"


def main(argv: list[str] | None = None) -> int:
    from semjax import bench
    from semjax.bench import tables

    argv = list(sys.argv[1:] if argv is None else argv)
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else DEFAULT_OUT
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code = bench.main(["env", *argv])
    if code:
        return code
    result = json.loads(out.read_text())
    print("\nREADME table (Markdown):\n")
    print(tables.env_table(result))
    print("\n" + tables.env_headline(result))
    print("\nthen `python docs/generate.py` rewrites every table that quotes this JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
