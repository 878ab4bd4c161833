"""RESULTS.md from a ``semjax paper`` results dict: our numbers beside the paper's.

Every claim in the file is computed from the results: the checks of the paper's qualitative
statements (:func:`semjax.experiments.report.checks`) print PASS, FAIL or "not resolved at
this budget" with the numbers and p-values they compared, and the shape of each figure is
described by the measured trend, next to what the paper reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semjax.experiments.report import LEARNED, PAPER, PAPER_SHAPES, PAPER_WEIGHT_SHAPES
from semjax.experiments.store import write_text

def _fmt(x, digits=4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _trend(xs, ys, flat: float = 2e-3) -> str:
    """Least-squares direction of ys over xs (over log x when every x > 0), or flat when the
    range of ys is below ``flat``."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return "n/a"
    slope = np.polyfit(np.log(x[ok]) if np.all(x[ok] > 0) else x[ok], y[ok], 1)[0]
    spread = float(np.ptp(y[ok]))
    if spread < flat:
        return f"flat (range {spread:.4f})"
    return f"{'rises' if slope > 0 else 'falls'} ({y[ok][0]:.4f} -> {y[ok][-1]:.4f})"


def weight_figure_rows(figs: dict[str, Any]) -> list[str]:
    """Shape-table rows of Figs. 14-16: each plotted metric of aware MAPPO against the pair's first
    weight, beside the paper's description."""
    rows = []
    for key, metrics in PAPER_WEIGHT_SHAPES.items():
        f = figs.get(key)
        if not f:
            continue
        for metric, paper in metrics:
            ys = f["mappo"][metric]
            # each metric on its own scale: flat below 1 % of its mean (energy ~0.03 J, latency ~1 ms)
            flat = 0.01 * float(np.nanmean(np.abs(np.asarray(ys, float))))
            rows.append(f"| {key} | mappo {metric} vs w_{'energy' if key == 'fig15' else 'latency'} | "
                        f"{_trend(f['x'], ys, flat)} | {paper} |")
    return rows


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _span(values) -> float:
    v = np.asarray(values, float)
    return float(v.max() / v.min()) if v.min() > 0 else float("nan")


