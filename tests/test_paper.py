"""`semjax paper` end to end on a tiny budget: the schema of results.json and its invariants."""

import json

import numpy as np
import pytest

from semjax.agents.oracle import OracleConfig
from semjax.paper import METHODS, PREFERENCES, PaperBudget, PaperRun, mean_ci
from semjax.paper import PAPER
from semjax.results_md import checks, differences, weight_figure_rows

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


def test_each_weight_vector_is_trained_once(tmp_path, monkeypatch):
    # A pair's end points (Fig. 14 at w_latency = 0 is (0, 0, 1), for example) are Table V's
    # single-objective rows: they are trained once, Table V's four first, and shared.
    import dataclasses

    from semjax.paper import METRICS

    budget = dataclasses.replace(TINY, weight_steps=(0.0, 0.5, 1.0))
    run = PaperRun(tmp_path, overrides=("env.num_ues=2", "env.num_channels=2", "env.queue_len=4"), budget=budget,
                   progress=False)
    calls = []

    def fake_retrain(fig, param_sets, methods, env=None, params=None):
        # the i-th trained setting reports i as every metric, so the figures show which run they use
        calls.append((fig, [(p.w_latency, p.w_energy, p.w_accuracy) for p in param_sets], tuple(methods)))
        one = [{k: np.array([float(i)]) for k in METRICS} for i in range(len(param_sets))]
        return {"mappo": [(o, [o] * len(run.names)) for o in one]}

    monkeypatch.setattr(run, "_retrain", fake_retrain)
    [weights_entry] = [e for e in run._retrain_plan() if e[0] == "weights"]
    run._retrain_weights(weights_entry[1])
    [(fig, vectors, methods)] = calls
    assert (fig, methods) == ("weights", ("mappo",))
    expected = [PREFERENCES[p] for p in ("none", "delay", "energy", "accuracy")]
    expected += [(0.5, 0.0, 0.5), (0.0, 0.5, 0.5), (0.5, 0.5, 0.0)]
    np.testing.assert_allclose(np.asarray(vectors, np.float64), np.asarray(expected), rtol=1e-7)
    assert [run.results["table5"][p]["qoe"] for p in ("none", "delay", "energy", "accuracy")] == [0, 1, 2, 3]
    # (latency, accuracy), (energy, accuracy), (latency, energy) at w = 0, 0.5, 1
    assert run.results["figures"]["fig14"]["mappo"]["qoe"] == [3, 4, 1]
    assert run.results["figures"]["fig15"]["mappo"]["qoe"] == [3, 5, 2]
    assert run.results["figures"]["fig16"]["mappo"]["qoe"] == [2, 6, 1]
    assert run.results["figures"]["fig16"]["weights"] == [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]


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
    with pytest.raises(ValueError, match=r"""differing keys: \['versions.xla_cpu_threads'\]: versions.xla_cpu_threads: "16" there, "3" here"""):
        RunCache(tmp_path / "cache", PaperRun(tmp_path, overrides=over, budget=TINY, progress=False).fingerprint())


def test_learner_library_versions_are_part_of_the_fingerprint(tmp_path, monkeypatch):
    # optax, distrax (and its TensorFlow Probability), chex and flashbax decide the trained weights
    # as much as jax does: a cache is not resumed under other versions of them.
    from importlib.metadata import version

    import chex
    import distrax
    import optax

    import semjax.config as config
    from semjax.run_cache import RunCache

    v = config.versions()
    assert (v["optax"], v["distrax"], v["chex"], v["flashbax"]) == (
        optax.__version__, distrax.__version__, chex.__version__, version("flashbax"))  # flashbax has no __version__
    assert "not installed" in (v["tensorflow-probability"], v["tfp-nightly"])  # one of the two provides tfp
    over = ("env.num_ues=2", "env.num_channels=2", "env.queue_len=4")
    RunCache(tmp_path / "cache", PaperRun(tmp_path, overrides=over, budget=TINY, progress=False).fingerprint())
    real = config._installed
    monkeypatch.setattr(config, "_installed", lambda name: "9.9.9" if name == "optax" else real(name))
    with pytest.raises(ValueError, match=rf"""versions.optax: "{optax.__version__}" there, "9.9.9" here"""):
        RunCache(tmp_path / "cache", PaperRun(tmp_path, overrides=over, budget=TINY, progress=False).fingerprint())


