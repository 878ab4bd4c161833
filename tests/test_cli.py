"""The ``semjax`` command: ``semjax demo``, config overrides, and the metrics it prints."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from omegaconf import OmegaConf

import semjax
from semjax.agents import heuristics
from semjax.cli import main
from semjax.config import build_env, load_config
from semjax.evaluation import METRICS, rollout
from semjax.seeding import eval_key

EPISODES = 4
TASKS = ("text", "image", "vqa")

# Per-type local constants at freq_ref, by hand from SPEC sections 4-5 (paper profile).
FLOPS_LOCAL = np.array([3.72e9, 8.43e9, 8.31e9])
ACC_LOCAL = np.array([0.90, 0.70, 0.56])
C_LOCAL = 2.0 * 1280 * 1.6e9  # flops_per_cycle * ue_cores * freq_ref, FLOP/s
T_LOCAL = FLOPS_LOCAL / C_LOCAL  # s
E_LOCAL = 1e-26 * T_LOCAL * 1.6e9**3  # J


def _run(argv):
    """main(argv) -> (rc, stdout, stderr), without pytest's capture fixtures (usable in module fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One full demo run (every heuristic), shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("demo")
    rc, stdout, stderr = _run(["demo", "--episodes", str(EPISODES), "--out", str(out), "--json"])
    return rc, out, stdout, stderr


@pytest.fixture
def local_only(monkeypatch):
    """Only the Local heuristic: one compile per demo run, for the tests about configs."""
    monkeypatch.setattr(heuristics, "HEURISTICS", {"local": heuristics.local})


# --------------------------------------------------------------------------- the full demo


def test_demo_returns_zero_and_writes_files(demo):
    rc, out, stdout, stderr = demo
    assert rc == 0, stderr
    assert (out / "config.yaml").is_file()
    payload = json.loads((out / "results.json").read_text())
    assert set(payload) == {"results", "versions"}
    for key in ("semjax", "jax", "jaxlib", "flax", "numpy", "python", "devices", "date"):
        assert payload["versions"][key], key
    assert payload["versions"]["semjax"] == semjax.__version__
    assert payload["versions"]["jax"] == jax.__version__
    # --json prints exactly the results that were written
    assert json.loads(stdout) == payload["results"]


def test_demo_config_yaml_is_the_default_config(demo):
    _, out, _, _ = demo
    cfg = OmegaConf.load(out / "config.yaml")
    assert cfg.eval.episodes == EPISODES
    assert cfg.seed == 0
    assert cfg.env.num_ues == 4 and cfg.env.num_channels == 4 and cfg.env.queue_len == 20
    assert cfg.env.profile == "paper"
    assert cfg.params.bandwidth == 10e6
    assert cfg.params.mu_min == 0.1


def test_demo_prints_every_heuristic_with_every_metric(demo):
    results = json.loads(demo[2])
    assert set(results) == set(heuristics.HEURISTICS) == {"local", "random", "offload_own_channel", "raw_offload", "greedy"}
    for name, r in results.items():
        assert set(METRICS) <= set(r), name
        assert r["episodes"] == EPISODES
        assert set(r["per_task"]) == set(TASKS), name
        for task in TASKS:
            assert set(r["per_task"][task]) == set(METRICS), (name, task)
        for key in ("qoe", "latency_ms", "energy_j", "accuracy", "offload_rate", "collision_rate"):
            assert isinstance(r[key], float) and np.isfinite(r[key]), (name, key)
        assert r["reward_per_ue"] == pytest.approx(r["reward"] / 4)


def test_demo_local_is_exactly_half(demo):
    local = json.loads(demo[2])["local"]
    assert local["qoe"] == 0.5
    assert local["offload_rate"] == 0
    assert local["collision_rate"] == 0
    assert local["mean_mu"] is None  # no offloaded task: NaN -> null
    for task in TASKS:
        assert local["per_task"][task]["qoe"] == 0.5
        assert local["per_task"][task]["offload_rate"] == 0


def test_demo_offloading_heuristics(demo):
    results = json.loads(demo[2])
    raw, own = results["raw_offload"], results["offload_own_channel"]
    # own sub-channel per UE with N == K: nobody collides, everybody offloads
    for r in (raw, own):
        assert r["collision_rate"] == 0
        assert r["offload_rate"] == 1
    assert raw["mean_mu"] == pytest.approx(1.0)
    # text is uploaded raw, image and vqa at mu = 0.2
    assert own["per_task"]["text"]["mean_mu"] == pytest.approx(1.0)
    assert own["per_task"]["image"]["mean_mu"] == pytest.approx(0.2)
    assert own["per_task"]["vqa"]["mean_mu"] == pytest.approx(0.2)
    assert 0 < results["random"]["offload_rate"] < 1


# --------------------------------------------------------------------------- metrics by hand


