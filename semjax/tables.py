"""Markdown tables rendered from what the runs, profilers and benchmarks wrote.

Every figure of a result or a speed that README.md or the documentation shows is rendered by a
function here from the JSON (or CSV) file the program wrote, never typed by hand:
``docs/generate.py`` writes each table between ``<!-- table: NAME -->`` and ``<!-- /table -->``
markers and its ``--check`` (run by the tests) fails when a committed table no longer equals
what these functions render from the committed files.

Each function is pure: a loaded JSON dict (or rows) in, a Markdown string out; no file access,
no clock, nothing global, so a CLI can print the same tables and a test can feed them a dict it
built by hand. Numbers are formatted here, once, so every page shows a quantity the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------

#: What a table shows for a value the source does not have (a ``null``, a missing key).
MISSING = "-"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured / MyST pipe table; cells are ``str()``-ed and ``|`` is escaped.

    Raises ValueError when a row's length differs from the header's: a misaligned table
    renders silently wrong in Markdown, so it is refused here.
    """
    if not header:
        raise ValueError("markdown_table: header must have at least one column")
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"markdown_table: row {i} has {len(row)} cells, the header has {len(header)}"
            )
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())  # a newline would end the table row
    return text.replace("|", "\\|")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fixed(x: Any, digits: int = 4) -> str:
    """``x`` with ``digits`` decimals; MISSING for None, NaN or a non-number."""
    return f"{x:.{digits}f}" if _is_number(x) else MISSING


