"""``semjax paper``: the paper's experiments (SPEC section 9) as sweep specs, then the report.

The experiments are the sweep files of ``semjax/configs/paper/`` (the full budget; its
``quick/`` folder holds the quick one, each file extending its full twin), run in order on the
experiment engine (:mod:`semjax.experiments.sweep`):

* ``main``: every method at the default world (Figs. 6, 7, 12, the headline gains), each
  trained policy also tested under other bandwidths, noise powers, task mixes and slopes
  (Figs. 8, 9, 13, 17);
* ``preferences``: MAPPO retrained per QoE weight vector (Table V, Figs. 14-16);
* ``mu_min``: the semantic-aware learners retrained per mu_min (Fig. 11);
* ``num_ues``: every learner retrained per number of UEs (Fig. 10).

Each spec runs into ``DIR/NAME`` and all share one store of trained policies
(``DIR/policies``); a rerun of the same command resumes per run, exactly as ``semjax sweep``
does. Then :mod:`semjax.experiments.report` builds every figure, ``results.json`` and
``RESULTS.md`` from the engine's tables. Seed ``s`` is the same run here, in a sweep and in
``semjax train seed=s`` (:mod:`semjax.seeding`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax

from semjax.experiments.sweep import Sweep, load_sweep, run_sweep

SPECS = ("main", "preferences", "mu_min", "num_ues")
SPEC_DIR = Path(__file__).resolve().parents[1] / "configs" / "paper"
BUDGETS = {"full": SPEC_DIR, "quick": SPEC_DIR / "quick"}


def spec_folder(budget: str | Path) -> Path:
    """The folder of a budget's spec files: ``full``, ``quick``, or a folder of your own
    holding ``main.yaml``, ``preferences.yaml``, ``mu_min.yaml`` and ``num_ues.yaml``."""
    folder = BUDGETS.get(str(budget), Path(budget))
    missing = [f"{name}.yaml" for name in SPECS if not (folder / f"{name}.yaml").is_file()]
    if missing:
        raise ValueError(f"paper budget {str(budget)!r}: {str(folder)!r} lacks {missing} "
                         f"(use full, quick or a folder with every spec)")
    return folder


def load_specs(budget: str | Path = "full", config: str | Path | None = None, overrides: tuple[str, ...] = (),
               seeds: int | None = None) -> list[Sweep]:
    """The paper's sweeps in run order. ``config`` replaces their base config file;
    ``overrides`` (dotted config keys, e.g. ``env.profile=fitted``) apply to every spec's
    base; ``seeds`` replaces every spec's seed count."""
    folder = spec_folder(budget)
    extra = [f"base.{item}" if "=" in item else item for item in overrides]
    if config is not None:
        if not Path(config).is_file():
            raise ValueError(f"config file {str(config)!r} does not exist")
        extra.append(f"base_config={Path(config).resolve()}")
    if seeds is not None:
        if seeds < 1:
            raise ValueError(f"--seeds must be >= 1 (got {seeds})")
        extra.append(f"seeds={seeds}")
    return [load_sweep(folder / f"{name}.yaml", tuple(extra)) for name in SPECS]


def run_paper(out: str | Path, budget: str | Path = "full", config: str | Path | None = None,
              overrides: tuple[str, ...] = (), seeds: int | None = None, devices=None, progress: bool | None = None,
              stop_at: float | None = None) -> dict[str, Any]:
    """Runs every spec into ``out`` (resuming what is there), then writes the report; returns
    the results dict (``results.json``'s content)."""
    from semjax.experiments import report

    out = Path(out)
    sweeps = load_specs(budget, config, overrides, seeds)  # every spec is checked before anything runs
    start = time.perf_counter()
    for sweep in sweeps:
        run_sweep(sweep, out / sweep.name, store=out / "policies", devices=devices, progress=progress, stop_at=stop_at)
    label = str(budget) if str(budget) in BUDGETS else "custom"
    results = report.build_results(out, sweeps, label, time.perf_counter() - start)
    if jax.process_index() == 0:
        report.write_report(results, out, sweeps)
    return results
