"""`semjax paper` as users call it, on a tiny budget (tests/paper_tiny: N = K = 2, a few updates):
the report's schema and invariants, resume, one key scheme across train / sweep / paper, two
processes equal one, and the claim checks and the "where we differ" text against hand values."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semjax.experiments.report import PAPER, PASS, FAIL, UNRESOLVED, checks
from semjax.experiments.results_md import differences, weight_figure_rows
from semjax.experiments.store import read_csv

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "paper_tiny"


def _env(**extra) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    env.pop("NPROC", None)
    return env | extra


def _paper(out: Path, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semjax.cli", "paper", "--budget", str(TINY), "--out", str(out), *args],
                          env=env or _env(), capture_output=True, text=True, timeout=timeout, cwd=out.parent, check=False)


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper") / "run"
    proc = _paper(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text()), proc.stdout


def test_the_report_has_every_figure_and_file(paper_run):
    out, results, stdout = paper_run
    assert set(results["methods"]) == {"mappo", "mappo_unaware", "local", "oracle"}
    assert set(results["table5"]) == {"none", "delay", "energy", "accuracy"}
    for fig in ("fig6_fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "fig13", "fig14", "fig15", "fig16",
                "fig17_slope_latency", "fig17_slope_energy", "fig17_slope_accuracy"):
        assert fig in results["figures"], fig
    for png in ("fig6_convergence.png", "fig8.png", "fig9.png", "fig10.png", "fig11.png", "fig12.png", "fig13.png",
                "fig14_16.png", "fig17.png"):
        assert (out / png).stat().st_size > 1000, png
    for name in ("RESULTS.md", "results.json", "evaluation_sweeps.csv", "fig10.csv", "fig11.csv",
                 "fig6_fig7_learning_curves.csv"):
        assert (out / name).is_file(), name
    for spec in ("main", "preferences", "mu_min", "num_ues"):
        assert (out / spec / "results.csv").is_file() and (out / spec / "programs.csv").is_file(), spec
    assert not list(out.glob("**/*.pkl")) and not list(out.glob("**/*.claim"))
    assert results["run"]["specs"]["main"]["seeds"] == [0, 1]
    assert results["run"]["programs"] == sum(len(read_csv(out / s / "programs.csv"))
                                             for s in ("main", "preferences", "mu_min", "num_ues"))
    assert "RESULTS.md" in stdout and "Local is exactly 0.5" in stdout


def test_the_report_holds_the_invariants(paper_run):
    _, results, _ = paper_run
    m = results["methods"]
    assert m["local"]["seeds"]["qoe"] == [0.5, 0.5]  # exactly, on every seed's worlds
    for name in m:
        assert len(m[name]["seeds"]["qoe"]) == 2
        # the oracle bounds every method on the same worlds, seed by seed
        assert np.all(np.asarray(m[name]["seeds"]["reward"]) <= np.asarray(m["oracle"]["seeds"]["reward"]) + 1e-5), name
        np.testing.assert_allclose(m[name]["pct_of_oracle"]["qoe"], 100 * m[name]["qoe"] / m["oracle"]["qoe"])
        np.testing.assert_allclose(m[name]["qoe"], np.mean(m[name]["seeds"]["qoe"]), rtol=1e-12)
    h = results["headline"]
    assert h["gain_vs_mappo_unaware"] == pytest.approx((m["mappo"]["qoe"] - m["mappo_unaware"]["qoe"]) / m["mappo_unaware"]["qoe"])
    fig8 = results["figures"]["fig8"]
    assert fig8["x"] == [5e6, 10e6] and fig8["methods"]["local"]["qoe"] == [0.5, 0.5]
    # 10 MHz is the default world: the same policy on the same keys gives the default's numbers
    assert fig8["methods"]["mappo"]["qoe"][1] == pytest.approx(m["mappo"]["qoe"], rel=1e-6)
    assert results["figures"]["fig13"]["x"] == ["hybrid", "text_only", "image_only", "vqa_only"]
    assert results["figures"]["fig10"]["x"] == [2, 3] and results["figures"]["fig11"]["x"] == [0.5, 0.9]
    assert results["figures"]["fig14"]["weights"] == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]  # accuracy, then delay
    verdicts = {s: v for s, v, _ in checks(results)}
    assert verdicts["Local is exactly 0.5"] == PASS
    assert verdicts["the per-step oracle bounds every method (team reward per step, seed by seed)"] == PASS


def test_a_rerun_resumes_every_run_and_writes_the_same_numbers(paper_run, tmp_path):
    out, results, _ = paper_run
    before = {s: (out / s / "results.csv").read_text() for s in ("main", "preferences", "mu_min", "num_ues")}
    programs = {s: len(read_csv(out / s / "programs.csv")) for s in before}
    proc = _paper(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for s, text in before.items():
        assert (out / s / "results.csv").read_text() == text, s
        assert len(read_csv(out / s / "programs.csv")) == programs[s], s  # no program ran again
    again = json.loads((out / "results.json").read_text())
    assert again["methods"] == results["methods"] and again["figures"] == results["figures"]


def test_stop_after_exits_75_before_a_program_and_a_rerun_finishes(paper_run, tmp_path):
    """`--stop-after` stops before the next program with exit 75 and says how to resume; the
    finished runs stay on disk, so the same command without the limit completes from them."""
    out, results, _ = paper_run
    proc = _paper(tmp_path / "fresh", "--stop-after", "0.000001")
    assert proc.returncode == 75, proc.stderr[-2000:]
    assert "time limit reached before" in proc.stderr and "rerun the same command to resume" in proc.stderr
    assert not (tmp_path / "fresh" / "results.json").exists()
    proc = _paper(out, "--stop-after", "10h")  # everything is on disk: nothing runs, nothing stops
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_seed_s_is_the_same_run_in_train_sweep_and_paper(paper_run, tmp_path):
    """One key scheme: `semjax train seed=1`, seed 1 of a sweep and the paper's seed 1 train the
    same network (the paper's kept policy, a sweep's kept policy and the checkpoint agree)."""
    import jax

    from semjax.checkpoint import load_checkpoint
    from semjax.config import build_env, load_config
    from semjax.experiments.methods import METHODS
    from semjax.experiments.store import load_tree
    from semjax.experiments.sweep import load_sweep

    out, _, _ = paper_run
    main = load_sweep(TINY / "main.yaml")
    run = next(r for r in main.runs() if r.method.name == "mappo" and r.seed == 1)
    paper_policy = load_tree(out / "policies" / f"{run.train_id}.msgpack")["policy"]

    # the same config as a `semjax train` run: the sweep's resolved config with seed 1
    cfg_path = tmp_path / "tiny.yaml"
    from omegaconf import OmegaConf

    cfg_path.write_text(OmegaConf.to_yaml(run.cfg))
    proc = subprocess.run([sys.executable, "-m", "semjax.cli", "train", "--config", str(cfg_path), "--out",
                           str(tmp_path / "train"), "seed=1"], env=_env(), capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = load_config(tmp_path / "train" / "config.yaml")
    env, params = build_env(cfg)
    method = METHODS["mappo"]
    runner, _ = load_checkpoint(tmp_path / "train" / "checkpoint", method, method.config(cfg), env, params)

    # and as seed 1 of a sweep of its own (batched with seed 3)
    sweep_file = tmp_path / "one.yaml"
    sweep_file.write_text(f"base_config: {cfg_path}\nmethod: mappo\nseeds: [3, 1]\n")
    proc = subprocess.run([sys.executable, "-m", "semjax.cli", "sweep", str(sweep_file), "--out", str(tmp_path / "sweep")],
                          env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    swept = load_sweep(sweep_file).runs()[1]
    assert (swept.seed, swept.train_id) == (1, run.train_id)  # the same run by name
    sweep_policy = load_tree(tmp_path / "sweep" / "policies" / f"{swept.train_id}.msgpack")["policy"]

    trained = jax.tree.leaves(runner.actor.params)
    for other in (paper_policy, sweep_policy):
        leaves = jax.tree.leaves(other)
        assert len(leaves) == len(trained)
        for a, b in zip(trained, leaves):
            # batched runs round differently in float32 (vmap over runs, sharding): closely, not bitwise
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    # and they are not trivially equal: seed 3 trained other weights
    seed3 = load_tree(tmp_path / "sweep" / "policies" / f"{load_sweep(sweep_file).runs()[0].train_id}.msgpack")["policy"]
    assert max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(seed3), trained)) > 1e-3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_write_the_tables_of_one(paper_run, tmp_path):
    # Two CLI processes of one CPU device each form one JAX run (the multi-host path on one
    # machine): process 0 decides what is pending and writes; both run every program.
    single, _, _ = paper_run
    out = tmp_path / "two"
    coordinator = f"localhost:{_free_port()}"
    cmd = [sys.executable, "-m", "semjax.cli", "paper", "--budget", str(TINY), "--out", str(out), "--host-devices", "1",
           "--coordinator", coordinator, "--num-processes", "2", "--process-id"]
    procs = [subprocess.Popen(cmd + [str(i)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path) for i in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    for spec in ("main", "preferences", "mu_min", "num_ues"):
        got, want = read_csv(out / spec / "results.csv"), read_csv(single / spec / "results.csv")
        assert [{k: v for k, v in r.items() if k != "value"} for r in got] == \
               [{k: v for k, v in r.items() if k != "value"} for r in want], spec
        np.testing.assert_allclose([float(r["value"]) for r in got], [float(r["value"]) for r in want],
                                   rtol=2e-4, atol=1e-6, err_msg=spec)


# ----------------------------------------------------------------------------- the checks, by hand


def _results(mappo, discrete, unaware, local=(0.5, 0.5, 0.5), oracle_reward=(3.0, 3.0, 3.0)):
    def method(qoe, reward=None):
        reward = reward if reward is not None else [2.0] * len(qoe)
        return {"qoe": float(np.mean(qoe)), "reward": float(np.mean(reward)), "seeds": {"qoe": list(qoe), "reward": list(reward)}}

    return {"methods": {"mappo": method(mappo), "mappo_discrete": method(discrete), "mappo_unaware": method(unaware),
                        "local": method(local), "oracle": method((0.6, 0.6, 0.6), oracle_reward)}}


def test_checks_pass_only_when_welch_separates_the_seeds():
    # means 0.580 vs 0.570 with sd 0.001 (n = 3): Welch t = 12.2, p < 1e-3 -> resolved
    clear = _results((0.579, 0.580, 0.581), (0.569, 0.570, 0.571), (0.549, 0.550, 0.551))
    verdicts = {s: v for s, v, _ in checks(clear)}
    assert verdicts["semantic-aware MAPPO is the best learned method (QoE)"] == PASS
    assert verdicts["mappo_unaware is below its aware twin mappo (QoE)"] == PASS
    assert verdicts["Local is exactly 0.5"] == PASS
    # the same means with sd 0.01: t = 1.22, p = 0.29 -> not resolved, though mappo's mean is higher
    noisy = _results((0.570, 0.580, 0.590), (0.560, 0.570, 0.580), (0.549, 0.550, 0.551))
    verdicts = {s: v for s, v, _ in checks(noisy)}
    assert verdicts["semantic-aware MAPPO is the best learned method (QoE)"] == UNRESOLVED
    # resolved the other way round: FAIL
    reversed_ = _results((0.569, 0.570, 0.571), (0.579, 0.580, 0.581), (0.549, 0.550, 0.551))
    assert {s: v for s, v, _ in checks(reversed_)}["semantic-aware MAPPO is the best learned method (QoE)"] == FAIL
    # a seed above the oracle's on the same worlds breaks the bound; Local off 0.5 on one seed fails
    broken = _results((0.579, 0.580, 0.581), (0.569, 0.570, 0.571), (0.549, 0.550, 0.551), local=(0.5, 0.5, 0.51),
                      oracle_reward=(3.0, 1.5, 3.0))
    verdicts = {s: v for s, v, e in checks(broken)}
    assert verdicts["Local is exactly 0.5"] == FAIL
    assert verdicts["the per-step oracle bounds every method (team reward per step, seed by seed)"] == FAIL


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


def test_the_paper_specs_load_and_share_their_trainings():
    """The shipped specs (both budgets) load; runs that the paper trains twice by name are one run."""
    from semjax.experiments.paper import load_specs

    for budget in ("full", "quick"):
        sweeps = load_specs(budget)
        assert [s.name for s in sweeps] == ["main", "preferences", "mu_min", "num_ues"]
        ids = [{r.train_id for r in s.runs() if r.train_id} for s in sweeps]
        assert all(ids)
    full = load_specs("full")
    main, mu_min = full[0], full[2]
    assert "mappo_unaware" not in mu_min.methods  # Fig. 11 retrains the semantic-aware learners only
    assert set(main.methods) == {"mappo", "mappo_discrete", "mappo_unaware", "d3qn", "d3qn_unaware", "local", "random",
                                 "raw_offload", "greedy", "oracle"}
    assert not any(r.method.name == "oracle" and int(r.cfg.env.num_ues) > 4 for r in full[3].runs())
    assert len(full[1].configs()) == 13  # Table V's 4 vectors and 3 mid points per pair of Figs. 14-16
    with pytest.raises(ValueError, match="lacks"):
        load_specs(REPO / "tests")


@pytest.mark.skipif(subprocess.run(["git", "--version"], capture_output=True).returncode != 0, reason="no git")
def test_the_record_names_its_commit_dirty_only_for_changes_outside_its_folder(tmp_path):
    from semjax.experiments.report import _git_commit

    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True, text=True)  # noqa: E731
    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "RESULTS.md").write_text("old\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    head = git("rev-parse", "HEAD").stdout.strip()
    (tmp_path / "results" / "RESULTS.md").write_text("new\n")  # the run rewrites its own record
    assert _git_commit(tmp_path / "results", root=tmp_path) == head
    assert _git_commit(None, root=tmp_path) == head + "-dirty"
    (tmp_path / "code.py").write_text("x = 2\n")  # the code that ran differs from the commit
    assert _git_commit(tmp_path / "results", root=tmp_path) == head + "-dirty"