def differences(results: dict[str, Any]) -> list[str]:
    """Where our numbers differ from the paper's, by how much, and the measured reason, one
    Markdown bullet each; computed from the results, so that each figure quoted is one of the run's."""
    m, out = results["methods"], []
    h = results.get("headline", {})
    if "mappo" not in m or "oracle" not in m:
        return out  # every line below compares aware MAPPO with the oracle
    aware = m["mappo"]
    o = m["oracle"]
    for key, unaware in (("gain_vs_mappo_unaware", "mappo_unaware"), ("gain_vs_d3qn_unaware", "d3qn_unaware")):
        if key not in h:
            continue
        u, paper = m[unaware], PAPER[key]
        implied = aware["qoe"] / (1.0 + paper)  # the unaware QoE at which our aware MAPPO shows the paper's gain
        headroom = o["qoe"] / u["qoe"] - 1
        line = (f"- **Gain over {unaware}: {_pct(h[key])} against the paper's {_pct(paper)}** "
                f"({h[key] / paper:.2f} of it). The per-step oracle (the best team reward, chosen with full "
                f"information) has a QoE only {_pct(headroom)} above {unaware}'s {u['qoe']:.4f}")
        top = max(m[n]["qoe"] for n in m if n != "oracle")
        line += (f"; no method here has a higher QoE than the oracle (best {top:.4f}), so the paper's gain against "
                 "this baseline would take a policy with a higher QoE than the reward-optimal one." if headroom < paper and top <= o["qoe"]
                 else ".")
        if implied < 0.5:
            line += (f" At our aware MAPPO's QoE ({aware['qoe']:.4f}) the paper's gain would put {unaware} at "
                     f"{implied:.4f}, below the 0.5 that running every task locally gets.")
        if "raw_offload" in m:
            line += (f" The baseline is strong: with mu fixed at 1, {unaware} offloads {100 * u['offload_rate']:.0f} % "
                     f"of tasks raw and runs the rest locally, {u['qoe'] - m['raw_offload']['qoe']:+.4f} against raw "
                     f"offloading of every task ({m['raw_offload']['qoe']:.4f}); aware MAPPO offloads "
                     f"{100 * aware['offload_rate']:.0f} % at mean mu {aware['mean_mu']:.2f}.")
        out.append(line)
    out.append(
        f"- **Absolute QoE** (the paper plots it and prints no table): aware MAPPO reaches {aware['qoe']:.4f}, "
        f"{aware['pct_of_oracle']['qoe']:.1f} % of the per-step oracle's {o['qoe']:.4f}, which is "
        f"{_pct(o['qoe'] / 0.5 - 1)} above Local.")
    t5 = results.get("table5", {})
    if t5:
        rows = list(t5)
        for i, (metric, scale, unit) in enumerate((("latency_ms", 1.0, "latency"), ("energy_j", 1.0, "energy"),
                                                    ("accuracy", 100.0, "accuracy"))):
            ours = [scale * t5[r][metric] for r in rows]
            paper = [PAPER["table5"][r][i] for r in rows]
            ratio = np.asarray(ours) / np.asarray(paper)
            out.append(
                f"- **Table V {unit}**: ours / paper is {ratio.min():.2f}-{ratio.max():.2f} over the four rows; the "
                f"preferences move it by {_span(ours):.2f}x (max / min) here against {_span(paper):.2f}x in the paper.")
        out.append(
            "  The profile's constants (SPEC section 5) bound how far a policy can trade one metric for another; "
            "that the paper's rows spread further suggests its unpublished profile allows wider trades.")
    figs = results.get("figures", {})
    f9 = figs.get("fig9", {}).get("methods", {})
    if "mappo" in f9 and "mappo_unaware" in f9:
        da = f9["mappo"]["qoe"][0] - f9["mappo"]["qoe"][-1]
        du = f9["mappo_unaware"]["qoe"][0] - f9["mappo_unaware"]["qoe"][-1]
        line = (f"- **Fig. 9**: from the lowest to the highest noise, aware MAPPO loses {da:.4f} QoE and unaware "
                f"MAPPO {du:.4f}" + (f" ({da / du:.2f} of it)" if du > 0 else "") + "; the paper's aware MAPPO stays nearly flat.")
        if "oracle" in f9:
            do = f9["oracle"]["qoe"][0] - f9["oracle"]["qoe"][-1]
            line += (f" Here even the oracle loses {do:.4f}: the lower rate costs every policy in our world, "
                     "so a flat curve is out of reach.")
        out.append(line)
    f10 = figs.get("fig10", {})
    for name in ("mappo_unaware", "d3qn_unaware"):
        series = f10.get("methods", {}).get(name)
        have = [(n, q) for n, q in zip(f10.get("x", []), series["qoe"]) if q is not None] if series else []
        if have:
            n, q = have[-1]
            out.append(
                f"- **Fig. 10**: at N = {n}, {name} is at {q:.4f}, "
                f"{q - 0.5:+.4f} from Local's 0.5 that the paper's unaware methods converge to.")
    f8 = figs.get("fig8", {})
    if f8.get("methods"):
        learned = [n for n in LEARNED if n in f8["methods"]]
        best = [max(learned, key=lambda n: f8["methods"][n]["qoe"][i]) for i in range(len(f8["x"]))]
        lost = [f"{f8['x'][i] / 1e6:g} MHz ({b})" for i, b in enumerate(best) if b != "mappo"]
        out.append(
            f"- **Fig. 8**: aware MAPPO is the best learned method at {best.count('mappo')} of {len(best)} "
            "bandwidths" + (f"; not at {', '.join(lost)}" if lost else "") + "; the paper has it best at every one.")
    return out


