"""Does today's engine reproduce a recorded paper run? Welch's test, seed by seed, per method.

A recorded ``semjax paper`` run (its ``results.json`` keeps every method's per-seed metrics)
is compared with a sweep that retrained some of its methods (the sweep's ``results.csv``, the
default world): for each method and metric, the two sets of seeds are other draws of the same
distribution when Welch's test does not separate them at the 5 % level. Writes a
machine-written ``retrain_check.md`` (and ``retrain_check.json``) beside the record, and the
same table into the record's ``RESULTS.md`` (a section between ``<!-- retrain_check -->``
markers, replaced on each run)::

    semjax sweep configs/sweeps/paper_retrain_check.yaml --out results/paper_full/retrain_check
    python -m semjax.experiments.retrain_check results/paper_full
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from semjax.experiments import stats
from semjax.experiments.results_md import put_section
from semjax.experiments.store import read_csv, to_float, write_text

METRICS = ("qoe", "reward")


def retrained_seeds(sweep_dir: Path) -> dict[str, dict[str, list[float]]]:
    """method -> metric -> per-seed values (seed order) of a sweep's default-world results."""
    values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in read_csv(sweep_dir / "results.csv"):
        if row["task"] == "all" and row["metric"] in METRICS and row.get("under", "default") in ("", "default"):
            values[row["method"]][row["metric"]][int(row["seed"])] = to_float(row["value"])
    return {m: {k: [v[s] for s in sorted(v)] for k, v in per.items()} for m, per in values.items()}


def compare(record: dict[str, Any], retrained: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    """One row per (method, metric) both sides have: means, intervals, seeds and Welch's p."""
    rows = []
    for method, per in retrained.items():
        for metric in METRICS:
            old = record["methods"].get(method, {}).get("seeds", {}).get(metric)
            new = per.get(metric)
            if not old or not new:
                continue
            p = stats.welch_p(old, new)
            rows.append({"method": method, "metric": metric,
                         "recorded": stats.mean_ci(old), "recorded_seeds": old,
                         "retrained": stats.mean_ci(new), "retrained_seeds": new,
                         "p": p, "agree": bool(not p < stats.ALPHA)})
    return rows


def _interval(mci: tuple[float, float, float]) -> str:
    mean, low, high = mci
    return f"{mean:.4f} ± {(high - low) / 2:.4f}"


def write(record_dir: Path, sweep_dir: Path) -> list[dict[str, Any]]:
    record = json.loads((record_dir / "results.json").read_text())
    rows = compare(record, retrained_seeds(sweep_dir))
    if not rows:
        raise ValueError(f"{sweep_dir}: no method of the record among the sweep's results")
    versions = json.loads((sweep_dir / "versions.json").read_text())
    programs = read_csv(sweep_dir / "programs.csv")
    seconds = sum(to_float(p["compile_s"]) + to_float(p["run_s"]) for p in programs)
    rel = lambda p: p.name if p.parent == record_dir else str(p)  # noqa: E731
    lines = [
        "# Retrain check: today's engine against this record",
        "",
        f"Written by `python -m semjax.experiments.retrain_check` from `results.json` (the record) and "
        f"`{rel(sweep_dir)}/results.csv` (the retrained runs: `{rel(sweep_dir)}/sweep.yaml`, semjax "
        f"{versions.get('semjax', '?')}, JAX {versions.get('jax', '?')}, {versions.get('cpu', '?')}, "
        f"devices {versions.get('devices', '?')}; {len(programs)} programs, {seconds:.0f} s). Intervals are "
        f"95 % Student-t over seeds; the two sides use different seeds (the record's key scheme "
        f"is not today's), so they agree when Welch's test does not separate them at the "
        f"{stats.ALPHA:g} level.",
        "",
        "| method | metric | recorded | seeds | retrained | seeds | Welch p | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['metric']} | {_interval(r['recorded'])} | {len(r['recorded_seeds'])} | "
                     f"{_interval(r['retrained'])} | {len(r['retrained_seeds'])} | {r['p']:.3g} | "
                     f"{'agree' if r['agree'] else 'differ'} |")
    write_text(record_dir / "retrain_check.md", "\n".join(lines) + "\n")
    if (record_dir / "RESULTS.md").is_file():
        put_section(record_dir / "RESULTS.md", "retrain_check", "Retrain check: today's engine against this record",
                    lines[2:])
    write_text(record_dir / "retrain_check.json", json.dumps(rows, indent=1) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semjax.experiments.retrain_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record", type=Path, help="a recorded paper run (holding results.json)")
    parser.add_argument("--sweep", type=Path, default=None, help="the retraining sweep's output (default: RECORD/retrain_check)")
    args = parser.parse_args(argv)
    rows = write(args.record, args.sweep or args.record / "retrain_check")
    for r in rows:
        print(f"{r['method']} {r['metric']}: recorded {_interval(r['recorded'])}, retrained "
              f"{_interval(r['retrained'])}, p = {r['p']:.3g} ({'agree' if r['agree'] else 'differ'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