def compact(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, in short scientific notation when large or
    small: ``3.72e9``, ``0.963``, ``1.54e5``, ``1e-26``.

    Integral values below 1e7 print in full (``2048``, ``65536``): a profile's exact payload
    size or core count should not read as a rounded one.
    """
    if not _is_number(x):
        return MISSING
    if float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def per_type(values: Sequence[Any], fmt=compact) -> str:
    """One value per task type, ``a / b / c`` in the profile's task order."""
    return " / ".join(fmt(v) for v in values)


# --------------------------------------------------------------------------------------
# Task profiles (semjax/profiles/*.json)
# --------------------------------------------------------------------------------------


def _source_kind(source: str) -> str:
    """The provenance word a profile field's ``source`` starts with: paper, ours, measured, fit."""
    return source.split(":", 1)[0].strip() if ":" in source else source.strip()


def profile_table(profile: Mapping[str, Any]) -> str:
    """Every field of a task profile JSON: symbol, unit, one column per task type, source.

    The source column keeps the file's own words, whose first word says whose value it is:
    ``paper`` (printed in the paper), ``ours`` (calibrated, where the paper gives none),
    ``measured`` or ``fit`` (from ``semjax profile``). The profile's own description follows
    the table.
    """
    types = list(profile["task_types"])
    rows = []
    for name, entry in profile["fields"].items():
        values = entry["values"] if isinstance(entry, Mapping) else entry
        meta = entry if isinstance(entry, Mapping) else {}
        rows.append([f"`{name}`", meta.get("symbol", MISSING), meta.get("unit", MISSING),
                     *(compact(v) for v in values), meta.get("source", MISSING)])
    table = markdown_table(["field", "symbol", "unit", *types, "source"], rows)
    description = profile.get("description")
    return table + (f"\n\n{description}" if description else "")


# Which fit of the measured profile's provenance produced each fitted field (its R^2 is shown).
_FIT_OF_FIELD = {
    "data_bits": "bits",
    "exp_data": "bits",
    "flops_extract": "extract",
    "exp_extract": "extract",
    "exp_accuracy": "accuracy",
    "snr_mid_db": "accuracy",
    "snr_width_db": "accuracy",
}


def profile_comparison_table(measured: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    """A measured profile beside a reference one (the paper's), field by field.

    ``measured`` is ``semjax profile``'s JSON; its ``provenance.fits[TASK][FIT].r2`` gives the
    fit quality of each fitted field. The last column says how each measured value was
    obtained: measured directly, fitted (with R^2 per task type), or a requirement.
    """
    types = list(measured["task_types"])
    if list(reference["task_types"]) != types:
        raise ValueError(
            f"profile_comparison_table: task types differ ({reference['task_types']} vs {types})"
        )
    fits = measured.get("provenance", {}).get("fits", {})
    rows = []
    for name, entry in measured["fields"].items():
        ref = reference["fields"].get(name, {})
        kind = _source_kind(entry.get("source", ""))
        how = kind or MISSING
        fit_key = _FIT_OF_FIELD.get(name)
        if kind == "fit" and fit_key and all(fit_key in fits.get(t, {}) for t in types):
            how = "fit, R² " + per_type([fits[t][fit_key].get("r2") for t in types],
                                        lambda x: fixed(x, 2))
        rows.append([f"`{name}`", entry.get("symbol", MISSING), entry.get("unit", MISSING),
                     per_type(ref.get("values", [None] * len(types))),
                     per_type(entry["values"]), how])
    task_order = " / ".join(types)
    return markdown_table(
        ["field", "symbol", "unit", f"paper profile ({task_order})",
         f"measured ({task_order})", "how the measured value was obtained"],
        rows,
    )


def codec_accuracy_table(measured: Mapping[str, Any]) -> str:
    """Test accuracy of the small trained codecs over a noiseless channel, per split point mu.

    From ``provenance.small_codecs[TASK].acc_clean`` with the mu grid of its ``splits``; also
    shows each split's device depth (layers) and bottleneck width per token.
    """
    codecs = measured["provenance"]["small_codecs"]
    types = list(measured["task_types"])
    splits = codecs[types[0]]["splits"]
    rows = []
    for i, split in enumerate(splits):
        rows.append([fixed(split["mu"], 2), split["depth"], split["width"],
                     *(fixed(codecs[t]["acc_clean"][i], 3) for t in types)])
    if all("acc_local" in codecs[t] for t in types):
        rows.append(["local", "all", "-", *(fixed(codecs[t]["acc_local"], 3) for t in types)])
    return markdown_table(["mu", "layers on the device", "bottleneck width",
                           *(f"{t} accuracy" for t in types)], rows)


def codec_fit_table(measured: Mapping[str, Any]) -> str:
    """The accuracy model's fitted constants per task with their 95 % intervals and R^2.

    From ``provenance.fits[TASK].accuracy`` (``exp_accuracy``, ``snr_mid_db``,
    ``snr_width_db``, each with ``*_ci``) and ``acc_local``.
    """
    fits = measured["provenance"]["fits"]

    def with_ci(fit, key, digits):
        lo, hi = fit.get(f"{key}_ci", (None, None))
        return f"{fixed(fit[key], digits)} [{fixed(lo, digits)}, {fixed(hi, digits)}]"

    rows = []
    for t in measured["task_types"]:
        a = fits[t]["accuracy"]
        rows.append([t, fixed(a["acc_local"], 3), with_ci(a, "exp_accuracy", 3), with_ci(a, "snr_mid_db", 1),
                     with_ci(a, "snr_width_db", 1), fixed(a["r2"], 3)])
    return markdown_table(["task", "eps^t (local)", "a [95 % interval]", "SNR midpoint, dB [95 %]",
                           "SNR width, dB [95 %]", "R²"], rows)


def paper_scale_flops_table(measured: Mapping[str, Any]) -> str:
    """XLA's FLOP count of each paper-size model variant the profiler compiled, in GFLOPs.

    From ``provenance.paper_scale.variants_full_flops`` (one forward pass at batch 1, a
    multiply-add = 2 FLOPs) and, per task, the variant the profile uses beside the paper's figure.
    """
    scale = measured["provenance"]["paper_scale"]
    variants = markdown_table(
        ["model variant", "GFLOPs"],
        [[f"`{name}`", fixed(flops / 1e9, 2)] for name, flops in scale["variants_full_flops"].items()],
    )
    rows = []
    for task in measured["task_types"]:
        cfg = scale[task]["config"]
        size = ", ".join(f"{k} {cfg[k]}" for k in ("image_size", "patch", "seq_len") if k in cfg)
        ours = scale[task]["full_flops"][-1]
        rows.append([task, size, fixed(ours / 1e9 if _is_number(ours) else None, 2),
                     fixed(scale.get("paper_gflops", {}).get(task), 2)])
    per_task = markdown_table(["task", "input of the profiled model", "GFLOPs (ours)", "GFLOPs (paper)"], rows)
    return per_task + "\n\n" + variants


def _steps_text(steps) -> str:
    """A profile's task-training steps: one number, or one per task ("text 1500, vqa 8000")."""
    if isinstance(steps, Mapping):
        return ", ".join(f"{task} {n}" for task, n in steps.items())
    return str(steps)


def profile_provenance_table(measured: Mapping[str, Any]) -> str:
    """How a measured profile was made: command, date, wall time, machine, versions, grids, budget."""
    p = measured["provenance"]
    v = p.get("versions", {})
    cfg = p.get("config", {})
    grids = p.get("grids", {})
    rows = [
        ["command", f"`{p.get('command', MISSING)}`"],
        ["date", p.get("date", MISSING)],
        ["wall time", f"{fixed(p.get('seconds'), 1)} s"],
        ["machine", p.get("machine", MISSING)],
        ["versions", ", ".join(f"{k} {v[k]}" for k in ("jax", "flax", "transformers", "scipy") if k in v)],
        ["mu grid", ", ".join(compact(x) for x in grids.get("mu", []))],
        ["SNR grid (dB)", ", ".join(compact(x) for x in grids.get("snr_db", []))],
        ["small codecs", f"{cfg.get('layers', MISSING)} layers, width {cfg.get('hidden', MISSING)}, "
                         f"{cfg.get('heads', MISSING)} heads"],
        ["training", f"{_steps_text(cfg.get('steps', MISSING))} steps of batch {cfg.get('batch', MISSING)}, "
                     f"lr {cfg.get('lr', MISSING)}"
                     + (f"; then {cfg['bottleneck_steps']} bottleneck steps" if cfg.get("extraction") == "distill" else "")],
        ["extraction", f"{cfg.get('extraction', 'end_to_end')}: {p.get('extraction', MISSING)}"],
        ["split rule", p.get("split_rule", MISSING)],
        ["channel", p.get("channel", MISSING)],
    ]
    return markdown_table(["", "value"], rows)


# --------------------------------------------------------------------------------------
# `semjax paper` results (results.json)
# --------------------------------------------------------------------------------------

#: How each method of ``semjax paper`` is named on a page; an unknown key shows as itself.
METHOD_LABELS = {
    "mappo": "semantic-aware MAPPO (hybrid)",
    "mappo_discrete": "semantic-aware MAPPO (discrete)",
    "mappo_unaware": "semantic-unaware MAPPO (mu = 1)",
    "d3qn": "semantic-aware D3QN",
    "d3qn_unaware": "semantic-unaware D3QN (mu = 1)",
    "local": "Local (freq_ref)",
    "random": "random",
    "raw_offload": "raw offload on its own sub-channel (mu = 1)",
    "greedy": "greedy per-UE grid search (full information)",
    "oracle": "per-step oracle",
}


def paper_methods_table(results: Mapping[str, Any]) -> str:
    """Every method at the default world: QoE (with its 95 % half-width over seeds), team reward
    per step, latency, energy, accuracy, and QoE and reward as a percentage of the oracle's.

    ``results`` is ``semjax paper``'s results.json; rows keep its method order. A caption line
    under the table states the budget, seeds and test episodes, read from the same file.
    """
    rows = []
    for name, r in results["methods"].items():
        pct = r.get("pct_of_oracle") or {}
        rows.append([
            METHOD_LABELS.get(name, name), fixed(r.get("qoe")), fixed((r.get("ci95") or {}).get("qoe")),
            fixed(r.get("reward"), 3), fixed(r.get("latency_ms"), 3), fixed(r.get("energy_j")),
            fixed(r.get("accuracy")), fixed(pct.get("qoe"), 1), fixed(pct.get("reward"), 1),
        ])
    table = markdown_table(
        ["method", "QoE", "±95 %", "team reward / step", "latency ms", "energy J", "accuracy",
         "QoE % of oracle", "reward % of oracle"],
        rows,
    )
    run = results.get("run", {})
    detail = run.get("budget_detail") or {}  # the first full run's schema
    main = (run.get("specs") or {}).get("main") or {}  # the engine's: one entry per spec
    seeds = detail.get("seeds", len(main.get("seeds", [])) or MISSING)
    episodes = detail.get("episodes", main.get("episodes", MISSING))
    caption = (f"Budget `{run.get('budget', MISSING)}`: {seeds} seeds, "
               f"{episodes} test episodes per seed, every method on the same worlds.")
    return table + "\n\n" + caption


def paper_claims_table(results: Mapping[str, Any]) -> str:
    """The claim checks of a ``semjax paper`` run (``results["claims"]``): each claim, its verdict
    (PASS, FAIL, or not resolved at this budget) and the evidence (means and Welch p-values)."""
    rows = [[c["claim"], c["verdict"], c["evidence"]] for c in results.get("claims", [])]
    return markdown_table(["claim", "verdict", "evidence"], rows)


def paper_time_table(results: Mapping[str, Any]) -> str:
    """What a ``semjax paper`` run cost: the specs' program time (compile and run, from each
    spec's ``programs.csv``) and the invocation's wall time, with the machine and devices."""
    run = results.get("run", {})
    versions = run.get("versions", {})
    rows = [[run.get("budget", MISSING), str(run.get("programs", MISSING)),
             f"{run['program_seconds'] / 60:.1f} min" if _is_number(run.get("program_seconds")) else MISSING,
             f"{run['seconds'] / 60:.1f} min" if _is_number(run.get("seconds")) else MISSING,
             versions.get("cpu", MISSING), versions.get("devices", MISSING)]]
    return markdown_table(["budget", "programs", "program time", "wall time of the invocation", "CPU", "devices"], rows)


def _summary_index(rows: Sequence[Mapping[str, str]], task: str = "all") -> dict:
    return {(r["method"], r.get("label") or r["config"], r["metric"]): r for r in rows if r["task"] == task}


def sweep_summary_table(rows: Sequence[Mapping[str, str]], metrics: Sequence[str] = ("qoe", "reward"),
                        programs: Sequence[Mapping[str, str]] | None = None,
                        against: tuple[str, str] | None = None) -> str:
    """A sweep's ``summary.csv`` as one row per method (and labelled config): each metric's mean
    with its 95 % half-width over seeds, and the number of seeds. With the sweep's
    ``programs.csv`` rows, also each config's training seconds (a program's run time shared
    evenly among the configs it ran), to compare settings at equal wall time. With ``against``
    (a label, a metric), Welch's p-value of each row's metric against that label's."""
    index = _summary_index(rows)
    keys = list(dict.fromkeys((m, c) for m, c, _ in index))
    labelled = any(any(ch.isalpha() for ch in str(c)) for _, c in keys)
    config_of = {(r["method"], r.get("label") or r["config"]): r["config"] for r in rows}
    out = []
    for method, config in keys:
        cells = [METHOD_LABELS.get(method, method)] + ([config] if labelled else [])
        for metric in metrics:
            r = index.get((method, config, metric))
            if r is None:
                cells.append(MISSING)
                continue
            mean, low = float(r["mean"]), float(r["ci95_low"])
            cells.append(f"{fixed(mean)} ± {fixed(mean - low)}")
        cells.append(next((index[(method, config, m)]["n"] for m in metrics if (method, config, m) in index), MISSING))
        if programs is not None:
            mine = [p for p in programs if p["kind"] == "train" and p["group"].split(" ")[0] == method
                    and config_of[(method, config)] in p.get("configs", "").split()]
            seconds = sum(float(p["run_s"]) / len(p["configs"].split()) for p in mine)
            cells.append(f"{seconds:.0f}" if mine else MISSING)
        if against is not None:
            base, r = index.get((method, against[0], against[1])), index.get((method, config, against[1]))
            cells.append(f"{_welch_from_summary(r, base):.2g}" if base and r and config != against[0] else MISSING)
        out.append(cells)
    header = (["method"] + (["setting"] if labelled else []) + [f"{m} (±95 %)" for m in metrics] + ["seeds"]
              + (["training s"] if programs is not None else [])
              + ([f"Welch p, {against[1]} vs {against[0]}"] if against is not None else []))
    return markdown_table(header, out)


def sweep_along_table(rows: Sequence[Mapping[str, str]], x: str, metrics: Sequence[str] = ("reward", "qoe"),
                      against: tuple[str, str] | None = None) -> str:
    """A sweep's ``summary.csv`` along one swept key ``x`` (e.g. ``env.num_ues``): one row per
    value of ``x``, each method's mean ± 95 % half-width of each metric, and with ``against``
    (two methods) Welch's p-value of the first metric, first method against the second."""
    cells = {(r[x], r["method"], r["metric"]): r for r in rows if r["task"] == "all" and r["metric"] in metrics}
    xs = sorted({k[0] for k in cells}, key=float)
    methods = list(dict.fromkeys(k[1] for k in cells))
    header = [x] + [f"{metric}, {METHOD_LABELS.get(m, m)}" for metric in metrics for m in methods]
    if against is not None:
        header.append(f"Welch p, {metrics[0]}: {against[0]} vs {against[1]}")
    out = []
    for value in xs:
        row = [value]
        for metric in metrics:
            for m in methods:
                r = cells.get((value, m, metric))
                row.append(MISSING if r is None else
                           f"{fixed(float(r['mean']))} ± {fixed(float(r['mean']) - float(r['ci95_low']))}")
        if against is not None:
            a, b = (cells.get((value, m, metrics[0])) for m in against)
            row.append(f"{_welch_from_summary(a, b):.2g}" if a and b else MISSING)
        out.append(row)
    return markdown_table(header, out)


def sweep_by_method_table(rows: Sequence[Mapping[str, str]], x: str, metrics: Sequence[str] = ("qoe", "reward"),
                          tasks: Sequence[str] = ("all",), x_column: bool = True) -> str:
    """A sweep's ``summary.csv`` as one row per (value of the swept key ``x``, method), in the
    sweep's order: each metric's mean ± 95 % half-width over seeds, and the seed count. With
    ``tasks`` other than ``("all",)``, one row per (value, method, task) of those task types,
    with a task column. ``x_column=False`` leaves out the column of ``x`` (for rows already
    filtered to one value of it)."""
    cells = {(r[x], r["method"], r["task"], r["metric"]): r for r in rows
             if r["task"] in tasks and r["metric"] in metrics}
    keys = [(v, m, t) for v, m in dict.fromkeys(k[:2] for k in cells) for t in tasks
            if any((v, m, t, metric) in cells for metric in metrics)]
    per_task = tuple(tasks) != ("all",)
    out = []
    for value, method, task in keys:
        row = ([value] if x_column else []) + [METHOD_LABELS.get(method, method)] + ([task] if per_task else [])
        for metric in metrics:
            r = cells.get((value, method, task, metric))
            row.append(MISSING if r is None else
                       f"{fixed(float(r['mean']))} ± {fixed(float(r['mean']) - float(r['ci95_low']))}")
        row.append(next((cells[(value, method, task, m)]["n"] for m in metrics if (value, method, task, m) in cells),
                        MISSING))
        out.append(row)
    header = ([x] if x_column else []) + ["method"] + (["task"] if per_task else []) + [
        f"{m} (±95 %)" for m in metrics] + ["seeds"]
    return markdown_table(header, out)


def _welch_from_summary(a: Mapping[str, str], b: Mapping[str, str]) -> float:
    """Welch's two-sided p-value of two summary rows (mean, 95 % interval low end, seed count)."""
    from scipy import stats as sps

    def moments(r):
        n, mean = int(r["n"]), float(r["mean"])
        sd = (mean - float(r["ci95_low"])) * math.sqrt(n) / float(sps.t.ppf(0.975, n - 1))
        return mean, sd, n

    (ma, sa, na), (mb, sb, nb) = moments(a), moments(b)
    return float(sps.ttest_ind_from_stats(ma, sa, na, mb, sb, nb, equal_var=False).pvalue)


def sweep_contrast_table(rows: Sequence[Mapping[str, str]], first: str, second: str, metric: str = "qoe") -> str:
    """Per method, a metric under two labelled settings of a sweep, their difference and Welch's
    two-sided p-value from the summary statistics (means, intervals and seed counts)."""
    index = _summary_index(rows)
    out = []
    for method in dict.fromkeys(m for m, _, _ in index):
        a, b = index.get((method, first, metric)), index.get((method, second, metric))
        if a is None or b is None:
            continue
        ma, mb = float(a["mean"]), float(b["mean"])
        out.append([METHOD_LABELS.get(method, method), fixed(ma), fixed(mb), f"{ma - mb:+.4f}",
                    f"{_welch_from_summary(a, b):.2g}"])
    return markdown_table(["method", f"{metric}, {first}", f"{metric}, {second}", "difference", "Welch p"], out)


def paper_machines_table(results: Mapping[str, Any]) -> str:
    """Which machine ran how many programs of a ``semjax paper`` run, and their program time.

    From ``run.machines`` of results.json (each program records the machine it ran on); the
    program time is the sum of the programs' own seconds, so with several processes at once it
    exceeds the wall time.
    """
    rows = []
    for entry in results.get("run", {}).get("machines", []):
        m = entry.get("machine", {})
        seconds = entry.get("seconds")
        rows.append([m.get("cpu", MISSING), m.get("platform", MISSING), entry.get("programs", MISSING),
                     fixed(seconds, 0), fixed(seconds / 3600 if _is_number(seconds) else None, 1)])
    return markdown_table(["CPU", "platform", "programs", "program time s", "program time h"], rows)


_PROGRAM_KINDS = ("train", "evaluate", "sweeps")


def _program_parts(label: str) -> tuple[str, str, str, str]:
    """``"fig11 train mappo settings 0-1 of 5"`` -> (stage, kind, method, rest); the default
    world's programs have no stage word (``"train mappo"``)."""
    words = label.split()
    at = next((i for i, w in enumerate(words) if w in _PROGRAM_KINDS), None)
    if at is None or at + 1 >= len(words):
        return " ".join(words[:1]) or label, "other", label, ""
    stage = " ".join(words[:at]) or "default world"
    return stage, words[at], words[at + 1], " ".join(words[at + 2:])


def paper_stages_table(results: Mapping[str, Any]) -> str:
    """Program time of a ``semjax paper`` run per stage (default world, weights, Figs. 10-11 ...):
    how many programs, and their seconds spent training and evaluating.

    From ``run.timings_s`` of results.json, the seconds each program took when it ran (also
    for programs a later invocation loaded from the cache), in the file's order of stages.
    """
    stages: dict[str, dict[str, float]] = {}
    for label, seconds in results.get("run", {}).get("timings_s", {}).items():
        stage, kind, _, _ = _program_parts(label)
        row = stages.setdefault(stage, {"programs": 0, "train": 0.0, "evaluate": 0.0})
        row["programs"] += 1
        row["train" if kind == "train" else "evaluate"] += seconds
    rows = [[stage, r["programs"], fixed(r["train"], 0), fixed(r["evaluate"], 0),
             fixed(r["train"] + r["evaluate"], 0)] for stage, r in stages.items()]
    total = {k: sum(r[k] for r in stages.values()) for k in ("programs", "train", "evaluate")}
    rows.append(["all", total["programs"], fixed(total["train"], 0), fixed(total["evaluate"], 0),
                 fixed(total["train"] + total["evaluate"], 0)])
    return markdown_table(["stage", "programs", "training s", "evaluation s", "total s"], rows)


def paper_training_programs_table(results: Mapping[str, Any]) -> str:
    """Every training program of a ``semjax paper`` run and its seconds (``run.timings_s``):
    stage, method, which settings of the stage it trained (a stage's settings are split into
    programs of a few runs each), seconds."""
    rows = []
    for label, seconds in results.get("run", {}).get("timings_s", {}).items():
        stage, kind, method, rest = _program_parts(label)
        if kind == "train":
            rows.append([stage, METHOD_LABELS.get(method, method), rest or "all", fixed(seconds, 0)])
    return markdown_table(["stage", "method", "settings", "seconds"], rows)


# --------------------------------------------------------------------------------------
# Parameters and constants of the code
# --------------------------------------------------------------------------------------


def parameters_table(defaults: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """Each parameter with its default and where the value comes from.

    ``defaults`` maps a field name to its default (a number, or a sequence for a per-task-type
    field); ``sources`` maps every such name to a short provenance note. A parameter without a
    note is a ValueError naming it, so a new field cannot reach the docs undocumented.
    """
    missing = [name for name in defaults if name not in sources]
    if missing:
        raise ValueError(f"parameters_table: no source note for {missing}")
    rows = []
    for name, value in defaults.items():
        shown = (per_type(value) if isinstance(value, Sequence) and not isinstance(value, str)
                 else compact(value))
        rows.append([f"`{name}`", shown, sources[name]])
    return markdown_table(["field", "default", "source"], rows)


def constants_table(constants: Sequence[tuple[str, Any, str]]) -> str:
    """Named constants of the code: ``(qualified name, value, why)`` rows."""
    return markdown_table(["constant", "value", "why"],
                          [[f"`{name}`", compact(value), why] for name, value, why in constants])


_TARGET_VALUE = {"latency_ms": lambda v: f"{v:.3f} ms", "energy_j": lambda v: f"{v:.4f} J",
                 "accuracy": lambda v: f"{100 * v:.2f} %", "qoe_gain": lambda v: f"{100 * v:.2f} %"}


def calibration_targets_table(report: Mapping[str, Any]) -> str:
    """Each target of a ``semjax calibrate`` report: the paper's value, the per-step oracle's
    under the base profile and under the fitted one, the fitted value's scaled error, and
    whether it is met within the report's tolerance."""
    rows = []
    for t in report["targets"]:
        fmt = _TARGET_VALUE.get(t["metric"], lambda v: f"{v:.4g}")
        rows.append([t["name"], fmt(t["paper"]), fmt(t["base"]), fmt(t["fitted"]), f"{100 * t['error']:+.1f} %",
                     "yes" if t["met"] else "no"])
    return markdown_table(["target", "paper", f"`{report.get('base_profile', 'base')}` profile", "fitted", "error",
                           "met"], rows)


def calibration_constants_table(report: Mapping[str, Any]) -> str:
    """Each fitted constant of a ``semjax calibrate`` report as a factor on (``x``) or a shift of
    (``+``, dB) the base profile's value, its bounds, and how far it can move within the
    tolerance as a fraction of its range, alone and with the others re-adjusting."""
    rows = []
    for c in report["constants"]:
        shift = c["kind"] == "shift"
        op, unit = ("+", " dB") if shift else ("x", "")
        rows.append([f"`{c['constant']}`", f"{op} {c['fitted']:.3g}{unit}", f"{op} [{c['lo']:.3g}, {c['hi']:.3g}]{unit}",
                     f"{c['reach_alone_range_fraction']:.2f}", f"{c['reach_range_fraction']:.2f}"])
    return markdown_table(["constant", "fitted", "bounds", "alone", "with the others"], rows)


# --------------------------------------------------------------------------------------
# Values in prose: GROUP.KEY -> text, for ``<!-- value: GROUP.KEY -->`` markers
# --------------------------------------------------------------------------------------


def percent(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``percent(0.1234) == "12.3 %"``."""
    return f"{100 * x:.{digits}f} %"


def duration(seconds: float) -> str:
    """Wall time as a reader says it: ``"4 min 46 s"``, ``"38 s"``, ``"1 h 02 min"``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _targets(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {t["name"]: t for t in report["targets"]}


def calibration_values(report: Mapping[str, Any], world_report: Mapping[str, Any],
                       model: Mapping[str, float]) -> dict[str, str]:
    """The numbers docs/calibration.md quotes in its prose, from the shipped fit's report, the
    report of the fit that also moves the world's constants, and the model's defaults
    (``freq_min``, ``freq_ref`` in Hz, ``acc_min`` as a fraction)."""
    targets, config = _targets(report), report["config"]
    worlds = report["worlds"]
    fmt = {name: _TARGET_VALUE[t["metric"]] for name, t in targets.items()}
    mappo_gain, d3qn_gain = targets["gain_vs_mappo_unaware"], targets["gain_vs_d3qn_unaware"]
    tol = report["tolerance"]
    eigen = sorted(report["identifiability"]["eigen"], key=lambda e: -e["eigenvalue"])
    pinned = [e["eigenvalue"] for e in eigen if e["pinned"]]
    free = [e["eigenvalue"] for e in eigen if not e["pinned"]]
    factor = {c["constant"]: c["fitted"] for c in report["constants"]}
    world_targets = _targets(world_report)
    values = {
        # the paper's printed numbers (the targets file)
        "paper_gain_mappo": fmt["gain_vs_mappo_unaware"](mappo_gain["paper"]),
        "paper_gain_d3qn": fmt["gain_vs_d3qn_unaware"](d3qn_gain["paper"]),
        "paper_gain_spread": f"{100 * abs(d3qn_gain['paper'] - mappo_gain['paper']):.1f}",
        "paper_delay_accuracy": fmt["table5_delay_accuracy"](targets["table5_delay_accuracy"]["paper"]),
        "paper_accuracy_latency": fmt["table5_accuracy_latency"](targets["table5_accuracy_latency"]["paper"]),
        "paper_accuracy_energy": fmt["table5_accuracy_energy"](targets["table5_accuracy_energy"]["paper"]),
        "target_count": str(len(targets)),
        "world": report["world"],
        "table5_count": str(sum(name.startswith("table5_") for name in targets)),
        # the model's defaults the prose reasons with
        "acc_min": percent(model["acc_min"], 0),
        "accuracy_penalty_slope": f"{1 / model['acc_min']:.3g}",
        "freq_min": f"{model['freq_min'] / 1e9:.3g} GHz",
        "freq_ref": f"{model['freq_ref'] / 1e9:.3g} GHz",
        # the fit's settings
        "restarts": str(config["restarts"]),
        "steps": str(config["steps"]),
        "batch": str(config["batch"]),
        "eval_batch": str(config["eval_batch"]),
        "lr": f"{config['lr']:g}",
        "temperature_start": f"{config['temperature_start']:g}",
        "temperature_end": f"{config['temperature_end']:g}",
        "anneal_fraction": percent(config["anneal_fraction"], 0),
        "correct_every": str(config["correct_every"]),
        "start_radius": f"{config['start_radius']:g}",
        "tolerance": percent(tol, 0),
        # what it found
        "wall": duration(report["wall_s"]),
        "loss_base": f"{report['loss']['base_exact']:.3f}",
        "loss_fitted": f"{report['loss']['fitted_exact']:.3f}",
        "loss_fit_batch": f"{report['loss_exact_oracle_fit_batch']:.3f}",
        "rms_base": percent(math.sqrt(report["loss"]["base_exact"]), 0),
        "rms_fitted": percent(math.sqrt(report["loss"]["fitted_exact"]), 0),
        "met": str(report["met"]),
        "gain_base": percent(mappo_gain["base"], 2),
        "gain_fitted": percent(mappo_gain["fitted"], 2),
        "gain_both_low": percent(d3qn_gain["paper"] * (1 - tol), 2),
        "gain_both_high": percent(mappo_gain["paper"] * (1 + tol), 2),
        "payload_factor": f"{factor['data_bits']:.2g}",
        "delay_accuracy_fitted": fmt["table5_delay_accuracy"](targets["table5_delay_accuracy"]["fitted"]),
        "none_energy_error": f"{100 * targets['table5_none_energy']['error']:+.1f} %",
        "energy_energy_error": f"{100 * targets['table5_energy_energy']['error']:+.1f} %",
        "accuracy_offload_fitted": percent(worlds["fitted_exact"]["accuracy"]["offload_rate"]),
        "eigen_count": str(len(eigen)),
        "pinned_count": str(len(pinned)),
        "free_count": str(len(free)),
        "pinned_eigenvalues": ", ".join(f"{v:.2g}" for v in pinned),
        "free_eigenvalue_max": f"{max(free):.2g}" if free else MISSING,
        "free_eigenvalue_min": f"{min(free):.2g}" if free else MISSING,
        # the fit that also moves the world's constants
        "world_wall": duration(world_report["wall_s"]),
        "world_met": str(world_report["met"]),
        "world_loss_fitted": f"{world_report['loss']['fitted_exact']:.3f}",
        "world_loss_fit_batch": f"{world_report['loss_exact_oracle_fit_batch']:.3f}",
        "world_energy_latency_error": f"{100 * world_targets['table5_energy_latency']['error']:+.1f} %",
        "world_none_latency_error": f"{100 * world_targets['table5_none_latency']['error']:+.1f} %",
    }
    for world, label in (("base_exact", "base"), ("fitted_exact", "fitted")):
        for setting in ("none", "unaware"):
            w = worlds[world][setting]
            values[f"{setting}_offload_{label}"] = percent(w["offload_rate"])
            values[f"{setting}_qoe_{label}"] = f"{w['qoe']:.3f}"
            values[f"{setting}_mu_{label}"] = f"{w['mean_mu']:.2f}"
    return values


def calibration_bounds_table(constants: Sequence[Mapping[str, Any]]) -> str:
    """The fittable constants of ``semjax.calibration.constants.CATALOGUE``, evaluated at the
    default world: each one's place (a profile field or a world constant), its bounds (one value
    per task type, ``text / image / vqa``, for a profile field whose bound follows the profile),
    its coordinates, and why. ``constants``: one dict per constant with ``name``, ``where``,
    ``lo``, ``hi`` (a number or a list per task type), ``log`` and ``source``."""
    def bound(x):
        return per_type(x) if isinstance(x, (list, tuple)) else compact(x)

    rows = [[f"`{c['name']}`", c["where"], bound(c["lo"]), bound(c["hi"]), "log" if c["log"] else "linear",
             c["source"]] for c in constants]
    return markdown_table(["constant", "in", "lower", "upper", "coordinate", "why"], rows)


def learners_values(gamma: Mapping[str, Any], gamma_summary: Sequence[Mapping[str, str]],
                    budget: Mapping[str, Any], d3qn: Mapping[str, Any], paper: Mapping[str, Any]) -> dict[str, str]:
    """The budgets docs/learners.md quotes, from the studies' resolved sweep files (the
    ``sweep.yaml`` each wrote beside its results), the gamma study's summary (its seed count) and
    ``configs/paper.yaml``."""
    def steps(train):
        return train["num_updates"] * train["num_envs"] * train["rollout_len"]

    paper_train = paper["train"]
    return {
        "seeds": str(max(int(row["n"]) for row in gamma_summary)),
        "gamma_mappo_updates": str(gamma["base"]["train"]["num_updates"]),
        "gamma_mappo_envs": str(gamma["base"]["train"]["num_envs"]),
        "gamma_d3qn_updates": str(gamma["base"]["d3qn"]["num_updates"]),
        "gamma_d3qn_envs": str(gamma["base"]["d3qn"]["num_envs"]),
        "paper_gamma": f"{paper_train['gamma']:g}",
        "budget_mappo_updates": str(budget["base"]["train"]["num_updates"]),
        "budget_mappo_envs": str(budget["base"]["train"]["num_envs"]),
        "budget_fraction_of_paper": percent(steps(budget["base"]["train"]) / steps(paper_train), 0),
        "paper_mappo_updates": str(paper_train["num_updates"]),
        "paper_mappo_envs": str(paper_train["num_envs"]),
        "d3qn_updates": str(d3qn["base"]["d3qn"]["num_updates"]),
        "d3qn_envs": str(d3qn["base"]["d3qn"]["num_envs"]),
    }


def learners_settings_values(sweep: Mapping[str, Any]) -> dict[str, str]:
    """The budget of the one-setting-at-a-time study, from the ``sweep.yaml`` it wrote."""
    base = sweep["base"]
    return {"updates": str(base["train"]["num_updates"]), "envs": str(base["train"]["num_envs"]),
            "episodes": str(base["eval"]["episodes"])}


def learners_strong_values(sweep: Mapping[str, Any], summary: Sequence[Mapping[str, str]],
                           programs: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The strong config's check against greedy and the oracle, from a sweep of ``mappo``,
    ``greedy`` and ``oracle`` (its ``summary.csv``; every method tested on the same episodes):
    each method's team reward and QoE (means over seeds), MAPPO's team reward as a share of the
    oracle's, the seeds, the budget, and MAPPO's training program seconds."""
    index = _summary_index(summary)
    mean = {(m, metric): float(r["mean"]) for (m, _, metric), r in index.items() if metric in ("reward", "qoe")}
    train = [p for p in programs if p["kind"] == "train" and p["group"].split(" ")[0] == "mappo"]
    out = {f"{m}_{metric}": fixed(mean[(m, metric)]) for m in ("mappo", "greedy", "oracle") for metric in ("reward", "qoe")}
    return out | {
        "share_of_oracle": percent(mean[("mappo", "reward")] / mean[("oracle", "reward")]),
        "seeds": next(r["n"] for (m, _, metric), r in index.items() if m == "mappo" and metric == "reward"),
        "episodes": str(sweep["base"]["eval"]["episodes"]),
        "updates": str(sweep["base"]["train"]["num_updates"]), "envs": str(sweep["base"]["train"]["num_envs"]),
        "train_s": f"{sum(float(p['run_s']) for p in train):.0f}",
    }


def paper_values(results: Mapping[str, Any]) -> dict[str, str]:
    """What the pages quote of a ``semjax paper`` run: its seeds and test episodes
    (``results.json``'s ``run.budget_detail``), its budget and its headline gains."""
    detail = results["run"]["budget_detail"]
    headline = results.get("headline", {})
    return {"seeds": str(detail["seeds"]), "episodes": str(detail["episodes"]), "budget": results["run"]["budget"],
            "gain_mappo_unaware": percent(headline["gain_vs_mappo_unaware"], 2),
            "gain_d3qn_unaware": percent(headline["gain_vs_d3qn_unaware"], 2)}


def paper_spec_values(*specs: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """``NAME_seeds`` for each ``semjax paper`` spec file (as written, before ``extends``), for
    docs/paper.md's prose; ``names`` labels ``specs`` in order (e.g. ``quick_preferences``)."""
    return {f"{name}_seeds": str(spec["seeds"]) for name, spec in zip(names, specs, strict=True)}


def schema_table(schema: Mapping[str, tuple[str, str]]) -> str:
    """A file format's keys: ``key -> (what it says, default)``, e.g.
    ``semjax.experiments.sweep.SWEEP_SCHEMA``."""
    return markdown_table(["key", "what it says", "default"],
                          [[f"`{key}`", what, default] for key, (what, default) in schema.items()])


def worlds_values(comparison: Mapping[str, Any]) -> dict[str, str]:
    """The numbers the docs quote from a comparison of two paper runs in two worlds
    (``python -m semjax.experiments.compare``): each world's trained aware-over-unaware MAPPO
    and D3QN gains, the paper's, and how many claims pass in each."""
    mappo, d3qn = comparison["headline"]["gain_vs_mappo_unaware"], comparison["headline"]["gain_vs_d3qn_unaware"]
    verdicts = list(comparison["claims"].values())
    first, second = comparison["worlds"]
    return {
        "first": first, "second": second, "budget": comparison["budgets"][1],
        "gain_first": percent(mappo[0], 2), "gain_second": percent(mappo[1], 2), "gain_paper": percent(mappo[2], 2),
        "d3qn_gain_first": percent(d3qn[0], 2), "d3qn_gain_second": percent(d3qn[1], 2),
        "d3qn_gain_paper": percent(d3qn[2], 2),
        "claims": str(len(verdicts)),
        "pass_first": str(sum(v[0] == "PASS" for v in verdicts)),
        "pass_second": str(sum(v[1] == "PASS" for v in verdicts)),
    }


def train_runs_table(runs: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]]) -> str:
    """``semjax train`` runs side by side: for each label, its resolved ``config.yaml`` and its
    ``eval.json``: the discount, the sub-channel access (a config written before the option
    existed had the paper's, independent), the budget, the training seconds, and the test QoE
    and team reward per step."""
    rows = []
    for label, (config, result) in runs.items():
        train = config["train"]
        rows.append([label, f"{train['gamma']:g}", train.get("channel_access", "independent"), str(train["num_updates"]),
                     str(train["num_envs"]), str(config.get("seed", 0)), f"{result['train']['seconds']:.0f}",
                     fixed(result["qoe"]), fixed(result["reward"], 3), str(result["episodes"])])
    return markdown_table(["config", "gamma", "sub-channels", "updates", "envs", "seed", "training s", "QoE",
                           "team reward / step", "test episodes"], rows)


def oracle_gap_table(result: Mapping[str, Any]) -> str:
    """``gap.json`` of :mod:`semjax.experiments.gap`: per learned method, the team reward of the
    policy, of its sub-channels with the oracle's continuous choices, and of the oracle, and the
    gap split between the two (means over seeds with 95 % half-widths)."""
    out = []
    for label, s in result["summary"].items():
        v, g = s["variants"], s["reward_gap"]
        method = label.split(" ")[0]
        cell = lambda mci: f"{fixed(mci[0], 3)} ± {fixed(mci[0] - mci[1], 3)}"  # noqa: E731
        share = lambda k: f"{100 * g[k][0] / g['total'][0]:.0f} %" if g["total"][0] else MISSING  # noqa: E731
        out.append([METHOD_LABELS.get(method, method) + label[len(method):], cell(v["policy"]["reward"]),
                    cell(v["policy_channels"]["reward"]), cell(v["oracle_channels"]["reward"]),
                    cell(v["oracle"]["reward"]), fixed(v["policy"]["collision_rate"][0], 3),
                    f"{cell(g['continuous'])} ({share('continuous')})", f"{cell(g['channels'])} ({share('channels')})",
                    s["seeds"]])
    header = ["method", "policy", "its sub-channels, best rest", "oracle's sub-channels, its rest", "oracle",
              "policy's collision rate", "gap: continuous part", "gap: sub-channels", "seeds"]
    return markdown_table(header, out)
