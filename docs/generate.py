"""Writes the generated tables of README.md and docs/*.md, or checks that they are current.

Every table of results, speed or parameters on those pages sits between two markers::

    <!-- table: NAME -->
    ...whatever this script last wrote...
    <!-- /table -->

and is rendered by the function registered under NAME in ``TABLES`` from the files it reads
(the JSON or CSV a run, profiler or benchmark wrote, or the code's own defaults)::

    python docs/generate.py           # rewrite every region in place
    python docs/generate.py --check   # exit 1, naming each stale region; change nothing
    python docs/generate.py --list    # every registered table, its sources and where it is used

``tests/test_docs.py`` runs the check, so a committed table that no longer equals what its
function renders from the committed files fails the tests: edit the JSON (or rerun the program
that writes it), then run this script; never edit a table by hand.

Adding a table
--------------
1. Write the renderer in ``semjax/tables.py`` (or next to the code that writes the data): a
   pure function from the loaded files to a Markdown string, e.g.
   ``def bench_env_table(results: dict) -> str`` built with ``semjax.tables.markdown_table``.
2. Register it in ``TABLES`` below::

       "bench_env": Table(tables.bench_env_table, ("benchmarks/results/env_throughput.json",)),

   ``sources`` are paths relative to the repository root. By default each is loaded by its
   extension (``.json``: ``json.load``; ``.csv``: a list of row dicts, values as strings) and
   passed to the renderer positionally, in order. A table whose inputs are not files (the
   code's defaults) gives ``load``: a function of the root returning the renderer's arguments;
   its ``sources`` then name the files it depends on, for the reader.
3. Put ``<!-- table: bench_env -->`` and ``<!-- /table -->`` on their own lines in the page
   and run ``python docs/generate.py``.

A region's name must be registered, regions do not nest, and every opened region is closed:
anything else is an error naming the file and line.

Values in prose
---------------
A number in a sentence is generated the same way, inline::

    the semantic-unaware oracle offloads <!-- value: calibration.unaware_offload_fitted -->30.3 %<!-- /value -->
    of tasks

``NAME`` is ``GROUP.KEY``: the function registered under ``GROUP`` in ``VALUES`` renders, from
its sources, a mapping of every ``KEY`` to its text. Sphinx and GitHub show the text alone (the
markers are HTML comments). A value opens and closes on one line, outside code blocks and
tables; an unknown group or key is an error naming the file and line.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import difflib
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from semjax import tables
from semjax.bench import tables as bench_tables

ROOT = Path(__file__).resolve().parents[1]

OPEN = re.compile(r"^<!--\s*table:\s*(?P<name>[A-Za-z0-9_.-]+)\s*-->\s*$")
VALUE = re.compile(r"(?P<open><!--\s*value:\s*(?P<name>[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)\s*-->)"
                   r"(?P<text>.*?)(?P<close><!--\s*/value\s*-->)")
VALUE_OPEN = re.compile(r"<!--\s*value:")
CLOSE = re.compile(r"^<!--\s*/table\s*-->\s*$")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


class GenerateError(ValueError):
    """Bad markup, an unknown table or a missing source: the pages cannot be generated."""


@dataclasses.dataclass(frozen=True)
class Table:
    """A registered table: its renderer, the files it reads, and (rarely) how to load them."""

    render: Callable[..., str]
    sources: tuple[str, ...]
    load: Callable[[Path], Sequence[Any]] | None = None

    def arguments(self, root: Path) -> Sequence[Any]:
        if self.load is not None:
            return self.load(root)
        return [_load_file(root, source) for source in self.sources]


def _load_file(root: Path, source: str) -> Any:
    path = root / source
    if not path.is_file():
        raise GenerateError(f"{source}: no such file (a source of a registered table)")
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(path.read_text())
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    raise GenerateError(f"{source}: cannot load a {path.suffix!r} file; give the table a `load` function")


# --------------------------------------------------------------------------------------
# Tables whose inputs are the code's own defaults
# --------------------------------------------------------------------------------------

# Where each default of EnvParams comes from (the model specification, section 4): Table IV
# of the paper where it prints a value, "ours" where it does not. The values themselves are
# read from the code; a field missing here stops the generator.
ENV_PARAM_SOURCES = {
    "bandwidth": "Table IV (Hz, per sub-channel)",
    "noise_power": "Table IV (W)",
    "path_loss_exponent": "ours",
    "ref_distance": "ours (m; the distance of unit large-scale gain)",
    "distance_min": "ours (m)",
    "distance_max": "ours (m)",
    "power_min": "Table IV (W)",
    "power_max": "Table IV (W)",
    "freq_min": "Table IV (Hz)",
    "freq_max": "Table IV (Hz)",
    "freq_ref": "ours (Hz), from Table V: its accuracy-preference row is all-local at this clock",
    "ue_cores": "Table IV (CUDA cores)",
    "server_cores": "Table IV (CUDA cores)",
    "server_freq": "Table IV (Hz)",
    "flops_per_cycle": "Sec. III-C (one fused multiply-add per core and cycle)",
    "kappa_ue": "Table IV",
    "kappa_server": "Table IV",
    "mu_min": "Table IV",
    "t_max": "Table IV (s)",
    "energy_budget_min": "ours (J; the paper's per-UE budget has no value)",
    "energy_budget_max": "ours (J)",
    "w_latency": "Sec. V-B (the three weights sum to 1)",
    "w_energy": "Sec. V-B",
    "w_accuracy": "Sec. V-B",
    "slope_latency": "Table IV (1/s)",
    "slope_energy": "Table IV (1/J)",
    "slope_accuracy": "Table IV (per unit of accuracy fraction)",
    "task_mix": "ours (the paper's \"hybrid tasks\"), one entry per task type",
}


def _env_parameters(root: Path) -> tuple[dict, dict]:
    import numpy as np

    from semjax.params import EnvParams

    params = EnvParams()
    defaults = {}
    for f in dataclasses.fields(EnvParams):
        if f.name in ("profile", "_validated"):
            continue
        value = np.asarray(getattr(params, f.name), dtype=np.float64)
        defaults[f.name] = value.tolist()
    return defaults, ENV_PARAM_SOURCES


def _sweep_schema(root: Path) -> tuple[dict]:
    from semjax.experiments.sweep import SWEEP_SCHEMA

    return (SWEEP_SCHEMA,)


def _worlds_table(comparison: dict) -> str:
    from semjax.experiments.compare import markdown

    return "\n".join(markdown(comparison))


def _model_constants(root: Path) -> tuple[list]:
    from semjax import physics
    from semjax.agents.d3qn import D3QNConfig
    from semjax.agents.mappo import MAPPOConfig

    return ([
        ("semjax.physics.RATE_FLOOR", physics.RATE_FLOOR,
         "bit/s: the rate is floored so that a fading of exactly 0 (possible in float32) keeps t_tx finite"),
        ("semjax.physics.SNR_FLOOR", physics.SNR_FLOOR,
         "the linear SNR is floored before log10, so snr_db stays finite for a zero gain"),
        ("semjax.physics.GAIN_FLOOR", physics.GAIN_FLOOR,
         "the gain is floored inside the observation's log10 only, never in the physics"),
        ("MAPPOConfig.reward_clip", MAPPOConfig().reward_clip,
         "MAPPO learns from each UE's reward floored at minus this (the latency penalty is unbounded); "
         "evaluation reports the raw reward"),
        ("D3QNConfig.reward_clip", D3QNConfig().reward_clip, "the same floor for D3QN's TD targets"),
    ],)


# --------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------

_MEASURED = "semjax/profiles/measured.json"
_PAPER_PROFILE = "semjax/profiles/paper.json"
_PAPER_FULL = "results/paper_full/results.json"
_PAPER_QUICK = "results/paper_quick/results.json"
_PAPER_WORLDS = "results/paper_quick_fitted/comparison.json"

TABLES: dict[str, Table] = {
    # the model (docs/model.md)
    "env_parameters": Table(tables.parameters_table, ("semjax/params.py",), load=_env_parameters),
    "paper_profile": Table(tables.profile_table, (_PAPER_PROFILE,)),
    "model_constants": Table(tables.constants_table,
                             ("semjax/physics.py", "semjax/agents/mappo.py", "semjax/agents/d3qn.py"),
                             load=_model_constants),
    # codec profiling (docs/codecs.md)
    "codec_profile": Table(tables.profile_comparison_table, (_MEASURED, _PAPER_PROFILE)),
    "codec_provenance": Table(tables.profile_provenance_table, (_MEASURED,)),
    "codec_accuracy": Table(tables.codec_accuracy_table, (_MEASURED,)),
    "codec_fit": Table(tables.codec_fit_table, (_MEASURED,)),
    "codec_paper_scale_flops": Table(tables.paper_scale_flops_table, (_MEASURED,)),
    # the full `semjax paper` run
    "paper_full_methods": Table(tables.paper_methods_table, (_PAPER_FULL,)),
    "paper_quick_methods": Table(tables.paper_methods_table, (_PAPER_QUICK,)),
    "paper_quick_claims": Table(tables.paper_claims_table, (_PAPER_QUICK,)),
    "paper_quick_time": Table(tables.paper_time_table, (_PAPER_QUICK,)),
    "learners_gamma": Table(lambda rows: tables.sweep_contrast_table(rows, "gamma_0", "gamma_0.99", "qoe")
                            + "\n\n" + tables.sweep_summary_table(rows, ("qoe", "reward", "train_reward_last")),
                            ("results/learners/gamma/summary.csv",)),
    "learners_budget": Table(lambda rows: tables.sweep_summary_table(rows, ("qoe", "reward", "collision_rate")),
                             ("results/learners/budget/summary.csv",)),
    "learners_main_job": Table(
        lambda *files: tables.train_runs_table({"`configs/strong.yaml`": files[0:2], "`configs/paper.yaml`": files[2:4]}),
        ("results/learners/main_job/strong/config.yaml", "results/learners/main_job/strong/eval.json",
         "results/learners/main_job/paper/config.yaml", "results/learners/main_job/paper/eval.json")),
    "learners_d3qn": Table(lambda rows: tables.sweep_summary_table(rows, ("qoe", "reward")),
                           ("results/learners/d3qn/summary.csv",)),
    "learners_settings": Table(lambda rows, programs: tables.sweep_summary_table(
        rows, ("qoe", "reward", "collision_rate"), programs, against=("base", "reward")),
        ("results/learners/settings/summary.csv", "results/learners/settings/programs.csv")),
    "learners_gap": Table(tables.oracle_gap_table, ("results/learners/budget/gap.json",)),
    "learners_width": Table(lambda rows, programs: tables.sweep_summary_table(
        rows, ("qoe", "reward", "collision_rate"), programs, against=("width_64", "reward")),
        ("results/learners/width/summary.csv", "results/learners/width/programs.csv")),
    "learners_coordination": Table(lambda rows, programs: tables.sweep_summary_table(
        rows, ("qoe", "reward", "collision_rate"), programs, against=("base", "reward")),
        ("results/learners/coordination/summary.csv", "results/learners/coordination/programs.csv")),
    "learners_strong": Table(lambda rows: tables.sweep_summary_table(rows, ("qoe", "reward", "collision_rate")),
                             ("results/learners/strong/summary.csv",)),
    "learners_gap_strong": Table(tables.oracle_gap_table, ("results/learners/strong/gap.json",)),
    "learners_num_ues": Table(lambda rows: tables.sweep_along_table(rows, "env.num_ues", ("reward", "qoe"),
                                                                   against=("mappo", "greedy")),
                              ("results/learners/num_ues/summary.csv",)),
    "measured_world": Table(lambda rows: tables.sweep_by_method_table(
        rows, "env.profile", ("qoe", "reward", "accuracy", "offload_rate", "mean_mu", "violation_accuracy")),
        ("results/measured_world/summary.csv",)),
    "measured_world_tasks": Table(lambda rows: tables.sweep_by_method_table(
        [r for r in rows if r["env.profile"] == "measured"], "env.profile",
        ("offload_rate", "mean_mu", "accuracy", "violation_accuracy"), tasks=("text", "image", "vqa"),
        x_column=False),
        ("results/measured_world/summary.csv",)),
    # the fitted profile's calibration report (docs/calibration.md)
    "calibration_targets": Table(tables.calibration_targets_table, ("semjax/profiles/fitted.report.json",)),
    "calibration_constants": Table(tables.calibration_constants_table, ("semjax/profiles/fitted.report.json",)),
    "sweep_schema": Table(tables.schema_table, ("semjax/experiments/sweep.py",), load=_sweep_schema),
    "calibration_bounds": Table(tables.calibration_bounds_table,
                                ("semjax/calibration/constants.py", "semjax/params.py", "semjax/profiles/paper.json"),
                                load=lambda root: _calibration_bounds(root)),  # defined below
    "paper_worlds": Table(_worlds_table, (_PAPER_WORLDS,)),
    "paper_full_machines": Table(tables.paper_machines_table, (_PAPER_FULL,)),
    "paper_full_stages": Table(tables.paper_stages_table, (_PAPER_FULL,)),
    "paper_full_training_programs": Table(tables.paper_training_programs_table, (_PAPER_FULL,)),
}


def _calibration_values(root: Path) -> tuple:
    from semjax.params import EnvParams

    params = EnvParams()
    profile = _load_file(root, _PAPER_PROFILE)
    model = {"freq_min": float(params.freq_min), "freq_ref": float(params.freq_ref),
             "acc_min": float(profile["fields"]["acc_min"]["values"][0])}
    return (_load_file(root, "semjax/profiles/fitted.report.json"),
            _load_file(root, "results/calibration/fitted_world.report.json"), model)


def _calibration_bounds(root: Path) -> tuple[list]:
    import numpy as np

    from semjax.calibration.constants import CATALOGUE
    from semjax.params import EnvParams

    params = EnvParams()

    def value(bound):
        x = np.asarray(bound(params), np.float64)
        return x.tolist() if x.ndim else float(x)

    return ([{"name": spec.name, "where": spec.where, "lo": value(spec.lo), "hi": value(spec.hi), "log": spec.log,
              "source": spec.source} for spec in CATALOGUE.values()],)


_PAPER_SPECS = {"main": "configs/paper/main.yaml", "quick_main": "configs/paper/quick/main.yaml",
                "quick_preferences": "configs/paper/quick/preferences.yaml"}

#: Value groups for numbers in prose: ``<!-- value: GROUP.KEY -->``; each renders a mapping of
#: KEY to text from its sources.
VALUES: dict[str, Table] = {
    "bench": Table(bench_tables.docs_values, ("benchmarks/results/env_throughput.json",)),
    "paper_full": Table(tables.paper_values, (_PAPER_FULL,)),
    "worlds": Table(tables.worlds_values, (_PAPER_WORLDS,)),
    "paper_specs": Table(lambda *specs: tables.paper_spec_values(*specs, names=tuple(_PAPER_SPECS)),
                         tuple(_PAPER_SPECS.values())),
    "learners": Table(tables.learners_values,
                      ("results/learners/gamma/sweep.yaml", "results/learners/gamma/summary.csv",
                       "results/learners/budget/sweep.yaml", "results/learners/d3qn/sweep.yaml", "configs/paper.yaml")),
    "learners_settings": Table(tables.learners_settings_values, ("results/learners/settings/sweep.yaml",)),
    "learners_strong": Table(tables.learners_strong_values,
                             ("results/learners/strong/sweep.yaml", "results/learners/strong/summary.csv",
                              "results/learners/strong/programs.csv")),
    "calibration": Table(tables.calibration_values,
                         ("semjax/profiles/fitted.report.json", "results/calibration/fitted_world.report.json",
                          _PAPER_PROFILE, "semjax/params.py"), load=_calibration_values),
}


# --------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------


# The benchmarks' tables, rendered by semjax.bench.tables from the JSON each benchmark writes.
TABLES.update({name: Table(render, (source,)) for name, (render, source) in bench_tables.DOCS_TABLES.items()})
TABLES["readme_speed"] = Table(bench_tables.readme_speed, ("benchmarks/results/env_throughput.json",
                                                           "benchmarks/results/train_throughput.json"))


@dataclasses.dataclass(frozen=True)
class Region:
    """One generated table in a page: lines ``start`` (the opening marker) to ``end`` (the
    closing one), 0-based, both included; or one inline value (``kind="value"``)."""

    path: Path
    name: str
    start: int
    end: int
    kind: str = "table"  # or "value": one inline value on line ``start`` (= ``end``)


def documents(root: Path) -> list[Path]:
    """The pages whose regions this script keeps: README.md and docs/*.md."""
    pages = [root / "README.md"] if (root / "README.md").is_file() else []
    return pages + sorted((root / "docs").glob("*.md"))


def outside_fences(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it lies outside fenced code blocks (fences themselves are inside),
    so that a page can show the markers in a code block without making a region."""
    flags, fence = [], None
    for line in lines:
        match = FENCE.match(line)
        if fence is None and match:
            fence = match[1]
            flags.append(False)
        elif fence is not None:
            if match and match[1][0] == fence[0] and len(match[1]) >= len(fence) and not line.strip()[len(match[1]):]:
                fence = None
            flags.append(False)
        else:
            flags.append(True)
    return flags


def find_regions(path: Path, lines: Sequence[str], known: Sequence[str]) -> list[Region]:
    """Every region of a page outside code blocks, in order; GenerateError on bad markup or an
    unknown name."""
    regions, open_at, open_name = [], None, None
    for i, (line, outside) in enumerate(zip(lines, outside_fences(lines))):
        if not outside:
            continue
        opened, closed = OPEN.match(line), CLOSE.match(line)
        if opened:
            if open_at is not None:
                raise GenerateError(f"{path}:{i + 1}: table {opened['name']!r} opens inside "
                                    f"table {open_name!r} (line {open_at + 1}); regions do not nest")
            if opened["name"] not in known:
                raise GenerateError(f"{path}:{i + 1}: unknown table {opened['name']!r}; "
                                    f"registered: {', '.join(sorted(known))}")
            open_at, open_name = i, opened["name"]
        elif closed:
            if open_at is None:
                raise GenerateError(f"{path}:{i + 1}: <!-- /table --> closes no table")
            regions.append(Region(path, open_name, open_at, i))
            open_at = open_name = None
    if open_at is not None:
        raise GenerateError(f"{path}:{open_at + 1}: table {open_name!r} is never closed with <!-- /table -->")
    return regions


def region_body(table: Table, root: Path) -> list[str]:
    """The lines between a region's markers: a note for editors, then the rendered table."""
    note = (f"<!-- generated by `python docs/generate.py` from {', '.join(table.sources)}: "
            f"edit those, not this table -->")
    rendered = table.render(*table.arguments(root)).strip("\n")
    return [note, "", *rendered.split("\n"), ""]


class _Values:
    """The registered value groups of ``values``, each rendered once, on first use."""

    def __init__(self, root: Path, values: dict[str, Table]):
        self.root, self.values, self.rendered = root, values, {}

    def text(self, path: Path, line: int, name: str) -> str:
        group, key = name.split(".", 1)
        if group not in self.values:
            raise GenerateError(f"{path}:{line + 1}: unknown value group {group!r} in {name!r}; "
                                f"registered: {', '.join(sorted(self.values))}")
        if group not in self.rendered:
            table = self.values[group]
            self.rendered[group] = dict(table.render(*table.arguments(self.root)))
        if key not in self.rendered[group]:
            raise GenerateError(f"{path}:{line + 1}: value group {group!r} has no {key!r}; "
                                f"it has: {', '.join(sorted(self.rendered[group]))}")
        return self.rendered[group][key]


def fill_values(path: Path, lines: Sequence[str], regions: Sequence[Region],
                values: _Values) -> tuple[list[str], list[tuple[Region, list[str]]]]:
    """The page's lines with every inline value outside code blocks and tables re-rendered, and
    each stale value with its committed and generated line."""
    inside = set()
    for region in regions:
        inside.update(range(region.start, region.end + 1))
    out, stale = [], []
    for i, (line, outside) in enumerate(zip(lines, outside_fences(lines))):
        if not outside or i in inside or not VALUE_OPEN.search(line):
            out.append(line)
            continue
        found = list(VALUE.finditer(line))
        if len(found) != len(VALUE_OPEN.findall(line)):
            raise GenerateError(f"{path}:{i + 1}: a value marker is not closed with <!-- /value --> "
                                f"on the same line")
        new = VALUE.sub(lambda m: m["open"] + values.text(path, i, m["name"]) + m["close"], line)
        for match in found:
            if values.text(path, i, match["name"]) != match["text"]:
                stale.append((Region(path, match["name"], i, i, kind="value"),
                              [f"-{match['text']}", f"+{values.text(path, i, match['name'])}"]))
        out.append(new)
    return out, stale


def process(root: Path, registry: dict[str, Table], *, write: bool,
            values: dict[str, Table] | None = None) -> list[tuple[Region, list[str]]]:
    """Renders every region and inline value of every page; rewrites the pages with stale ones
    when ``write``.

    Returns each stale region (or value) with a unified diff from its committed to its
    generated lines (empty when all are current). Each table or value group is rendered once
    however many pages use it. ``values`` defaults to :data:`VALUES`.
    """
    rendered: dict[str, list[str]] = {}
    stale = []
    inline = _Values(root, VALUES if values is None else values)
    for page in documents(root):
        lines = page.read_text().split("\n")
        regions = find_regions(page.relative_to(root), lines, list(registry))
        lines, stale_values = fill_values(page.relative_to(root), lines, regions, inline)
        stale += stale_values
        if not regions:
            if write and stale_values:
                page.write_text("\n".join(lines))
            continue
        out, cursor = [], 0
        for region in regions:
            if region.name not in rendered:
                rendered[region.name] = region_body(registry[region.name], root)
            body = rendered[region.name]
            current = lines[region.start + 1:region.end]
            if current != body:
                stale.append((region, list(difflib.unified_diff(
                    current, body, "committed", "generated", lineterm="", n=0))))
            out += lines[cursor:region.start + 1] + body
            cursor = region.end
        out += lines[cursor:]
        if write and (out != lines or stale_values):
            page.write_text("\n".join(out))
    return stale


def describe(region: Region, diff: Sequence[str], registry: dict[str, Table], max_lines: int = 24,
             values: dict[str, Table] | None = None) -> str:
    """``path:line: table NAME is stale (its sources: ...)`` (or ``value GROUP.KEY``, its group
    looked up in ``values``, default :data:`VALUES`) and the first lines of the diff."""
    shown = list(diff[:max_lines]) + ([f"... {len(diff) - max_lines} more lines"] if len(diff) > max_lines else [])
    if region.kind == "value":
        group = (VALUES if values is None else values).get(region.name.split(".", 1)[0])
        sources = ", ".join(group.sources) if group else "?"
        return (f"{region.path}:{region.start + 1}: value {region.name!r} is stale "
                f"(its sources: {sources})\n    " + "\n    ".join(shown))
    return (f"{region.path}:{region.start + 1}: table {region.name!r} is stale "
            f"(its sources: {', '.join(registry[region.name].sources)})\n    " + "\n    ".join(shown))


def usage(root: Path, registry: dict[str, Table]) -> dict[str, list[str]]:
    """For each registered table, the ``page:line`` places that use it."""
    used: dict[str, list[str]] = {name: [] for name in registry}
    for page in documents(root):
        for region in find_regions(page.relative_to(root), page.read_text().split("\n"), list(registry)):
            used[region.name].append(f"{region.path}:{region.start + 1}")
    return used


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale table or value")
    mode.add_argument("--list", action="store_true", help="list the registered tables, their sources and uses")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository root whose README.md and docs/*.md to process (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.list:
            for name, places in usage(root, TABLES).items():
                print(f"{name}: {', '.join(TABLES[name].sources)} -> {', '.join(places) or '(unused)'}")
            for group, table in VALUES.items():
                print(f"value group {group}: {', '.join(table.sources)}")
            return 0
        stale = process(root, TABLES, write=not args.check)
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for region, diff in stale:
            print(describe(region, diff, TABLES), file=sys.stderr)
        if stale:
            print(f"{len(stale)} stale table(s) or value(s): run python docs/generate.py", file=sys.stderr)
            return 1
        return 0
    for region, _ in stale:
        print(f"rewrote {region.path}:{region.start + 1}: {region.kind} {region.name!r}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
