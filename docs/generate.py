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

ROOT = Path(__file__).resolve().parents[1]

OPEN = re.compile(r"^<!--\s*table:\s*(?P<name>[A-Za-z0-9_.-]+)\s*-->\s*$")
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
    "learners_d3qn": Table(lambda rows: tables.sweep_summary_table(rows, ("qoe", "reward")),
                           ("results/learners/d3qn/summary.csv",)),
    # the fitted profile's calibration report (docs/calibration.md)
    "calibration_targets": Table(tables.calibration_targets_table, ("semjax/profiles/fitted.report.json",)),
    "calibration_constants": Table(tables.calibration_constants_table, ("semjax/profiles/fitted.report.json",)),
    "paper_full_machines": Table(tables.paper_machines_table, (_PAPER_FULL,)),
    "paper_full_stages": Table(tables.paper_stages_table, (_PAPER_FULL,)),
    "paper_full_training_programs": Table(tables.paper_training_programs_table, (_PAPER_FULL,)),
}


# --------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------


# The benchmarks' tables, rendered by semjax.bench.tables from the JSON each benchmark writes.
from semjax.bench import tables as bench_tables  # noqa: E402

TABLES.update({name: Table(render, (source,)) for name, (render, source) in bench_tables.DOCS_TABLES.items()})
TABLES["readme_speed"] = Table(bench_tables.readme_speed, ("benchmarks/results/env_throughput.json",
                                                           "benchmarks/results/train_throughput.json"))


@dataclasses.dataclass(frozen=True)
class Region:
    """One generated table in a page: lines ``start`` (the opening marker) to ``end`` (the
    closing one), 0-based, both included."""

    path: Path
    name: str
    start: int
    end: int


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


def process(root: Path, registry: dict[str, Table], *, write: bool) -> list[tuple[Region, list[str]]]:
    """Renders every region of every page; rewrites the pages with stale regions when ``write``.

    Returns each stale region with a unified diff from its committed to its generated lines
    (empty when every region is current). Each table is rendered once however many pages use it.
    """
    rendered: dict[str, list[str]] = {}
    stale = []
    for page in documents(root):
        lines = page.read_text().split("\n")
        regions = find_regions(page.relative_to(root), lines, list(registry))
        if not regions:
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
        if write and out != lines:
            page.write_text("\n".join(out))
    return stale


def describe(region: Region, diff: Sequence[str], registry: dict[str, Table], max_lines: int = 24) -> str:
    """``path:line: table NAME is stale (its sources: ...)`` and the first lines of the diff."""
    shown = list(diff[:max_lines]) + ([f"... {len(diff) - max_lines} more lines"] if len(diff) > max_lines else [])
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
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale table")
    mode.add_argument("--list", action="store_true", help="list the registered tables, their sources and uses")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository root whose README.md and docs/*.md to process (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.list:
            for name, places in usage(root, TABLES).items():
                print(f"{name}: {', '.join(TABLES[name].sources)} -> {', '.join(places) or '(unused)'}")
            return 0
        stale = process(root, TABLES, write=not args.check)
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for region, diff in stale:
            print(describe(region, diff, TABLES), file=sys.stderr)
        if stale:
            print(f"{len(stale)} stale table(s): run python docs/generate.py", file=sys.stderr)
            return 1
        return 0
    for region, _ in stale:
        print(f"rewrote {region.path}:{region.start + 1}: table {region.name!r}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
