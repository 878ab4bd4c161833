"""Learning curves of a sweep against updates and wall time, as a user calls the command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from semjax.experiments import curves
from semjax.experiments.store import read_csv
from semjax.experiments.sweep import load_kept, load_sweep, run_sweep

SWEEP = """
name: tiny_curves
method: mappo
base:
  env: {num_ues: 2, num_channels: 2, queue_len: 4}
  train: {num_updates: 3, num_envs: 4, num_minibatches: 2, hidden: 8, rollout_len: 4, update_epochs: 1}
  eval: {episodes: 2}
zip:
  _label: [small, wide]
  train.hidden: [8, 16]
seeds: 2
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("curves")
    (tmp / "sweep.yaml").write_text(textwrap.dedent(SWEEP))
    run_sweep(load_sweep(tmp / "sweep.yaml"), tmp / "out", progress=False)
    return tmp / "out"


def test_config_seconds_share_each_program_among_its_configs():
    programs = [{"group": "mappo N=4", "kind": "train", "configs": "0 1", "run_s": "10"},
                {"group": "mappo N=4", "kind": "train", "configs": "1", "run_s": "4"},
                {"group": "mappo N=4", "kind": "evaluate", "configs": "1", "run_s": "100"},
                {"group": "d3qn N=4", "kind": "train", "configs": "1", "run_s": "100"}]
    assert curves.config_seconds(programs, "mappo", 0) == 5.0
    assert curves.config_seconds(programs, "mappo", 1) == 9.0
    assert curves.config_seconds(programs, "mappo", 2) == 0.0


def test_the_command_writes_means_over_seeds_against_updates_and_seconds(swept):
    proc = subprocess.run([sys.executable, "-m", "semjax.experiments.curves", str(swept)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(swept / "curves.csv")
    assert (swept / "curves.png").stat().st_size > 0
    assert [(r["label"], r["update"]) for r in rows] == [(label, str(u)) for label in ("small", "wide") for u in (1, 2, 3)]
    programs = read_csv(swept / "programs.csv")
    sweep = curves.load_recorded(swept)
    for config, label in enumerate(("small", "wide")):
        kept = [np.asarray(load_kept(swept / "policies", run.train_id)["curve"]["qoe"])
                for run in sweep.runs() if run.config_index == config]
        mine = [r for r in rows if r["label"] == label]
        np.testing.assert_allclose([float(r["qoe"]) for r in mine], np.mean(kept, axis=0), rtol=1e-6)
        per_update = curves.config_seconds(programs, "mappo", config) / 3
        np.testing.assert_allclose([float(r["seconds"]) for r in mine], [per_update * u for u in (1, 2, 3)], atol=2e-3)
        assert {r["seeds"] for r in mine} == {"2"}


def test_a_folder_without_kept_curves_is_named(tmp_path):
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(SWEEP))
    proc = subprocess.run([sys.executable, "-m", "semjax.experiments.curves", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "no kept training curves" in proc.stderr
