"""Every example under examples/ runs (``--quick``) and its numbers are right.

Each example is loaded with ``runpy`` and its ``main(["--quick"])`` called, as the command
line does. Checks are against values known by hand: Local execution scores QoE exactly 0.5
under any task profile and any QoE weights (the normalisers' reference point), a policy's
offload rate and mean mu follow from its own rule, and the vmapped sweep equals separate
``semjax.evaluation.evaluate`` calls.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import jax
import numpy as np
import pytest

from semjax.agents import heuristics
from semjax.evaluation import evaluate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name), run_name=f"example_{name[:-3]}")


def test_custom_profile(capsys):
    ns = _load("custom_profile.py")
    results = ns["main"](["--quick"])
    out = capsys.readouterr().out
    assert "speech" in out and out.count("\n") == 5
    local = results["local"]
    assert local["qoe"] == 0.5
    assert set(local["per_task"]) == {"text", "image", "vqa", "speech"}
    for task in local["per_task"].values():
        assert task["qoe"] == 0.5 and task["offload_rate"] == 0.0
    # Local accuracy of the new type is its profile's acc_local
    assert local["per_task"]["speech"]["accuracy"] == pytest.approx(ns["SPEECH"]["acc_local"], abs=1e-6)
    # the own-channel heuristic uploads text raw and compresses every other type at mu 0.2
    offload = results["offload mu=0.2"]["per_task"]
    assert offload["text"]["mean_mu"] == 1.0
    for t in ("image", "vqa", "speech"):
        assert offload[t]["mean_mu"] == pytest.approx(0.2, abs=1e-6) and offload[t]["offload_rate"] == 1.0


def test_reward_weights_sweep(capsys):
    ns = _load("reward_weights_sweep.py")
    res = ns["main"](["--quick"])
    out = capsys.readouterr().out
    assert out.count("\n") == 2 + len(ns["WEIGHTS"])
    weights = np.asarray(res["weights"])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(res["local"]["qoe"], 0.5)
    # The vmapped sweep equals evaluating one weighting on its own (same episodes, same keys).
    import semjax

    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=res["queue_len"])
    i = 3
    w = res["weights"][i]
    params = env.default_params.replace(w_latency=w[0], w_energy=w[1], w_accuracy=w[2])
    policy = heuristics.greedy(env, freq_points=3, power_points=3, mu_points=6)
    alone = evaluate(env, params, policy, jax.random.key(0), res["episodes"])
    for k in ("qoe", "reward", "latency_ms", "energy_j", "accuracy", "offload_rate", "mean_mu"):
        assert res["greedy"][k][i] == pytest.approx(alone[k], rel=1e-5, abs=1e-6), k
    # the weights change the decisions: accuracy weight up -> less compression
    assert res["greedy"]["mean_mu"][1] > res["greedy"]["mean_mu"][6]


def test_own_policy(capsys):
    ns = _load("own_policy.py")
    results = ns["main"](["--quick"])
    out = capsys.readouterr().out
    assert "threshold (ours)" in out
    ours = results["threshold (ours)"]
    assert results["local"]["qoe"] == 0.5
    # the policy's own rule: text never offloads; offloaded image / VQA use MU of their type
    assert ours["per_task"]["text"]["offload_rate"] == 0.0
    for t in ("image", "vqa"):
        assert 0.0 < ours["per_task"][t]["offload_rate"] < 1.0
        assert ours["per_task"][t]["mean_mu"] == pytest.approx(ns["MU"][t], abs=1e-6)
    # what the example printed is what evaluate() gives for the same policy
    import semjax

    env = semjax.SemanticMEC(num_ues=4, num_channels=4, queue_len=10)
    again = evaluate(env, env.default_params, ns["threshold_policy"](env, -1.5), jax.random.key(0), 10)
    assert again["qoe"] == ours["qoe"] and again["reward"] == ours["reward"]
