"""The oracle-gap decomposition: its policy variant reproduces the sweep, and the parts add up."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from semjax.experiments import gap
from semjax.experiments.sweep import load_sweep, read_table, run_sweep

SWEEP = """
name: tiny_gap
method: [mappo, mappo_unaware]
base:
  env: {num_ues: 2, num_channels: 2, queue_len: 4}
  train: {num_updates: 3, num_envs: 4, num_minibatches: 2, hidden: 8, rollout_len: 4, update_epochs: 1}
  oracle: {local_freq_points: 5, raw_power_points: 5, power_points: 3, freq_points: 2, mu_points: 4, refine_steps: 3}
  eval: {episodes: 3}
seeds: 2
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("gap")
    (tmp / "sweep.yaml").write_text(textwrap.dedent(SWEEP))
    run_sweep(load_sweep(tmp / "sweep.yaml"), tmp / "out", progress=False)
    return tmp / "out"


def test_the_policy_variant_reproduces_the_sweep_and_the_gap_adds_up(swept):
    result = gap.decompose(swept)
    recorded = {(r["method"], r["seed"], r["metric"]): r["value"] for r in read_table(swept / "results.csv")
                if r["task"] == "all"}
    assert {r["group"] for r in result["runs"]} == {"mappo", "mappo_unaware"}
    for row in result["runs"]:
        v = row["variants"]
        for metric in ("reward", "qoe", "collision_rate"):
            np.testing.assert_allclose(v["policy"][metric], recorded[(row["group"], row["seed"], metric)],
                                       rtol=1e-5, atol=1e-6)
        # the oracle bounds every variant; the oracle's sub-channels leave no collision
        for name in ("policy", "policy_channels", "oracle_channels"):
            assert v[name]["reward"] <= v["oracle"]["reward"] + 1e-4 * abs(v["oracle"]["reward"])
        assert v["oracle_channels"]["collision_rate"] == 0.0 and v["policy_channels"]["collision_rate"] == 0.0
        if row["group"] == "mappo_unaware" and v["policy_channels"]["offload_rate"] > 0:
            assert v["policy_channels"]["mean_mu"] == pytest.approx(1.0)  # within its own action space
        # the best continuous parts on the policy's own sub-channels never lose to the policy's
        assert v["policy_channels"]["reward"] >= v["policy"]["reward"] - 1e-4 * abs(v["policy"]["reward"])
    for label, s in result["summary"].items():
        g = s["reward_gap"]
        mine = [r["variants"] for r in result["runs"] if r["group"] == label]
        np.testing.assert_allclose(g["total"][0], np.mean([x["oracle"]["reward"] - x["policy"]["reward"] for x in mine]))
        np.testing.assert_allclose(g["total"][0], g["continuous"][0] + g["channels"][0], rtol=1e-6, atol=1e-9)


def test_the_cli_writes_both_files_and_names_a_missing_policy(swept, tmp_path, capsys):
    assert gap.main([str(swept), "--method", "mappo", "--episodes", "2"]) == 0
    out = json.loads((swept / "gap.json").read_text())
    assert list(out["summary"]) == ["mappo"] and out["summary"]["mappo"]["episodes"] == 2
    assert "policy_channels" in (swept / "gap.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        gap.main([str(swept), "--store", str(tmp_path)])
    assert exc.value.code == 2 and "no kept policy" in capsys.readouterr().err
