"""The paper's report, built from the engine's tables: ``results.json``, figures, CSVs, ``RESULTS.md``.

:func:`build_results` reads each spec's ``results.csv`` (one row per run x evaluation point x
task x metric) and the kept learning curves, and assembles the results dict (the schema of
``results.json``: ``methods``, ``table5``, ``figures``, ``headline``, ``run``). Every number
in it is a mean over seeds with a 95 % Student-t half-width (``ci95``) and, where a claim is
tested, the per-seed values (``seeds``). :func:`write_report` draws one PNG and writes one tidy
CSV per figure, ``results.json`` and ``RESULTS.md``, whose checks of the paper's claims are
statistical (:func:`checks`).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from semjax.config import versions
from semjax.evaluation import METRICS
from semjax.experiments import stats
from semjax.experiments.store import read_csv, write_csv, write_text
from semjax.experiments.sweep import LABEL, UNDER, Sweep, load_kept, read_table

LEARNED = ("mappo", "mappo_discrete", "mappo_unaware", "d3qn", "d3qn_unaware")
FIXED = ("local", "random", "raw_offload", "greedy", "oracle")
METHODS = LEARNED + FIXED
PREFERENCES = ("none", "delay", "energy", "accuracy")
TWINS = (("mappo", "mappo_unaware"), ("d3qn", "d3qn_unaware"))
FIGURE_METRICS = ("qoe", "reward", "latency_ms", "energy_j", "accuracy")
# Figs. 14-16: the weight pair each varies (its x is the first weight; the other is 1 - x).
WEIGHT_PAIRS = {"fig14": ("w_latency", "w_accuracy"), "fig15": ("w_energy", "w_accuracy"),
                "fig16": ("w_latency", "w_energy")}
WEIGHTS = ("w_latency", "w_energy", "w_accuracy")

# The paper's numbers (Sec. V), for RESULTS.md.
PAPER = {
    "gain_vs_mappo_unaware": 0.1268,
    "gain_vs_d3qn_unaware": 0.1448,
    "local_qoe": 0.5,
    "table5": {  # latency ms, energy J, accuracy %
        "none": (0.523, 0.0186, 51.37),
        "delay": (0.369, 0.0192, 43.08),
        "energy": (3.50, 0.0163, 56.85),
        "accuracy": (1.67, 0.0682, 71.99),
    },
}
# What the paper says each figure shows (Sec. V), next to what we measure.
PAPER_SHAPES = {
    "fig8": "QoE rises with bandwidth; semantic-aware MAPPO best at every bandwidth",
    "fig9": "QoE falls as noise grows; semantic-aware MAPPO stays nearly flat, unaware methods deteriorate",
    "fig10": "QoE falls as N grows; unaware methods converge to Local's 0.5",
    "fig11": "QoE falls as mu_min grows (retrained per value)",
    "fig17": "QoE saturates for very large or very small slopes",
}
# Figs. 14-16: how each plotted metric moves as the pair's first weight grows, in the paper's words.
PAPER_WEIGHT_SHAPES = {
    "fig14": (("latency_ms", "falls: more tasks go to the server, with a smaller mu"),
              ("accuracy", "falls: the server's tasks are compressed harder")),
    "fig15": (("energy_j", "falls: a larger accuracy weight keeps more tasks local, which costs energy"),
              ("accuracy", "falls: offloaded tasks lose accuracy to semantic extraction")),
    "fig16": (("latency_ms", "falls: more tasks go to the server, with a smaller mu"),
              ("energy_j", "rises: a more compact semantic representation costs more energy")),
}


# ----------------------------------------------------------------------------- reading the tables


def _canon(v: Any) -> str:
    """A table cell as the CSV holds it (None is an empty cell; lists are JSON)."""
    if v is None:
        return ""
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


class SpecTable:
    """One spec's ``results.csv``, indexed: per-seed values of (method, config, point, task, metric)."""

    def __init__(self, sweep: Sweep, folder: Path):
        self.sweep = sweep
        self.configs = sweep.configs()
        self.index: dict[tuple, dict[int, float]] = {}
        for row in read_table(folder / "results.csv"):
            point = tuple(sorted((k, v) for k, v in row.items() if k.startswith(f"{UNDER}.") and v != ""))
            key = (row["method"], row["config"], row.get(UNDER, ""), point, row["task"], row["metric"])
            self.index.setdefault(key, {})[row["seed"]] = row["value"]

    @staticmethod
    def point_key(point) -> tuple:
        return tuple(sorted((f"{UNDER}.{'label' if k == LABEL else k}", _canon(v))
                            for k, v in point.values.items() if v is not None))

    def values(self, method: str, metric: str, config: int = 0, point=None, task: str = "all") -> np.ndarray | None:
        """Per-seed values in seed order, or None when the table has no such run."""
        block, key = ("", ()) if point is None or not point.block else (point.block, self.point_key(point))
        found = self.index.get((method, config, block, key, task, metric))
        return None if found is None else np.asarray([found[s] for s in sorted(found)], np.float64)

    def has(self, method: str, config: int = 0, point=None) -> bool:
        return self.values(method, "qoe", config, point) is not None

    def block(self, name: str) -> list:
        return [p for p in self.sweep.points if p.block == name]

    def task_names(self) -> list[str]:
        return sorted({k[4] for k in self.index if k[4] != "all"}, key=lambda t: ("text", "image", "vqa").index(t)
                      if t in ("text", "image", "vqa") else 9)


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _summary_json(table: SpecTable, method: str, config: int = 0, point=None) -> dict[str, Any]:
    """Evaluation JSON (as ``semjax.evaluation.evaluate``) over seeds: means, ``ci95`` half-widths,
    per-task means and the per-seed values of every metric."""
    out: dict[str, Any] = {"ci95": {}, "seeds": {}}
    for m in METRICS:
        v = table.values(method, m, config, point)
        out[m] = _clean(stats.mean_ci(v)[0])
        out["ci95"][m] = _clean(stats.half_width(v))
        out["seeds"][m] = [_clean(x) for x in v]
    num_ues = int(table.configs[config][1].env.num_ues)
    out["reward_per_ue"] = None if out["reward"] is None else out["reward"] / num_ues
    out["per_task"] = {t: {m: _clean(stats.mean_ci(table.values(method, m, config, point, t))[0]) for m in METRICS}
                       for t in table.task_names()}
    out["episodes"] = int(table.configs[config][1].eval.episodes)
    return out


