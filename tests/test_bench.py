"""semjax.bench: the speed-written NumPy peer against the reference, the tables, the verbs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import semjax
from semjax import reference
from semjax.bench import tables
from semjax.bench.numpy_peer import FastBatchedNumpyMEC

# Values that are sums of O(1) terms (the QoE, the reward) or logarithms (the SNR in dB, near
# 0 dB) are compared with an absolute tolerance as well: a 1-ulp difference in their inputs
# leaves a few 1e-16 there, which no relative tolerance can bound near zero.
ABSOLUTE = ("qoe", "reward", "snr_db")


def _mirror(fast: FastBatchedNumpyMEC, ref: reference.BatchedNumpyMEC) -> None:
    ref.task_types[:] = fast.task_types
    ref.distance[:] = fast.distance
    ref.energy_budget[:] = fast.energy_budget
    ref.fading[:] = fast.fading
    ref.t[:] = fast.t


def _actions(rng, b, n, k, p):
    """Random actions reaching past every range, with mu = 1 (raw uploads) a third of the time."""
    return (rng.integers(0, k + 1, (b, n)),
            rng.uniform(0.5 * p.power_min, 1.2 * p.power_max, (b, n)),
            rng.uniform(0.9 * p.freq_min, 1.1 * p.freq_max, (b, n)),
            np.where(rng.random((b, n)) < 0.3, 1.0, rng.uniform(0.5 * p.mu_min, 1.0, (b, n))))


@pytest.mark.parametrize("n,k,profile,overrides", [
    (4, 4, "paper", {}),
    (6, 3, "measured", {"bandwidth": 2e6, "noise_power": 5e-3, "w_latency": 0.5, "w_energy": 0.25,
                        "w_accuracy": 0.25, "task_mix": np.array([0.2, 0.3, 0.5])}),
    (1, 2, "paper", {"path_loss_exponent": 3.7, "mu_min": 0.3}),
])
def test_fast_peer_matches_the_reference_step_by_step(n, k, profile, overrides):
    env = semjax.SemanticMEC(num_ues=n, num_channels=k, queue_len=7, profile=profile)
    params = env.default_params.replace(**overrides)
    p = reference.params_to_numpy(params)
    b = 129
    fast = FastBatchedNumpyMEC(b, n, k, 7, params=p, seed=1)
    ref = reference.BatchedNumpyMEC(b, n, k, 7, params=p, seed=2)
    fast.reset()
    ref.reset()
    rng = np.random.default_rng(0)
    for step in range(17):  # past two episode ends
        _mirror(fast, ref)
        if step == 3 and n > 1:  # exact ties: two UEs with the same gains everywhere
            fast.fading[:, :, 1] = fast.fading[:, :, 0]
            fast.distance[:, 1] = fast.distance[:, 0]
            fast.refresh()
            _mirror(fast, ref)
        np.testing.assert_allclose(fast._observe(), ref.observation(), rtol=1e-12, atol=1e-15)
        action = _actions(rng, b, n, k, p)
        _, want_reward, want_done, info = ref.step(*action)
        _, reward, done = fast.step(*action)
        for name, value in fast.metrics.items():
            np.testing.assert_allclose(value, info[name], rtol=1e-12, atol=1e-12 if name in ABSOLUTE else 0,
                                       err_msg=name)
        np.testing.assert_allclose(reward, want_reward, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(done, want_done)
        if step == 3 and n > 1:
            assert fast.metrics["collided"].any()  # the ties were contested


def test_fast_peer_episodes_and_draws():
    env = semjax.SemanticMEC(queue_len=5)
    p = reference.params_to_numpy(env.default_params.replace(task_mix=np.array([0.2, 0.3, 0.5])))
    fast = FastBatchedNumpyMEC(4000, 4, 4, 5, params=p, seed=3)
    obs = fast.reset()
    assert obs.shape == (4000, 4, env.obs_dim) and np.all(fast.t == 0)
    np.testing.assert_allclose(np.bincount(fast.task_types.ravel(), minlength=3) / fast.task_types.size,
                               [0.2, 0.3, 0.5], atol=0.01)
    assert fast.distance.min() >= 25.0 and fast.distance.max() <= 100.0
    assert abs(fast.fading.mean() - 1.0) < 0.01
    first_queue = fast.task_types.copy()
    zeros = np.zeros((4000, 4))
    for t in range(1, 6):
        _, _, done = fast.step(zeros.astype(int), zeros + 0.05, zeros + 1.6e9, zeros + 1.0)
        assert done.all() == (t == 5) and not (done.any() and t < 5)
    assert np.all(fast.t == 0) and not np.array_equal(fast.task_types, first_queue)
    # the local policy at freq_ref scores exactly 0.5 (SPEC's invariant) in the peer too
    fast.step(zeros.astype(int), zeros + 0.05, zeros + 1.6e9, zeros + 1.0)
    np.testing.assert_allclose(fast.metrics["qoe"], 0.5, atol=1e-15)


def test_fast_peer_validates_its_arguments():
    p = reference.params_to_numpy(semjax.SemanticMEC().default_params)
    with pytest.raises(ValueError, match="num_envs"):
        FastBatchedNumpyMEC(0, params=p)
    with pytest.raises(ValueError, match="params"):
        FastBatchedNumpyMEC(4)


# ---------------------------------------------------------------------------- tables

RESULT = {
    "rows": [
        {"num_ues": 4, "num_envs": 16384, "state_bytes_per_env": 124, "obs_bytes_per_env": 352,
         "jax": {"1": {"steps_per_s": 4.0e6, "memory": {"argument": 2 ** 21, "temp": 2 ** 24 + 2 ** 23}},
                 "2": {"steps_per_s": 7.5e6, "memory": {"argument": 2 ** 20, "temp": 2 ** 23}}},
         "peers": {"numpy_batched": {"steps_per_s": 1.0e6}, "numpy_per_env": {"steps_per_s": 3000.0}}},
        {"num_ues": 16, "num_envs": 1, "state_bytes_per_env": 1100, "obs_bytes_per_env": 2800,
         "jax": {"1": {"steps_per_s": 25000.0, "memory": {}}},
         "peers": {"numpy_batched": {"steps_per_s": 1500.0}, "numpy_per_env": {"steps_per_s": 2900.0}}},
    ],
    "headline": {"present": True, "num_envs": 16384, "num_ues": 4, "jax_devices": 2, "jax_steps_per_s": 7.5e6,
                 "jax_1_device_steps_per_s": 4.0e6, "ratio_vs_batched": 7.5, "target_vs_batched": 5.0,
                 "met_vs_batched": True, "ratio_vs_per_env": 2500.0, "target_vs_per_env": 1000.0,
                 "met_vs_per_env": True},
}


def test_env_table_markdown_and_text():
    assert tables.env_table(RESULT) == "\n".join([
        "| N = K | B | JAX 1 dev | JAX 2 dev | batched NumPy | per-env NumPy | JAX / batched | JAX / per-env |",
        "|---|---|---|---|---|---|---|---|",
        "| 4 | 16384 | 4.00M | 7.50M | 1.00M | 3.0k | 7.5x | 2,500x |",
        "| 16 | 1 | 25.0k | - | 1.5k | 2.9k | 16.7x | 8.6x |",
    ])
    text = tables.env_table(RESULT, "text").splitlines()
    assert text[0] == "N = K      B  JAX 1 dev  JAX 2 dev  batched NumPy  per-env NumPy  JAX / batched  JAX / per-env"
    assert text[2] == "    4  16384      4.00M      7.50M          1.00M           3.0k           7.5x         2,500x"
    assert tables.env_headline(RESULT) == (
        "headline (B=16384, N=K=4): JAX 7.50M env steps/s on 2 device(s), 4.00M on 1; "
        "vs batched NumPy 7.5x (target >= 5x: met); vs per-env NumPy 2,500x (target >= 1,000x: met)")
    busy = dict(RESULT, headline=dict(RESULT["headline"], cores_busy={"2": 1.96, "1": 1.44}))
    assert tables.env_headline(busy).startswith(
        "headline (B=16384, N=K=4): JAX 7.50M env steps/s on 2 device(s), 4.00M on 1 "
        "(cores busy: 1.4 on 1 device(s), 2.0 on 2 device(s)); vs batched NumPy 7.5x")


def test_memory_table_reads_the_one_device_program():
    lines = tables.env_memory_table(RESULT).splitlines()
    # (2 MiB + 24 MiB) / 16384 envs = 1664 B
    assert lines[2] == "| 4 | 16384 | 124 B | 352 B | 1.6 KiB | 8.97e+07 |"
    assert lines[3] == "| 16 | 1 | 1.1 KiB | 2.7 KiB | - | - |"


def test_docs_tables_render_the_committed_results():
    """Every docs region renders a Markdown table from the committed JSON it names (what
    docs/generate.py does), one row per measured row."""
    root = Path(__file__).resolve().parents[1]
    for name, (render, source) in tables.DOCS_TABLES.items():
        result = json.loads((root / source).read_text())
        lines = render(result).splitlines()
        assert lines[0].startswith("| ") and lines[1].startswith("|---"), name
        rows = result["profile"]["parts"] if name == "bench_env_profile" else result["rows"]
        assert sum(line.startswith("| ") for line in lines) == 1 + len(rows), name  # header + rows
    assert tables.DOCS_TABLES["bench_env"][0](RESULT) == tables.env_table(RESULT)
    assert "no profile" in tables.DOCS_TABLES["bench_env_profile"][0](RESULT)


def test_render_rejects_bad_input():
    with pytest.raises(ValueError, match="fmt"):
        tables.render(["a"], [["1"]], fmt="html")
    with pytest.raises(ValueError, match="one entry per column"):
        tables.render(["a", "b"], [["1"]])


# ---------------------------------------------------------------------------- FLOPs


def test_network_flops_match_a_hand_count():
    """XLA's count of MAPPO's networks at width 64 against the matmuls counted by hand (one
    multiply-add = 2 FLOPs): Dense layers, the GRU's 3 gates on input and carry, the heads.
    XLA adds the elementwise work (LayerNorm, gates, distributions): at most 25 % more."""
    from semjax.agents.mappo import MAPPOConfig, head_spec
    from semjax.bench.train import flops_per_env_step, network_flops

    env = semjax.SemanticMEC()
    config = MAPPOConfig(hidden=64, num_envs=8)
    h, d, w = 64, env.obs_dim, env.world_state_dim
    outputs = head_spec(config, env).num_outputs
    gru = 3 * (h * h + h * h)
    actor = 2 * (d * h + h * h + gru + h * outputs)
    critic = 2 * (w * h + h * h + gru + h * 1)
    net = network_flops(config, env)
    assert actor <= net["actor_forward"] <= 1.25 * actor
    assert critic <= net["critic_forward"] <= 1.25 * critic
    # backward: about twice the forward's matmuls on top of it
    assert 2.5 * actor <= net["actor_forward_backward"] <= 4.0 * actor
    per_step = flops_per_env_step(config, env, net)
    n, e = env.num_ues, config.update_epochs
    hand = n * (actor + critic) * (1 + 3 * e) + n * critic / config.rollout_len
    assert 0.8 * hand <= per_step <= 1.3 * hand


# ---------------------------------------------------------------------------- the verbs


def _run_bench(*argv, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NPROC")}
    code = "import sys; from semjax.bench import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_bench_env_json(tmp_path):
    out = tmp_path / "env.json"
    stdout = _run_bench("env", "--batch-sizes", "2,64", "--num-ues", "4", "--devices", "1,2", "--steps", "3",
                        "--repeats", "1", "--min-time", "0", "--peer-budget", "0.01", "--json", "--out", str(out))
    result = json.loads(stdout)
    assert result == json.loads(out.read_text())
    assert result["machine"]["devices"] == 2
    assert "--xla_force_host_platform_device_count=2" in result["machine"]["xla_flags"]
    rows = {r["num_envs"]: r for r in result["rows"]}
    assert set(rows) == {2, 64}
    assert set(rows[64]["jax"]) == {"1", "2"} and set(rows[64]["peers"]) == {
        "numpy_batched", "numpy_reference", "numpy_per_env"}
    for row in rows.values():
        for r in row["jax"].values():
            assert r["steps_per_s"] > 0
            assert r["steps_per_repeat"] == row["num_envs"] * row["scan_steps"] * r["calls_per_repeat"]
            assert len(r["cpu_s"]) == len(r["times_s"]) == 1 and r["cores_busy"] > 0
    assert result["headline"]["present"] is False
    table = tables.env_table(result)
    assert table.count("\n") == 3


def test_bench_train_table():
    stdout = _run_bench("train", "--widths", "8", "--num-envs", "4", "--updates", "1", "--repeats", "1",
                        "--matmul-size", "64", "--vmapped-runs", "0")
    assert "MAPPO training" in stdout and "matmul peak" in stdout
    row = [line for line in stdout.splitlines() if line.strip().startswith("8 ")]
    assert len(row) == 1 and "%" in row[0]


@pytest.mark.slow
def test_bench_train_memory_of_vmapped_runs():
    result = json.loads(_run_bench("train", "--widths", "8", "--num-envs", "4", "--updates", "1", "--repeats", "1",
                                   "--matmul-size", "64", "--vmapped-runs", "2", "--json"))
    memory = result["rows"][0]["memory"]
    assert memory["vmapped_runs"] == 2 and memory["per_run"] == memory["vmapped_total"] / 2
    assert 0 < memory["single_run"] <= memory["vmapped_total"]


def test_bench_sweep_json_and_table():
    """Both arms train the same runs: with 4 envs and one update their QoE agrees to float32
    noise (vmap batching only), and the table shows every arm."""
    result = json.loads(_run_bench("sweep", "--quick", "--configs", "2", "--updates", "1", "--num-envs", "4",
                                   "--episodes", "1", "--json"))
    assert (result["configs"], result["updates_per_config"], result["num_envs"]) == (2, 1, 4)
    assert result["env_steps_per_config"] == 1 * result["rollout_len"] * 4
    assert len(result["loop"]["per_config_s"]) == 2 and "loop_default" not in result  # --quick skips it
    assert result["max_abs_qoe_difference"] < 1e-4
    assert result["ratio_steady"] == pytest.approx(result["loop"]["run_s"] / result["vmapped"]["run_s"])
    from semjax.bench import sweep

    table = sweep.tables(result, "markdown")
    assert "vmapped (sweep engine)" in table and "loop of single runs" in table and table.count("\n") == 4


def test_bench_rejects_bad_options():
    from semjax import bench

    assert bench.main(["train", "--widths", "0"]) == 2
    assert bench.main(["env", "--devices", "4", "--host-devices", "2"]) == 2
    assert bench.main(["sweep", "--configs", "0"]) == 2


def test_env_profile_times_every_part():
    from semjax.bench import profile

    result = profile.profile_step(num_envs=8, num_ues=2, steps=2, repeats=1)
    assert list(result["parts"]) == list(profile.PARTS)
    for part in result["parts"].values():
        assert part["ns_per_env_step"] > 0 and len(part["times_s"]) == 1
    assert result["parts"]["rollout"]["share_of_rollout"] == 1.0