def _budget_sentence(run: dict[str, Any]) -> str:
    specs = run.get("specs", {})
    main = specs.get("main", {})
    retrain = specs.get("preferences", {})
    return (f"{len(main.get('seeds', []))} seeds at the default world, {main.get('mappo_updates', '?')} MAPPO / "
            f"{main.get('d3qn_updates', '?')} D3QN updates, retraining at {retrain.get('mappo_updates', '?')} MAPPO "
            f"updates with {len(retrain.get('seeds', []))} seeds; learners of `{main.get('base_config') or 'the defaults'}` "
            f"(discount {main.get('gamma', '?')}); task profile `{main.get('profile', 'paper')}`")


def _record_sentence(run: dict[str, Any]) -> str:
    v = run.get("versions", {})
    machines = run.get("machines", [])
    where = "; ".join(f"{m['machine']}: {m['programs']} programs, {m['seconds']:.0f} s" for m in machines) or "n/a"
    return (f"Written by `semjax paper` ({run.get('budget', '?')} budget: {_budget_sentence(run)}) from commit "
            f"`{run.get('commit') or 'unknown'}`, JAX {v.get('jax', '?')} on {v.get('platform', '?')} (devices: "
            f"{v.get('devices', '?')}). Its {run.get('programs', '?')} programs took "
            f"{run.get('program_seconds', float('nan')):.0f} s of program time ({where}); each spec's "
            "`programs.csv` lists them. Intervals are 95 % Student-t over seeds; every method is tested on the "
            "same worlds per seed (common random numbers). A claim passes only when Welch's t-test over seeds "
            "separates the two sides at the 5 % level.")


