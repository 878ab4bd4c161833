"""Learning curves of a sweep's kept trainings, against updates and against wall time.

A sweep keeps every training's per-update curve (``policies/``) and every program's run time
(``programs.csv``). Settings that cost more per update (wider networks, more envs) are fairly
compared only at equal wall time, so each curve is also drawn against seconds: a config's
training seconds (its programs' run time, shared evenly among the configs a program ran, as
in the sweep tables) spread evenly over its updates. The seeds of a config train together in
one program, so one update of every seed takes that long. Writes ``curves.csv`` (one row per
config and update: the mean over seeds) and ``curves.png`` (that mean, smoothed, against
updates and against seconds) in the folder. The default metric is the training QoE, bounded
in [0, 1]; the raw team reward's rare deep-fade penalties (~-1e5) swamp a mean over a few
seeds::

    python -m semjax.experiments.curves results/learners/coordination
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from semjax.experiments.gap import load_recorded
from semjax.experiments.store import read_csv, write_csv
from semjax.experiments.sweep import load_kept


def config_seconds(programs: list[dict[str, str]], method: str, config: int) -> float:
    """A config's training seconds: the run time of the training programs that ran it, each
    shared evenly among the configs it ran."""
    total = 0.0
    for p in programs:
        configs = p.get("configs", "").split()
        if p["kind"] == "train" and p["group"].split(" ")[0] == method and str(config) in configs:
            total += float(p["run_s"]) / len(configs)
    return total


def collect(folder: str | Path, metric: str = "qoe", store: str | Path | None = None) -> list[dict]:
    """One row per (config, seed, update) of every kept training of the sweep in ``folder``:
    its label (or config index), method, seed, update (1-based), seconds since the start of
    training, and ``metric``."""
    folder = Path(folder)
    sweep = load_recorded(folder)
    store = Path(store) if store else folder / "policies"
    programs = read_csv(folder / "programs.csv") if (folder / "programs.csv").is_file() else []
    rows = []
    for run in sweep.runs():
        path = store / f"{run.train_id}.msgpack"
        if not run.method.learned or not path.is_file():
            continue
        curve = np.asarray(load_kept(store, run.train_id)["curve"][metric], np.float64)
        per_update = config_seconds(programs, run.method.name, run.config_index) / len(curve)
        label = str(run.axes.get("label", run.config_index))
        rows += [{"label": label, "method": run.method.name, "config": run.config_index, "seed": run.seed,
                  "update": u + 1, "seconds": round((u + 1) * per_update, 3), metric: float(v)}
                 for u, v in enumerate(curve)]
    if not rows:
        raise ValueError(f"{str(folder)!r}: no kept training curves (policies/ is empty or missing)")
    return rows


def mean_over_seeds(rows: list[dict], metric: str) -> list[dict]:
    """The rows of :func:`collect` averaged over seeds: one per (method, config, update)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["config"], r["update"]), []).append(r)
    return [{"label": g[0]["label"], "method": method, "config": config, "seeds": len(g), "update": update,
             "seconds": g[0]["seconds"], metric: float(np.mean([r[metric] for r in g]))}
            for (method, config, update), g in groups.items()]


def plot(rows: list[dict], metric: str, path: Path, smooth: int = 10) -> None:
    """Mean over seeds (a trailing mean over ``smooth`` updates) against updates and seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_update, by_time) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for key in dict.fromkeys((r["method"], r["label"]) for r in rows):
        mine = [r for r in rows if (r["method"], r["label"]) == key]
        updates = sorted({r["update"] for r in mine})
        window = min(smooth, len(updates))
        values = np.array([[r[metric] for r in mine if r["seed"] == s] for s in sorted({r["seed"] for r in mine})])
        mean = np.convolve(values.mean(axis=0), np.ones(window) / window, mode="valid")
        seconds = np.array(sorted({r["seconds"] for r in mine}))[window - 1:]
        name = key[1] if len({r["method"] for r in rows}) == 1 else f"{key[0]} {key[1]}"
        line, = by_update.plot(updates[window - 1:], mean, label=name, lw=1.2)
        by_time.plot(seconds, mean, color=line.get_color(), lw=1.2)
    by_update.set_xlabel("update")
    by_time.set_xlabel("training seconds (this machine)")
    by_update.set_ylabel(f"training {metric} per step (mean over seeds)")
    for ax in (by_update, by_time):
        ax.grid(alpha=0.3)
    by_update.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semjax.experiments.curves", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a sweep's output folder with kept policies (e.g. results/learners/coordination)")
    parser.add_argument("--metric", default="qoe", help="a per-update training metric (default: qoe)")
    parser.add_argument("--store", help="the kept policies' folder (default FOLDER/policies)")
    args = parser.parse_args(argv)
    try:
        rows = collect(args.folder, args.metric, args.store)
    except (ValueError, KeyError) as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    folder = Path(args.folder)
    means = mean_over_seeds(rows, args.metric)
    write_csv(folder / "curves.csv", ["label", "method", "config", "seeds", "update", "seconds", args.metric], means)
    plot(rows, args.metric, folder / "curves.png")
    print(f"wrote {folder / 'curves.csv'} ({len(means)} rows) and {folder / 'curves.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
