"""`semjax paper` end to end on a tiny budget: the schema of results.json and its invariants."""

import json

import numpy as np
import pytest

from semjax.agents.oracle import OracleConfig
from semjax.paper import METHODS, PREFERENCES, PaperBudget, PaperRun, mean_ci
from semjax.results_md import checks

TINY = PaperBudget(
    seeds=2,
    episodes=6,
    sweep_episodes=3,
    mappo={"num_updates": 2, "num_envs": 4, "num_minibatches": 2, "hidden": 16, "rollout_len": 4},
    d3qn={"num_updates": 2, "num_envs": 2, "steps_per_update": 2, "learning_starts": 8, "batch_size": 8,
          "buffer_size": 64, "hidden": 16},
    retrain={"num_updates": 2, "num_envs": 4, "num_minibatches": 2, "hidden": 16, "rollout_len": 4},
    retrain_methods=("mappo",),
    num_ues=(2,),
    mu_min=(0.1, 0.9),
    weight_steps=(0.5,),
    bandwidth=(5e6, 10e6),
    noise_power=(2e-3,),
    slope_scales=(1.0, 2.0),
    oracle=OracleConfig(local_freq_points=5, raw_power_points=5, power_points=3, freq_points=2, mu_points=4,
                        refine_steps=3),
)


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    run = PaperRun(out, overrides=("env.num_ues=2", "env.num_channels=2", "env.queue_len=4"), budget=TINY,
                   progress=False)
    return out, run.run()


@pytest.mark.slow
def test_results_schema_and_files(paper_run):
    out, results = paper_run
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["methods"]) == set(METHODS)
    assert set(saved["table5"]) == set(PREFERENCES)
    assert set(saved["headline"]) == {"gain_vs_mappo_unaware", "gain_vs_d3qn_unaware"}
    for fig in ("fig6_fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "fig13", "fig14", "fig15", "fig16",
                "fig17_slope_latency", "fig17_slope_energy", "fig17_slope_accuracy"):
        assert fig in saved["figures"], fig
    for png in ("fig6_convergence.png", "fig7_convergence.png", "fig8.png", "fig9.png", "fig10.png", "fig11.png",
                "fig12.png", "fig13.png", "fig14_16.png", "fig17.png"):
        assert (out / png).stat().st_size > 1000, png
    for name in ("RESULTS.md", "config.yaml", "versions.json", "evaluation_sweeps.csv", "fig10.csv", "fig11.csv"):
        assert (out / name).is_file(), name
    assert saved["run"]["budget_detail"]["seeds"] == 2


@pytest.mark.slow
def test_results_invariants(paper_run):
    _, results = paper_run
    m = results["methods"]
    assert m["local"]["qoe"] == 0.5  # exactly
    for name in METHODS:
        assert m[name]["reward"] <= m["oracle"]["reward"] + 1e-5, name
        assert len(m[name]["seeds"]["qoe"]) == (2 if name not in ("local", "random", "raw_offload", "greedy", "oracle") else 1)
        np.testing.assert_allclose(m[name]["pct_of_oracle"]["qoe"], 100 * m[name]["qoe"] / m["oracle"]["qoe"])
    h = results["headline"]
    assert h["gain_vs_mappo_unaware"] == pytest.approx((m["mappo"]["qoe"] - m["mappo_unaware"]["qoe"]) / m["mappo_unaware"]["qoe"])
    # the default world appears in the bandwidth sweep at 10 MHz: same policy, same key prefix -> same world
    fig8 = results["figures"]["fig8"]
    assert fig8["x"] == [5e6, 10e6]
    assert fig8["methods"]["local"]["qoe"] == [0.5, 0.5]
    # the one-hot task mixes of Fig. 13 test one task type each
    assert results["figures"]["fig13"]["x"] == ["hybrid", "text_only", "image_only", "vqa_only"]
    statements = {s: ok for s, ok, _ in checks(results)}
    assert statements["Local is exactly 0.5"]
    assert statements["the per-step oracle bounds every method (team reward per step)"]