def test_differences_quote_hand_computed_figures():
    # A made-up run whose every figure in the "where we differ" section is worked out by hand.
    qoe = {"mappo": 0.56, "mappo_discrete": 0.555, "mappo_unaware": 0.55, "d3qn": 0.545, "d3qn_unaware": 0.54,
           "local": 0.5, "random": 0.51, "raw_offload": 0.52, "greedy": 0.58, "oracle": 0.60}
    methods = {n: {"qoe": q, "offload_rate": 0.5, "mean_mu": 1.0, "pct_of_oracle": {"qoe": 100 * q / 0.6}}
               for n, q in qoe.items()}
    methods["mappo"] |= {"offload_rate": 0.65, "mean_mu": 0.71}
    methods["mappo_unaware"]["offload_rate"] = 0.63
    table5 = {r: {"latency_ms": 2 * p[0], "energy_j": p[1], "accuracy": p[2] / 100} for r, p in PAPER["table5"].items()}
    results = {
        "methods": methods,
        "headline": {"gain_vs_mappo_unaware": (0.56 - 0.55) / 0.55, "gain_vs_d3qn_unaware": (0.56 - 0.54) / 0.54},
        "table5": table5,
        "figures": {
            "fig8": {"x": [5e6, 10e6], "methods": {"mappo": {"qoe": [0.50, 0.56]},
                                                   "mappo_discrete": {"qoe": [0.51, 0.555]}}},
            "fig9": {"x": [1e-3, 1e-2], "methods": {"mappo": {"qoe": [0.57, 0.55]},
                                                    "mappo_unaware": {"qoe": [0.56, 0.52]},
                                                    "oracle": {"qoe": [0.61, 0.60]}}},
            "fig10": {"x": [2, 4, 6], "methods": {"mappo_unaware": {"qoe": [0.54, 0.52, None]}}},
        },
    }
    text = "\n".join(differences(results))
    # 0.01 / 0.55 = 1.82 %, 0.0182 / 0.1268 = 0.14; the oracle is 0.60 / 0.55 - 1 = 9.09 % above it
    assert "Gain over mappo_unaware: 1.82 % against the paper's 12.68 %** (0.14 of it)" in text
    assert "has a QoE only 9.09 % above mappo_unaware's 0.5500; no method here has a higher QoE than the oracle (best 0.5800)" in text
    # 0.56 / 1.1268 = 0.49698 < 0.5
    assert "the paper's gain would put mappo_unaware at 0.4970, below the 0.5" in text
    assert "offloads 63 % of tasks raw and runs the rest locally, +0.0300 against raw offloading of every task (0.5200)" in text
    # 0.60 / 0.54 - 1 = 11.11 % < 14.48 %; 0.56 / 1.1448 = 0.48917
    assert "only 11.11 % above d3qn_unaware's 0.5400" in text and "d3qn_unaware at 0.4892" in text
    assert "aware MAPPO reaches 0.5600, 93.3 % of the per-step oracle's 0.6000, which is 20.00 % above Local" in text
    # latency doubled in every row: ratio 2.00, spread 3.50 / 0.369 = 9.49x in both
    assert "**Table V latency**: ours / paper is 2.00-2.00 over the four rows; the preferences move it by 9.49x" in text
    assert "against 9.49x in the paper" in text
    assert "**Table V accuracy**: ours / paper is 1.00-1.00" in text
    # Fig. 9: 0.02 against 0.04, the oracle 0.01
    assert "aware MAPPO loses 0.0200 QoE and unaware MAPPO 0.0400 (0.50 of it)" in text
    assert "even the oracle loses 0.0100" in text
    # Fig. 10: a series with no value at N = 6 ends at N = 4
    assert "at N = 4, mappo_unaware is at 0.5200, +0.0200 from Local's 0.5" in text
    assert "best learned method at 1 of 2 bandwidths; not at 5 MHz (mappo_discrete)" in text


