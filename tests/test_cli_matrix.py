"""Every documented command as a user types it, one process per command (the ``smoke`` set CI
also runs under the newest versions the dependency ranges allow).

For each learned method: ``semjax train`` stopped at its first checkpoint, ``semjax evaluate``
of that checkpoint, ``semjax train --resume`` to the end, ``semjax evaluate`` again; the resumed
run must give exactly the numbers of the same run trained without a stop. Then ``semjax demo``
and ``semjax sweep`` on a tiny file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

REPO = Path(__file__).resolve().parents[1]
TINY = ["env.num_ues=2", "env.num_channels=2", "env.queue_len=4", "eval.episodes=4", "checkpoint_every=2",
        "train.num_envs=4", "train.num_minibatches=2", "train.rollout_len=4", "train.hidden=8", "train.update_epochs=1",
        "train.num_updates=3", "d3qn.num_envs=2", "d3qn.steps_per_update=2", "d3qn.learning_starts=8",
        "d3qn.batch_size=8", "d3qn.buffer_size=64", "d3qn.hidden=8", "d3qn.num_updates=3"]
METRICS = ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate", "collision_rate")


def semjax(*args: str, cwd: Path, expect: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, "-m", "semjax.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == expect, f"semjax {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


def _numbers(result: dict) -> dict:
    return {k: result[k] for k in METRICS} | {t: {k: v[k] for k in METRICS} for t, v in result["per_task"].items()}


@pytest.mark.parametrize("method", ["mappo", "mappo_discrete", "mappo_unaware", "d3qn", "d3qn_unaware"])
def test_train_stop_evaluate_resume_evaluate(method, tmp_path):
    semjax("train", "--out", "straight", f"method={method}", *TINY, cwd=tmp_path)
    straight = json.loads((tmp_path / "straight" / "eval.json").read_text())
    assert straight["train"]["method"] == method and straight["train"]["updates"] == 3

    # stopped at its first checkpoint (2 of 3 updates): status 75, a checkpoint, no evaluation yet
    stopped = semjax("train", "--out", "run", "--stop-after", "0", f"method={method}", *TINY, cwd=tmp_path, expect=75)
    assert "time limit" in stopped.stderr and not (tmp_path / "run" / "eval.json").exists()
    assert json.loads((tmp_path / "run" / "checkpoint" / "meta.json").read_text())["update"] == 2
    halfway = json.loads(semjax("evaluate", "run", "--json", cwd=tmp_path).stdout)
    assert halfway["episodes"] == 4

    semjax("train", "--out", "run", "--resume", cwd=tmp_path)
    resumed = json.loads((tmp_path / "run" / "eval.json").read_text())
    again = json.loads(semjax("evaluate", "run", "--json", cwd=tmp_path).stdout)
    assert _numbers(resumed) == _numbers(straight)  # identical to the uninterrupted run
    assert _numbers(again) == _numbers(resumed)
    assert _numbers(halfway) != _numbers(resumed)  # the third update changed the policy


def test_fixed_methods_are_refused_by_train_naming_the_alternative(tmp_path):
    proc = semjax("train", "--out", "x", "method=greedy", *TINY, cwd=tmp_path, expect=2)
    assert "fixed policy" in proc.stderr
    proc = semjax("train", "--out", "x", "train.semantic=false", cwd=tmp_path, expect=2)
    assert "method=mappo_unaware" in proc.stderr  # the variants are methods now


def test_demo(tmp_path):
    proc = semjax("demo", "--episodes", "3", "--out", "demo", *TINY[:3], cwd=tmp_path)
    assert "greedy" in proc.stdout and (tmp_path / "demo" / "results.json").is_file()


def test_sweep_of_methods_with_evaluation_worlds(tmp_path):
    (tmp_path / "tiny.yaml").write_text(textwrap.dedent("""
        method: [mappo, local]
        base:
          env: {num_ues: 2, num_channels: 2, queue_len: 4}
          train: {num_updates: 2, num_envs: 4, num_minibatches: 2, hidden: 8, rollout_len: 4, update_epochs: 1}
          eval: {episodes: 3}
        grid: {params.mu_min: [0.1, 0.5]}
        evaluate_under:
          own: {}
          narrow: {grid: {params.bandwidth: [2.0e6]}}
        seeds: 2
        plot: {x: params.mu_min}
    """))
    proc = semjax("sweep", "tiny.yaml", "--out", "out", "--json", cwd=tmp_path)
    info = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert (info["methods"], info["configs"], info["seeds"], info["runs"]) == (2, 2, 2, 8)
    for name in ("results.csv", "summary.csv", "programs.csv", "plots/qoe.png"):
        assert (tmp_path / "out" / name).is_file(), name
    assert len(list((tmp_path / "out" / "policies").glob("*.msgpack"))) == 4  # mappo x 2 configs x 2 seeds
    # a rerun resumes: nothing left to run
    proc = semjax("sweep", "tiny.yaml", "--out", "out", "--json", cwd=tmp_path)
    assert json.loads(proc.stdout[proc.stdout.index("{"):])["ran"] == 0