@pytest.mark.parametrize("m,task", list(enumerate(TASKS)))
def test_local_per_task_metrics_by_hand(demo, m, task):
    r = json.loads(demo[2])["local"]["per_task"][task]
    assert r["latency_ms"] == pytest.approx(T_LOCAL[m] * 1e3, rel=1e-6)
    assert r["energy_j"] == pytest.approx(E_LOCAL[m], rel=1e-6)
    assert r["accuracy"] == pytest.approx(ACC_LOCAL[m], rel=1e-6)
    assert r["violation_latency"] == 0 and r["violation_accuracy"] == 0


def test_local_text_latency_constant(demo):
    r = json.loads(demo[2])["local"]["per_task"]["text"]
    assert r["latency_ms"] == pytest.approx(3.72e9 / (2 * 1280 * 1.6e9) * 1e3, rel=1e-6)
    assert r["energy_j"] == pytest.approx(0.0372, rel=1e-6)


def test_local_overall_metrics_are_type_weighted_means(demo):
    env = semjax.SemanticMEC()
    params = env.default_params
    policy = heuristics.local(env)
    rec = jax.jit(lambda key: rollout(env, params, policy, key, EPISODES))(eval_key(0))  # the demo's seed 0
    types = np.asarray(rec["task_type"]).ravel()
    assert types.size == EPISODES * 20 * 4
    counts = np.bincount(types, minlength=3)
    assert counts.sum() == types.size and np.all(counts > 0)
    weights = counts / counts.sum()
    r = json.loads(demo[2])["local"]
    assert r["latency_ms"] == pytest.approx(weights @ T_LOCAL * 1e3, rel=1e-5)
    assert r["energy_j"] == pytest.approx(weights @ E_LOCAL, rel=1e-5)
    assert r["accuracy"] == pytest.approx(weights @ ACC_LOCAL, rel=1e-5)
    # energy violations: a type-m task violates iff E_LOCAL[m] exceeds the UE's budget
    budget = np.asarray(rec["energy_budget"]).ravel()
    expected = np.mean(E_LOCAL[types] > budget)
    assert r["violation_energy"] == pytest.approx(expected, abs=1.5 / types.size)


# --------------------------------------------------------------------------- overrides and configs


def test_override_shows_up_in_config_yaml(tmp_path, local_only, capsys):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), "--json", "params.bandwidth=5e6"])
    assert rc == 0
    cfg = OmegaConf.load(tmp_path / "config.yaml")
    assert cfg.params.bandwidth == 5e6
    assert cfg.eval.episodes == 1
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"local"}
    assert results["local"]["qoe"] == 0.5


def test_override_reaches_params():
    env, params = build_env(load_config(overrides=["params.bandwidth=5e6", "params.mu_min=0.2", "seed=3"]))
    assert params.bandwidth == 5e6 and params.mu_min == 0.2
    assert env.num_ues == 4
    cfg = load_config(overrides=["params.task_mix=[0.5,0.5,0.0]"])
    _, params = build_env(cfg)
    np.testing.assert_allclose(np.asarray(params.task_mix), [0.5, 0.5, 0.0])


def test_unknown_key_is_exit_code_2(tmp_path, capsys):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), "params.bandwith=5e6"])
    assert rc == 2
    captured = capsys.readouterr()
    assert "bandwith" in captured.err
    assert captured.err.startswith("semjax: error:")
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize(
    "override,field",
    [("params.mu_min=2", "mu_min"), ("params.bandwidth=-1", "bandwidth"),
     ("params.w_latency=0.9", "w_latency"), ("params.task_mix=[0.5,0.5]", "task_mix")],
)
def test_bad_value_is_exit_code_2(tmp_path, capsys, override, field):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), override])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"EnvParams.{field}" in err
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("override,key", [("params.bandwidth=fast", "bandwidth"), ("env.num_ues=many", "num_ues")])
def test_non_numeric_value_is_exit_code_2_naming_the_key(tmp_path, capsys, override, key):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), override])
    err = capsys.readouterr().err
    assert rc == 2
    assert key in err


def test_malformed_override_rejected_by_load_config():
    with pytest.raises(ValueError, match=r"'seed' must look like key=value"):
        load_config(overrides=["seed"])


def test_malformed_override_errors(tmp_path, local_only, capsys):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), "params.bandwidth"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "params.bandwidth" in err and "key=value" in err


def test_smaller_world_override(tmp_path, local_only, capsys):
    rc = main(["demo", "--episodes", "1", "--out", str(tmp_path), "--json",
               "env.num_ues=2", "env.num_channels=2"])
    assert rc == 0, capsys.readouterr().err
    cfg = OmegaConf.load(tmp_path / "config.yaml")
    assert cfg.env.num_ues == 2 and cfg.env.num_channels == 2
    local = json.loads(capsys.readouterr().out)["local"]
    assert local["qoe"] == 0.5
    # team reward per step = N x the mean per-UE reward: N is 2 here
    assert local["reward"] == pytest.approx(2 * local["reward_per_ue"])


