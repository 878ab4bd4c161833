"""Two recorded ``semjax paper`` runs side by side: the same budget in two worlds (profiles).

``semjax paper --quick env.profile=fitted --out DIR`` runs the paper in the world
``semjax calibrate`` fitted; this puts it next to a run in another world (e.g. the committed
``results/paper_quick``, the ``paper`` profile) and the paper's printed numbers: every
method's QoE, the headline gains, Table V, and each claim's verdict. Machine-written:
``comparison.md`` and ``comparison.json`` in the second run's folder, and the same tables as a
section of its ``RESULTS.md`` (between ``<!-- comparison -->`` markers, replaced on each run)::

    python -m semjax.experiments.compare results/paper_quick results/paper_quick_fitted
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from semjax.experiments import report, results_md
from semjax.experiments.store import write_text

#: The world of a record written before results.json named its profile, since every such run
#: used the default world.
DEFAULT_PROFILE = "paper"


def profile_of(results: dict[str, Any]) -> str:
    """The task profile a recorded run's main spec ran under."""
    return results["run"].get("specs", {}).get("main", {}).get("profile", DEFAULT_PROFILE)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def compare(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The comparison as data: per-method QoE (mean and half-width) in both runs, the headline
    gains of both against the paper's, Table V in both against the paper's, and every claim's
    verdict in both (claims are recomputed from each run's per-seed values)."""
    worlds = [profile_of(first), profile_of(second)]
    methods = [m for m in first["methods"] if m in second["methods"]]
    claims_a = {c[0]: c[1] for c in report.checks(first)}
    claims_b = {c[0]: c[1] for c in report.checks(second)}
    return {
        "worlds": worlds,
        "budgets": [first["run"].get("budget"), second["run"].get("budget")],
        "methods": {m: [[r["methods"][m]["qoe"], r["methods"][m]["ci95"]["qoe"]] for r in (first, second)]
                    for m in methods},
        "headline": {k: [first.get("headline", {}).get(k), second.get("headline", {}).get(k), report.PAPER[k]]
                     for k in ("gain_vs_mappo_unaware", "gain_vs_d3qn_unaware")},
        "table5": {pref: {metric: [first.get("table5", {}).get(pref, {}).get(metric),
                                   second.get("table5", {}).get(pref, {}).get(metric), paper]
                          for metric, paper in zip(("latency_ms", "energy_j", "accuracy"),
                                                   (p[0], p[1], p[2] / 100))}
                   for pref, p in report.PAPER["table5"].items()},
        "claims": {claim: [claims_a.get(claim), claims_b.get(claim)] for claim in dict.fromkeys([*claims_a, *claims_b])},
    }


def markdown(c: dict[str, Any]) -> list[str]:
    """The comparison's tables (from :func:`compare`'s data, with ``runs`` naming the two
    folders), headed by the two runs' worlds."""
    a, b = (f"`{w}` ({n})" for w, n in zip(c["worlds"], c["runs"]))
    where = "in two worlds" if c["worlds"][0] != c["worlds"][1] else "in one world, two runs (their configs differ)"
    lines = [f"The same `{c['budgets'][1]}` budget {where}: {a} and {b}. Intervals are 95 % Student-t "
             "over seeds.", "", "| | " + a + " | " + b + " | paper |", "|---|---|---|---|"]
    labels = {"gain_vs_mappo_unaware": "QoE gain of semantic-aware MAPPO over semantic-unaware MAPPO",
              "gain_vs_d3qn_unaware": "QoE gain over semantic-unaware D3QN"}
    for key, (x, y, paper) in c["headline"].items():
        lines.append(f"| {labels[key]} | {_pct(x)} | {_pct(y)} | {_pct(paper)} |")
    lines += ["", "| method | QoE, " + a + " | QoE, " + b + " |", "|---|---|---|"]
    for m, ((qa, ha), (qb, hb)) in c["methods"].items():
        lines.append(f"| {m} | {_num(qa)} ± {_num(ha)} | {_num(qb)} ± {_num(hb)} |")
    lines += ["", "Table V (semantic-aware MAPPO retrained per preference):", "",
              "| preference | metric | " + a + " | " + b + " | paper |", "|---|---|---|---|---|"]
    fmt = {"latency_ms": lambda v: _num(v, 3), "energy_j": _num, "accuracy": _pct}
    for pref, per in c["table5"].items():
        for metric, (x, y, paper) in per.items():
            lines.append(f"| {pref} | {metric} | {fmt[metric](x)} | {fmt[metric](y)} | {fmt[metric](paper)} |")
    lines += ["", "| claim | " + a + " | " + b + " |", "|---|---|---|"]
    for claim, (x, y) in c["claims"].items():
        lines.append(f"| {claim} | {x or '-'} | {y or '-'} |")
    return lines


def write(first_dir: Path, second_dir: Path) -> dict[str, Any]:
    first = json.loads((first_dir / "results.json").read_text())
    second = json.loads((second_dir / "results.json").read_text())
    c = {"runs": [str(first_dir), str(second_dir)], **compare(first, second)}
    body = markdown(c)
    title = "Two worlds side by side" if c["worlds"][0] != c["worlds"][1] else "Two runs side by side"
    write_text(second_dir / "comparison.md", "\n".join([f"# {title}", "",
                                                        "Written by `python -m semjax.experiments.compare` from "
                                                        f"`{first_dir}/results.json` and `{second_dir}/results.json`.",
                                                        "", *body]) + "\n")
    write_text(second_dir / "comparison.json", json.dumps(c, indent=1) + "\n")
    if (second_dir / "RESULTS.md").is_file():
        results_md.put_section(second_dir / "RESULTS.md", "comparison", title, body)
    return c


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semjax.experiments.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, help="a recorded paper run (holding results.json), e.g. results/paper_quick")
    parser.add_argument("second", type=Path, help="the run to set beside it; comparison.md and its RESULTS.md section go here")
    args = parser.parse_args(argv)
    c = write(args.first, args.second)
    for key, (x, y, paper) in c["headline"].items():
        print(f"{key}: {_pct(x)} ({c['worlds'][0]}) vs {_pct(y)} ({c['worlds'][1]}); paper {_pct(paper)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