def write(results: dict[str, Any], path: str | Path, checks: list[tuple[str, str, str]]) -> None:
    """Writes RESULTS.md for ``results`` with the verdicts of ``checks``."""
    run = results.get("run", {})
    m = results["methods"]
    lines = ["# Results: the paper's experiments, reproduced", ""]
    if run.get("budget") == "quick":
        lines += ["This file comes from a `--quick` run. Its numbers show the pipeline and the direction of each "
                  "claim, not converged policies; the full run is `semjax paper --out DIR`.", ""]
    lines += [
        _record_sentence(run),
        "",
        "## Every method at the default world (Fig. 12)",
        "",
        "| method | QoE | ±95 % | team reward/step | latency ms | energy J | accuracy | QoE % of oracle | reward % of oracle |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in m.items():
        pct = r.get("pct_of_oracle", {})
        lines.append(
            f"| {name} | {_fmt(r['qoe'])} | {_fmt(r['ci95']['qoe'])} | {_fmt(r['reward'], 3)} | {_fmt(r['latency_ms'], 3)} | "
            f"{_fmt(r['energy_j'])} | {_fmt(r['accuracy'])} | {_fmt(pct.get('qoe'), 1)} | {_fmt(pct.get('reward'), 1)} |"
        )
    h = results.get("headline", {})
    lines += [
        "",
        "## Headline",
        "",
        "| | ours | paper |",
        "|---|---|---|",
        f"| QoE gain of semantic-aware MAPPO over semantic-unaware MAPPO | {100 * h.get('gain_vs_mappo_unaware', float('nan')):.2f} % | {100 * PAPER['gain_vs_mappo_unaware']:.2f} % |",
        f"| QoE gain over semantic-unaware D3QN | {100 * h.get('gain_vs_d3qn_unaware', float('nan')):.2f} % | {100 * PAPER['gain_vs_d3qn_unaware']:.2f} % |",
        f"| Local QoE | {m['local']['qoe']!r} | {PAPER['local_qoe']} |" if "local" in m else "",
        "",
        "## Checks of the paper's claims",
        "",
        "| claim | verdict | evidence |",
        "|---|---|---|",
    ]
    for statement, verdict, evidence in checks:
        lines.append(f"| {statement} | {verdict} | {evidence} |")
    t5 = results.get("table5", {})
    if t5:
        lines += ["", "## Table V: preferences (semantic-aware MAPPO retrained per weight setting)", "",
                  "| preference | latency ms (ours / paper) | energy J (ours / paper) | accuracy % (ours / paper) | QoE (ours) |",
                  "|---|---|---|---|---|"]
        for pref, r in t5.items():
            p = PAPER["table5"][pref]
            lines.append(f"| {pref} | {_fmt(r['latency_ms'], 3)} / {p[0]} | {_fmt(r['energy_j'])} / {p[1]} | "
                         f"{100 * r['accuracy']:.2f} / {p[2]} | {_fmt(r['qoe'])} |")
    figs = results.get("figures", {})
    lines += ["", "## Shape of every figure", "", "| figure | method | ours | paper |", "|---|---|---|---|"]
    for fig in ("fig8", "fig9", "fig10", "fig11"):
        f = figs.get(fig)
        if not f:
            continue
        for name, series in f["methods"].items():
            # null where a method has no value (Fig. 10's oracle at large N): _trend skips it
            ys = [np.nan if q is None else q for q in series["qoe"]]
            lines.append(f"| {fig} | {name} | {_trend(f['x'], ys)} | {PAPER_SHAPES[fig] if name == 'mappo' else ''} |")
    for key in ("fig17_slope_latency", "fig17_slope_energy", "fig17_slope_accuracy"):
        f = figs.get(key)
        if f and "mappo" in f["methods"]:
            lines.append(f"| {key} | mappo | {_trend(f['x'], f['methods']['mappo']['qoe'])} | {PAPER_SHAPES['fig17']} |")
    lines += weight_figure_rows(figs)
    f13 = figs.get("fig13")
    if f13 and "mappo" in f13["methods"]:
        lines += ["", "Fig. 13 (trained on the mix, tested per task type), semantic-aware MAPPO:", "",
                  "| queue | QoE | latency ms | energy J | accuracy |", "|---|---|---|---|---|"]
        mm = f13["methods"]["mappo"]
        for i, x in enumerate(f13["x"]):
            lines.append(f"| {x} | {_fmt(mm['qoe'][i])} | {_fmt(mm['latency_ms'][i], 3)} | {_fmt(mm['energy_j'][i])} | {_fmt(mm['accuracy'][i])} |")
    lines += [
        "",
        "## Where our numbers differ from the paper's, by how much, and why",
        "",
        *differences(results),
        "",
        "Causes common to every number:",
        "",
        "- The task profile's \"ours\" constants (extraction FLOPs, payload sizes, accuracy exponents, "
        "channel factor; SPEC section 5) are calibrated guesses, not the paper's unpublished values: absolute "
        "latency, energy and accuracy, and so the size of every gain, depend on them.",
        "- Training budgets are set for a CPU: width-64 networks and the budget above, not Table III's "
        "width 256 trained to convergence; under the quick budget the learned methods are far from converged.",
        "- The oracle shows how much any policy could still gain: a learned method's % of the oracle is its "
        "remaining headroom, independent of the profile's constants.",
        "",
        "Figures (next to results.json in the run's output folder): " + ", ".join(sorted(p.name for p in Path(path).parent.glob("*.png"))) + ".",
        "",
    ]
    write_text(Path(path), "\n".join(line for line in lines))


def put_section(path: str | Path, name: str, title: str, body: list[str]) -> None:
    """A machine-written section of a RESULTS.md: ``## title`` and ``body`` between
    ``<!-- name -->`` and ``<!-- /name -->`` markers, replaced where the markers are, else appended
    (so a later program, e.g. the retrain check or a comparison, adds to a report it did not write)."""
    path = Path(path)
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = path.read_text()
    section = "\n".join([begin, f"## {title}", "", *body, end]) + "\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_text(path, text)