def test_a_config_extends_another_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("seed: 3\nparams: {bandwidth: 5.0e6, mu_min: 0.2}\ntrain: {gamma: 0.5}\n")
    (tmp_path / "sub" / "child.yaml").write_text("extends: ../base.yaml\nparams: {mu_min: 0.4}\n")
    cfg = load_config(tmp_path / "sub" / "child.yaml", ["train.gamma=0.0"])
    # the child wins over its parent, the command line over both; the parent's other keys stay
    assert (cfg.seed, cfg.params.bandwidth, cfg.params.mu_min, cfg.train.gamma) == (3, 5e6, 0.4, 0.0)
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("extends: missing.yaml\n")
    with pytest.raises(ValueError, match="missing.yaml"):
        load_config(tmp_path / "orphan.yaml")
    strong, paper = load_config("configs/strong.yaml"), load_config("configs/paper.yaml")
    assert strong.train.gamma == strong.d3qn.gamma == 0.0
    assert strong.train.channel_access == strong.d3qn.channel_access == "sequential"
    assert paper.train.channel_access == paper.d3qn.channel_access == "independent"  # the paper's
    changed = ("gamma", "channel_access")
    for section in ("train", "d3qn"):
        assert {k: v for k, v in strong[section].items() if k not in changed} == \
            {k: v for k, v in paper[section].items() if k not in changed}


def test_yaml_config_file(tmp_path, local_only, capsys):
    config = tmp_path / "world.yaml"
    config.write_text("seed: 7\nenv:\n  queue_len: 5\nparams:\n  bandwidth: 2.0e7\n  mu_min: 0.2\n")
    out = tmp_path / "out"
    rc = main(["demo", "--config", str(config), "--episodes", "2", "--out", str(out), "--json",
               "params.mu_min=0.3"])
    assert rc == 0, capsys.readouterr().err
    cfg = OmegaConf.load(out / "config.yaml")
    assert cfg.seed == 7 and cfg.env.queue_len == 5 and cfg.env.num_ues == 4
    assert cfg.params.bandwidth == 2e7
    assert cfg.params.mu_min == 0.3  # command-line overrides win over the file
    assert cfg.params.noise_power == 2e-3  # untouched defaults stay
    assert json.loads(capsys.readouterr().out)["local"]["episodes"] == 2


def test_yaml_config_unknown_key(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("params:\n  bandwith: 5e6\n")
    rc = main(["demo", "--config", str(config), "--out", str(tmp_path / "out")])
    assert rc == 2
    assert "bandwith" in capsys.readouterr().err


def test_missing_config_file(tmp_path, capsys):
    rc = main(["demo", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "out")])
    assert rc == 2
    assert "none.yaml" in capsys.readouterr().err


def test_no_verb_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- the console script


def test_console_script_registered():
    from importlib.metadata import entry_points

    eps = [e for e in entry_points(group="console_scripts") if e.name == "semjax"]
    assert len(eps) == 1 and eps[0].value == "semjax.cli:main"


def test_console_script_help():
    script = Path(sys.executable).parent / "semjax"
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "semjax.cli"]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "semjax.cli", "demo", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--episodes" in proc.stdout and "overrides" in proc.stdout


@pytest.mark.parametrize("text, seconds", [("5400", 5400.0), ("90m", 5400.0), ("2h30m", 9000.0), ("1.5h", 5400.0),
                                           ("45s", 45.0), ("1h0m5s", 3605.0)])
def test_stop_after_durations(text, seconds):
    from semjax.cli import _duration

    assert _duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2h30", "abc", "h", "-5", "5 min"])
def test_stop_after_rejects_what_is_not_a_duration(text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["paper", "--stop-after", text])
    assert exc.value.code == 2 and "--stop-after" in capsys.readouterr().err


def _help_of(parser, path):
    """The --help text of the (sub-)parser reached by the verbs in ``path``."""
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser.format_help()


def _verb_paths():
    from semjax.cli import build_parser

    parser = build_parser()
    paths = []
    for name, verb in next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices.items():
        paths.append((name,))
        nested = [a for a in verb._actions if isinstance(a, argparse._SubParsersAction)]
        paths += [(name, child) for a in nested for child in a.choices]
    return parser, paths


def test_every_verb_help_names_an_example_its_time_and_its_defaults():
    parser, paths = _verb_paths()
    assert ("bench", "env") in paths and ("calibrate",) in paths and ("paper",) in paths
    for path in paths:
        text = _help_of(parser, path)
        assert f"example: semjax {' '.join(path)}" in text, path
        assert "\ntime: " in text, path
        verb = parser
        for name in path:
            verb = next(a for a in verb._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
        formatter = verb._get_formatter()
        for action in verb._actions:
            # every option with a default value says it (0 too: it is not False)
            if action.option_strings and action.default not in (None, argparse.SUPPRESS) \
                    and action.default is not False and action.help is not argparse.SUPPRESS:
                assert "default" in formatter._get_help_string(action), (path, action.option_strings)