@pytest.mark.slow
def test_rerun_resumes_every_program_and_reproduces(paper_run):
    out, _ = paper_run
    before = json.loads((out / "results.json").read_text())
    PaperRun(out, overrides=("env.num_ues=2", "env.num_channels=2", "env.queue_len=4"), budget=TINY,
             progress=False).run()
    after = json.loads((out / "results.json").read_text())
    assert before["run"]["resumed"] == []
    assert sorted(after["run"]["resumed"]) == sorted(before["run"]["timings_s"])
    assert after["run"]["timings_s"] == before["run"]["timings_s"]
    for key in ("methods", "table5", "headline", "figures"):
        assert after[key] == before[key], key


def test_retraining_in_chunks_equals_one_program(tmp_path, caplog):
    # The full budget splits a figure's settings over several cached programs; the policies are
    # the ones a single vmapped program trains, each chunk's label names its settings, and the
    # chunk size stays out of the fingerprint (a run resumes whatever the grouping).
    import dataclasses
    import logging

    import jax

    over = ("env.num_ues=2", "env.num_channels=2", "env.queue_len=4")
    caplog.set_level(logging.INFO, logger="semjax.paper")
    whole = PaperRun(tmp_path / "whole", overrides=over, budget=TINY, progress=False)
    chunked = PaperRun(tmp_path / "chunked", overrides=over, progress=False,
                       budget=dataclasses.replace(TINY, max_runs_per_program=2 * TINY.seeds))
    sets = [whole.params.replace(mu_min=v) for v in (0.1, 0.5, 0.9)]
    config = whole._config("mappo", retrain=True)
    a = whole._train_settings("fig11", "mappo", config, whole.env, whole.params, sets)
    b = chunked._train_settings("fig11", "mappo", config, chunked.env, chunked.params, sets)
    assert list(whole.timings) == ["fig11 train mappo"]
    assert list(chunked.timings) == ["fig11 train mappo settings 0-1 of 3", "fig11 train mappo settings 2-2 of 3"]
    assert chunked.fingerprint() == whole.fingerprint()
    # without a terminal each program's start and end is logged, for a run left in the background
    lines = [r.getMessage() for r in caplog.records if r.name == "semjax.paper"]
    label = "fig11 train mappo settings 2-2 of 3"
    assert lines[-2] == f"{label}: started"
    assert lines[-1] == f"{label}: {chunked.timings[label]:.0f} s"
    again = PaperRun(tmp_path / "chunked", overrides=over, progress=False, budget=chunked.budget)
    again._train_settings("fig11", "mappo", config, again.env, again.params, sets)
    assert caplog.records[-2].getMessage() == f"{label}: loaded from {tmp_path / 'chunked' / 'cache'}"
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert x.shape[:2] == (3, TINY.seeds)
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-5, atol=1e-6)


def test_mean_ci_against_hand_values():
    mean, half = mean_ci([1.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(12.706 * np.sqrt(2.0) / np.sqrt(2))  # t_{0.975,1} * s / sqrt(n), s = sqrt(2)
    assert mean_ci([0.7]) == (0.7, 0.0)


def test_thread_pool_size_is_part_of_the_fingerprint(tmp_path, monkeypatch):
    # XLA's CPU pool size changes the trained weights (semjax.config.versions), so a cache
    # written under one size is not resumed under another; the XLA flags are recorded too.
    from semjax.config import versions
    from semjax.run_cache import RunCache

    monkeypatch.setenv("NPROC", "16")
    assert versions()["xla_cpu_threads"] == "16"
    assert "--xla_cpu_enable_concurrency_optimized_scheduler=false" in versions()["xla_flags"]
    over = ("env.num_ues=2", "env.num_channels=2", "env.queue_len=4")
    RunCache(tmp_path / "cache", PaperRun(tmp_path, overrides=over, budget=TINY, progress=False).fingerprint())
    monkeypatch.setenv("NPROC", "3")
    with pytest.raises(ValueError, match=r"differing keys: \['versions'\]"):
        RunCache(tmp_path / "cache", PaperRun(tmp_path, overrides=over, budget=TINY, progress=False).fingerprint())