def _series(table: SpecTable, method: str, cells: list[tuple[int, Any]]) -> dict[str, list] | None:
    """Means (and QoE half-widths) of the figure metrics over (config, point) cells; None-padded
    where the method has no run (Fig. 10's oracle at large N)."""
    if not any(table.has(method, c, p) for c, p in cells):
        return None
    out = {m: [] for m in FIGURE_METRICS} | {"qoe_ci95": []}
    for c, p in cells:
        have = table.has(method, c, p)
        for m in FIGURE_METRICS:
            out[m].append(_clean(stats.mean_ci(table.values(method, m, c, p))[0]) if have else None)
        out["qoe_ci95"].append(_clean(stats.half_width(table.values(method, "qoe", c, p))) if have else None)
    return out


# ----------------------------------------------------------------------------- the results dict


def _git_commit(out: Path | None = None, root: Path | None = None) -> str | None:
    """The commit of the checkout that ran, with ``-dirty`` when tracked files differ from it
    (the run's own output folder ``out`` aside: rewriting a committed record is not a change
    to the code that wrote it), if any."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root).resolve()
    aside = []
    if out is not None and Path(out).resolve().is_relative_to(root):
        aside = [f":(exclude){Path(out).resolve().relative_to(root).as_posix()}"]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *aside], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def build_results(out: Path, sweeps: list[Sweep], budget: str, seconds: float) -> dict[str, Any]:
    """The results dict of a paper run whose specs ran into ``out`` (see the module doc)."""
    out = Path(out)
    tables = {s.name: SpecTable(s, out / s.name) for s in sweeps}
    results: dict[str, Any] = {"methods": {}, "table5": {}, "figures": {}, "headline": {}}
    main = tables["main"]
    default = main.block("default")[0]
    for name in main.sweep.methods:
        results["methods"][name] = _summary_json(main, name, point=default)
    _learning_curves(results, main, out / "policies")
    _evaluation_figures(results, main)
    results["figures"]["fig12"] = {n: {k: results["methods"][n][k] for k in ("latency_ms", "energy_j", "accuracy", "qoe")}
                                   for n in results["methods"]}
    if "preferences" in tables:
        _preferences(results, tables["preferences"])
    if "mu_min" in tables:
        _retrained(results, tables["mu_min"], "fig11", "mu_min", "params.mu_min")
    if "num_ues" in tables:
        _retrained(results, tables["num_ues"], "fig10", "num_ues", "env.num_ues")
    _headline(results)
    programs = []
    for s in sweeps:
        path = out / s.name / "programs.csv"
        programs += [{"spec": s.name} | r for r in read_csv(path)] if path.is_file() else []
    machines: dict[str, dict[str, Any]] = {}
    for p in programs:
        m = machines.setdefault(p["machine"], {"machine": p["machine"], "programs": 0, "seconds": 0.0})
        m["programs"] += 1
        m["seconds"] += float(p["compile_s"]) + float(p["run_s"])
    results["run"] = {
        "budget": budget,
        "seconds": seconds,  # this invocation; a resumed run loaded part of the work
        "program_seconds": sum(m["seconds"] for m in machines.values()),
        "programs": len(programs),
        "machines": list(machines.values()),
        "specs": {s.name: _spec_detail(s) for s in sweeps},
        "commit": _git_commit(out),
        "versions": versions(),
    }
    return results


def _spec_detail(sweep: Sweep) -> dict[str, Any]:
    b = sweep.base
    config = sweep.source.get("base_config")
    return {"base_config": Path(config).name if config else None, "gamma": float(b.train.gamma),
            "methods": list(sweep.methods), "seeds": list(sweep.seeds), "configs": len(sweep.configs()),
            "points": len(sweep.points), "mappo_updates": int(b.train.num_updates), "mappo_envs": int(b.train.num_envs),
            "d3qn_updates": int(b.d3qn.num_updates), "episodes": int(b.eval.episodes), "profile": str(b.env.profile)}


def _learning_curves(results: dict, main: SpecTable, store: Path) -> None:
    curves: dict[str, np.ndarray] = {}
    for run in main.sweep.runs():
        if run.method.learned and (store / f"{run.train_id}.msgpack").is_file():
            curves.setdefault(run.method.name, []).append(np.asarray(load_kept(store, run.train_id)["curve"]["reward"]))
    results["_curves"] = {k: np.stack(v) for k, v in curves.items()}  # (S, U); written as a CSV, not JSON
    results["figures"]["fig6_fig7"] = {
        name: {"final_reward": _clean(stats.mean_ci(c[:, -10:].mean(axis=1))[0])} for name, c in results["_curves"].items()}


def _evaluation_figures(results: dict, main: SpecTable) -> None:
    blocks = {"fig8": "params.bandwidth", "fig9": "params.noise_power", "fig13": "label",
              "fig17_slope_latency": "params.slope_latency", "fig17_slope_energy": "params.slope_energy",
              "fig17_slope_accuracy": "params.slope_accuracy"}
    for fig, key in blocks.items():
        points = main.block(fig)
        if not points:
            continue
        xs = [p.values[LABEL if key == "label" else key] for p in points]
        figure = {"param": "task_mix" if key == "label" else key.split(".", 1)[1],
                  "x": [x if isinstance(x, str) else float(x) for x in xs], "methods": {}}
        for name in main.sweep.methods:
            series = _series(main, name, [(0, p) for p in points])
            if series is not None:
                figure["methods"][name] = series
        results["figures"][fig] = figure


def _preferences(results: dict, table: SpecTable) -> None:
    labels = {values.get("label"): i for i, (values, _) in enumerate(table.configs)}
    for pref in PREFERENCES:
        if pref in labels and table.has("mappo", labels[pref]):
            results["table5"][pref] = _summary_json(table, "mappo", labels[pref])
    weights = {i: tuple(float(cfg.params[w]) for w in WEIGHTS) for i, (_, cfg) in enumerate(table.configs)}
    for fig, (first, second) in WEIGHT_PAIRS.items():
        third = next(w for w in WEIGHTS if w not in (first, second))
        cells = sorted((w[WEIGHTS.index(first)], i) for i, w in weights.items() if w[WEIGHTS.index(third)] == 0.0)
        if len(cells) < 2:
            continue
        results["figures"][fig] = {
            "weights": [list(weights[i]) for _, i in cells],
            "x": [x for x, _ in cells],
            "mappo": {m: [_clean(stats.mean_ci(table.values("mappo", m, i))[0]) for _, i in cells]
                      for m in ("qoe", "latency_ms", "energy_j", "accuracy")},
        }


def _retrained(results: dict, table: SpecTable, fig: str, param: str, key: str) -> None:
    xs = [float(v[key]) if "." in key and key.startswith("params") else int(v[key]) for v, _ in table.configs]
    figure = {"param": param, "x": xs, "methods": {}, "seeds": {}}
    for name in table.sweep.methods:
        series = _series(table, name, [(c, None) for c in range(len(xs))])
        if series is not None:
            figure["methods"][name] = {k: series[k] for k in ("qoe", "qoe_ci95", "reward")}
            figure["seeds"][name] = [None if v is None else [_clean(x) for x in v]
                                     for v in (table.values(name, "qoe", c) for c in range(len(xs)))]
    results["figures"][fig] = figure


def _headline(results: dict) -> None:
    m = results["methods"]
    o = m.get("oracle")
    for r in m.values():
        if o is not None:
            r["pct_of_oracle"] = {"qoe": 100.0 * r["qoe"] / o["qoe"],
                                  "reward": 100.0 * r["reward"] / o["reward"] if o["reward"] else None}
    for key, unaware in (("gain_vs_mappo_unaware", "mappo_unaware"), ("gain_vs_d3qn_unaware", "d3qn_unaware")):
        if "mappo" in m and unaware in m:
            results["headline"][key] = (m["mappo"]["qoe"] - m[unaware]["qoe"]) / m[unaware]["qoe"]


# ----------------------------------------------------------------------------- claims


PASS, FAIL, UNRESOLVED = "PASS", "FAIL", "not resolved at this budget"


def _verdict(outcomes: list[str], want: str) -> str:
    """PASS when every comparison is resolved in the claimed direction, FAIL when any is resolved
    against it, else not resolved."""
    if any(o not in (want, "unresolved") for o in outcomes):
        return FAIL
    return PASS if all(o == want for o in outcomes) else UNRESOLVED


def _p(a, b) -> str:
    return f"p = {stats.welch_p(a, b):.2g}"


def checks(results: dict[str, Any], alpha: float = stats.ALPHA) -> list[tuple[str, str, str]]:
    """The paper's claims, each (statement, PASS | FAIL | not resolved at this budget, evidence).

    An ordering claim passes only when Welch's t-test over seeds separates the two methods at
    ``alpha`` in the claimed direction; the oracle's bound is checked seed by seed (the same
    test worlds); Local's 0.5 exactly.
    """
    m = results["methods"]
    seeds = lambda name, k="qoe": np.asarray(m[name]["seeds"][k], float)  # noqa: E731
    out = []
    if "oracle" in m:
        o = seeds("oracle", "reward")
        above = [n for n in m if n != "oracle" and np.any(seeds(n, "reward") > o[: len(seeds(n, "reward"))] + 1e-5)]
        best = max((n for n in m if n != "oracle"), key=lambda n: m[n]["reward"])
        out.append(("the per-step oracle bounds every method (team reward per step, seed by seed)",
                    FAIL if above else PASS,
                    f"oracle {m['oracle']['reward']:.4f}; best other {best} {m[best]['reward']:.4f}"
                    + (f"; above it on some seed: {above}" if above else "")))
    learned = [n for n in LEARNED if n in m]
    if "mappo" in m and len(learned) > 1:
        others = [n for n in learned if n != "mappo"]
        outcomes = [stats.compare(seeds("mappo"), seeds(n), alpha) for n in others]
        out.append(("semantic-aware MAPPO is the best learned method (QoE)", _verdict(outcomes, "greater"),
                    "; ".join(f"mappo {m['mappo']['qoe']:.4f} vs {n} {m[n]['qoe']:.4f} ({_p(seeds('mappo'), seeds(n))})"
                              for n in others)))
    for aware, unaware in TWINS:
        if aware in m and unaware in m:
            outcome = stats.compare(seeds(aware), seeds(unaware), alpha)
            out.append((f"{unaware} is below its aware twin {aware} (QoE)", _verdict([outcome], "greater"),
                        f"{aware} {m[aware]['qoe']:.4f} vs {unaware} {m[unaware]['qoe']:.4f} "
                        f"({_p(seeds(aware), seeds(unaware))})"))
    if "local" in m:
        local = seeds("local")
        out.append(("Local is exactly 0.5", PASS if np.all(local == 0.5) else FAIL,
                    f"local QoE per seed {sorted(set(local.tolist()))}"))
    t5 = results.get("table5", {})
    if len(t5) == len(PREFERENCES):
        for pref, metric, want, words in (("delay", "latency_ms", "less", "the lowest latency"),
                                          ("energy", "energy_j", "less", "the lowest energy"),
                                          ("accuracy", "accuracy", "greater", "the highest accuracy")):
            mine = np.asarray(t5[pref]["seeds"][metric], float)
            others = [p for p in PREFERENCES if p != pref]
            outcomes = [stats.compare(mine, np.asarray(t5[p]["seeds"][metric], float), alpha) for p in others]
            out.append((f"Table V: {pref} preference has {words}", _verdict(outcomes, want),
                        "; ".join(f"{pref} {t5[pref][metric]:.4g} vs {p} {t5[p][metric]:.4g} "
                                  f"({_p(mine, t5[p]['seeds'][metric])})" for p in others)))
    return out


# ----------------------------------------------------------------------------- writing


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x)}")


def write_report(results: dict[str, Any], out: Path, sweeps: list[Sweep]) -> None:
    """Figures, CSVs, ``results.json`` and ``RESULTS.md`` of a paper run into ``out``."""
    from semjax.experiments import results_md

    out = Path(out)
    curves = results.pop("_curves", {})
    _write_curves(out, curves)
    _write_figure_csvs(out, results)
    _draw(out, results, curves)
    verdicts = checks(results)
    results["claims"] = [{"claim": c, "verdict": v, "evidence": e} for c, v, e in verdicts]
    write_text(out / "results.json", json.dumps(results, indent=2, default=_json_default))
    results_md.write(results, out / "RESULTS.md", verdicts)


def _write_curves(out: Path, curves: dict[str, np.ndarray]) -> None:
    rows = []
    for name, reward in curves.items():
        fig = "fig6" if name.startswith("mappo") else "fig7"
        for s in range(reward.shape[0]):
            rows += [{"figure": fig, "method": name, "update": u + 1, "seed": s, "reward": float(reward[s, u])}
                     for u in range(reward.shape[1])]
    write_csv(out / "fig6_fig7_learning_curves.csv", ["figure", "method", "update", "seed", "reward"], rows)


def _write_figure_csvs(out: Path, results: dict) -> None:
    """One tidy CSV of every evaluation-only figure, and one per retrained figure (means over seeds)."""
    rows = []
    for fig, f in results["figures"].items():
        if fig in ("fig8", "fig9", "fig13") or fig.startswith("fig17_"):
            for name, series in f["methods"].items():
                for i, x in enumerate(f["x"]):
                    rows.append({"figure": fig, "param": f["param"], "x": x, "method": name}
                                | {k: series[k][i] for k in FIGURE_METRICS} | {"qoe_ci95": series["qoe_ci95"][i]})
    write_csv(out / "evaluation_sweeps.csv", ["figure", "param", "x", "method", *FIGURE_METRICS, "qoe_ci95"], rows)
    for fig in ("fig10", "fig11"):
        f = results["figures"].get(fig)
        if not f:
            continue
        rows = []
        for name, per_x in f["seeds"].items():
            for x, values in zip(f["x"], per_x):
                for s, v in enumerate(values or []):
                    rows.append({"figure": fig, "param": f["param"], "x": x, "method": name, "seed": s, "qoe": v})
        write_csv(out / f"{fig}.csv", ["figure", "param", "x", "method", "seed", "qoe"], rows)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _line_figure(path: Path, title: str, xlabel: str, series: dict[str, tuple], ylabel: str = "QoE",
                 logx: bool = False) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, (x, mean, half) in series.items():
        keep = [i for i, v in enumerate(mean) if v is not None]
        x, mean = np.asarray(x, float)[keep], np.asarray(mean, float)[keep]
        half = np.asarray([0.0 if half[i] is None else half[i] for i in keep], float)
        ax.plot(x, mean, marker="o", ms=3, label=label)
        if np.any(half > 0):
            ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _draw(out: Path, results: dict, curves: dict[str, np.ndarray]) -> None:
    figs = results["figures"]
    for fig, title in (("fig6", "Fig. 6: MAPPO convergence"), ("fig7", "Fig. 7: D3QN convergence")):
        series = {}
        for name, reward in curves.items():
            if name.startswith("mappo") == (fig == "fig6"):
                stats_u = [stats.mean_ci(reward[:, u]) for u in range(reward.shape[1])]
                series[name] = (np.arange(1, reward.shape[1] + 1), [s[0] for s in stats_u], [s[0] - s[1] for s in stats_u])
        if series:
            _line_figure(out / f"{fig}_convergence.png", title, "update", series, ylabel="team reward per step")
    for fig, title, xlabel, scale in (("fig8", "Fig. 8: QoE vs sub-channel bandwidth", "bandwidth (MHz)", 1e-6),
                                      ("fig9", "Fig. 9: QoE vs noise power", "noise power (mW)", 1e3),
                                      ("fig10", "Fig. 10: QoE vs number of UEs (K = N, retrained)", "N", 1.0),
                                      ("fig11", "Fig. 11: QoE vs mu_min (retrained)", "mu_min", 1.0)):
        f = figs.get(fig)
        if f:
            x = np.asarray(f["x"], float) * scale
            _line_figure(out / f"{fig}.png", title, xlabel,
                         {n: (x, m["qoe"], m["qoe_ci95"]) for n, m in f["methods"].items()})
    if "fig13" in figs:
        _bar_figure(out, figs["fig13"], "Fig. 13: by task type (trained on the mix)")
    _fig12(out, results)
    _fig17(out, {k: v for k, v in figs.items() if k.startswith("fig17_")})
    if all(k in figs for k in WEIGHT_PAIRS):
        _weights_figure(out, figs)


def _bar_figure(out: Path, f: dict, title: str) -> None:
    plt = _plt()
    methods = [n for n in f["methods"] if n != "random"]
    metrics = ("qoe", "latency_ms", "energy_j", "accuracy")
    fig, axes = plt.subplots(1, len(metrics), figsize=(14, 3.6))
    width = 0.8 / len(methods)
    for ax, metric in zip(axes, metrics):
        for i, name in enumerate(methods):
            ax.bar(np.arange(len(f["x"])) + i * width, f["methods"][name][metric], width, label=name)
        ax.set_xticks(np.arange(len(f["x"])) + 0.4 - width / 2, f["x"], fontsize=7)
        ax.set_title(metric)
    axes[0].legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out / "fig13.png", dpi=120)
    plt.close(fig)


def _fig12(out: Path, results: dict) -> None:
    plt = _plt()
    m = results["methods"]
    methods = [n for n in m if n != "random"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, metric in zip(axes, ("latency_ms", "energy_j", "accuracy")):
        ax.bar(range(len(methods)), [m[n][metric] for n in methods], yerr=[m[n]["ci95"][metric] or 0.0 for n in methods])
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=7)
        ax.set_title(metric)
    fig.suptitle("Fig. 12: latency, energy and accuracy per method")
    fig.tight_layout()
    fig.savefig(out / "fig12.png", dpi=120)
    plt.close(fig)


def _fig17(out: Path, figs: dict) -> None:
    if not figs:
        return
    plt = _plt()
    fig, axes = plt.subplots(1, len(figs), figsize=(14, 3.8), squeeze=False)
    for ax, (key, f) in zip(axes[0], figs.items()):
        base = f["x"][len(f["x"]) // 2]
        for name, m in f["methods"].items():
            ax.errorbar(np.asarray(f["x"]) / base, m["qoe"], yerr=m["qoe_ci95"], marker="o", ms=3, label=name)
        ax.set_xscale("log")
        ax.set(xlabel=f"{key.removeprefix('fig17_')} / its middle value", ylabel="QoE")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Fig. 17: sensitivity to the slopes (evaluation only)")
    fig.tight_layout()
    fig.savefig(out / "fig17.png", dpi=120)
    plt.close(fig)


def _weights_figure(out: Path, figs: dict) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, (key, (first, second)) in zip(axes, WEIGHT_PAIRS.items()):
        f = figs[key]
        left, right = (m for m, _ in PAPER_WEIGHT_SHAPES[key])
        ax2 = ax.twinx()
        ax.plot(f["x"], f["mappo"][left], "o-", color="C0", label=left)
        ax2.plot(f["x"], f["mappo"][right], "s--", color="C1", label=right)
        ax.set_xlabel(f"{first} (= 1 - {second})")
        ax.set_ylabel(left, color="C0")
        ax2.set_ylabel(right, color="C1")
        ax.set_title({"fig14": "Fig. 14", "fig15": "Fig. 15", "fig16": "Fig. 16"}[key])
    fig.tight_layout()
    fig.savefig(out / "fig14_16.png", dpi=120)
    plt.close(fig)
