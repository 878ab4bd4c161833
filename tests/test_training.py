"""`semjax train` / `semjax evaluate` end to end on a tiny configuration."""

import csv
import json

import pytest

from semjax.cli import main

TINY = ["env.num_ues=2", "env.num_channels=2", "env.queue_len=4", "train.num_envs=4", "train.num_minibatches=2",
        "train.rollout_len=4", "train.num_updates=3", "train.hidden=8", "train.update_epochs=1",
        "checkpoint_every=2", "eval.episodes=6"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--out", str(out), "--json", *TINY]) == 0
    return out


def test_train_writes_every_artifact(run_dir):
    for name in ("config.yaml", "versions.json", "metrics.csv", "learning_curve.png", "eval.json"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "checkpoint" / "meta.json").is_file()
    with (run_dir / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # two chunks (2 + 1 updates) appended into one table
    assert [int(r["update"]) for r in rows] == [1, 2, 3]
    assert {"reward", "qoe", "entropy_discrete", "entropy_continuous", "value_loss"} <= set(rows[0])
    result = json.loads((run_dir / "eval.json").read_text())
    assert result["episodes"] == 6 and result["train"]["updates"] == 3
    assert set(result["per_task"]) == {"text", "image", "vqa"}


def test_evaluate_reproduces_the_saved_evaluation(run_dir, capsys):
    saved = json.loads((run_dir / "eval.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    for key in ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate"):
        assert again[key] == saved[key], key
    # under another bandwidth the same policy scores differently
    assert main(["evaluate", str(run_dir), "--json", "params.bandwidth=1e5"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["qoe"] != saved["qoe"]


def test_resume_continues_to_more_updates(run_dir, capsys):
    assert main(["train", "--out", str(run_dir), "--resume", "train.num_updates=4"]) == 0
    with (run_dir / "metrics.csv").open() as fh:
        assert [int(r["update"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]
    assert json.loads((run_dir / "checkpoint" / "meta.json").read_text())["update"] == 4


def test_bad_inputs_name_the_problem(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "missing config.yaml" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x"), "train.hidden=0", *TINY[:3]]) == 2
    assert "train.hidden" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "y"), "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err