def test_weight_figure_rows_describe_each_metric_on_its_own_scale():
    figs = {
        "fig14": {"x": [0.0, 0.5, 1.0], "mappo": {"latency_ms": [1.2, 1.0, 0.9], "accuracy": [0.70, 0.70, 0.7001]}},
        "fig16": {"x": [0.0, 0.5, 1.0], "mappo": {"latency_ms": [1.0, 1.1, 1.3], "energy_j": [0.020, 0.025, 0.030]}},
    }
    rows = weight_figure_rows(figs)
    assert rows[0] == "| fig14 | mappo latency_ms vs w_latency | falls (1.2000 -> 0.9000) | falls: more tasks go to the server, with a smaller mu |"
    # a range of 1e-4 is below 1 % of 0.70; an energy range of 0.01 J is far above 1 % of 0.025 J
    assert rows[1].startswith("| fig14 | mappo accuracy vs w_latency | flat (range 0.0001) | falls")
    assert rows[2].startswith("| fig16 | mappo latency_ms vs w_latency | rises (1.0000 -> 1.3000) | falls")
    assert rows[3].startswith("| fig16 | mappo energy_j vs w_latency | rises (0.0200 -> 0.0300) | rises")
    assert len(rows) == 4  # Fig. 15 absent: no rows


def test_a_method_missing_from_the_last_settings_is_padded_with_null(tmp_path):
    # Fig. 10's oracle stops where its search grows too large: its lists still line up with "x".
    run = PaperRun(tmp_path, overrides=("env.num_ues=2", "env.num_channels=2"), budget=TINY, progress=False)

    def result(qoe):
        return {"qoe": np.array([qoe]), "reward": np.array([2 * qoe])}, None

    run._record_retrain("fig10", "num_ues", [2, 4, 6], {"mappo": [result(0.6), result(0.55), result(0.52)],
                                                        "oracle": [result(0.65)]})
    fig = run.results["figures"]["fig10"]
    assert fig["methods"]["oracle"] == {"qoe": [0.65, None, None], "qoe_ci95": [0.0, None, None],
                                        "reward": [1.3, None, None]}
    assert fig["methods"]["mappo"]["qoe"] == pytest.approx([0.6, 0.55, 0.52])
    rows = (tmp_path / "fig10.csv").read_text().splitlines()
    assert rows[0] == "figure,param,x,method,seed,qoe,reward" and len(rows) == 1 + 4
    assert rows[-1].startswith("fig10,num_ues,2,oracle,0,0.65")
    assert (tmp_path / "fig10.png").stat().st_size > 1000


@pytest.mark.slow
def test_two_workers_on_one_folder_write_the_single_process_results(tmp_path, paper_run):
    # Two workers (threads acting as two processes) share the programs of one tiny run and
    # each writes the results a single process wrote.
    import os
    import socket
    import threading

    import semjax.paper as paper

    over = ("env.num_ues=2", "env.num_channels=2", "env.queue_len=4")
    runs = [PaperRun(tmp_path, overrides=over, budget=TINY, progress=False) for _ in range(2)]
    runs[1]._open_cache()
    runs[1].cache.owner = {"host": socket.gethostname(), "pid": os.getppid()}  # as another live process
    results, errors = [None, None], []

    def work(i):
        try:
            results[i] = runs[i].run()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    single = json.loads((paper_run[0] / "results.json").read_text())
    computed = [set(r["run"]["timings_s"]) - set(r["run"]["resumed"]) for r in results]
    assert computed[0] and computed[1] and not computed[0] & computed[1]  # the work was shared, none twice
    assert computed[0] | computed[1] == set(single["run"]["timings_s"])
    for r in results:
        for key in ("methods", "table5", "headline", "figures"):
            assert json.loads(json.dumps(r[key], default=paper._json_default)) == single[key], key
    assert not list((tmp_path / "cache").glob("*.claim"))
