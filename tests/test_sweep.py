"""The experiment engine: config expansion and errors, results against independent references,
methods, evaluation-only worlds, kept policies, resume, and sharded-against-unsharded on 4
forced host devices and across two processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from semjax.config import build_env
from semjax.evaluation import METRICS, evaluate
from semjax.experiments.sweep import load_sweep, read_table, run_sweep
from semjax.seeding import eval_key

REPO = Path(__file__).resolve().parents[1]

EVAL_SWEEP = """
name: tiny_eval
method: random
base:
  env: {queue_len: 5}
  eval: {episodes: 3}
grid:
  params.bandwidth: [2.0e6, 10.0e6]
zip:
  _label: [loud, quiet]
  params.noise_power: [8.0e-3, 1.0e-3]
  params.mu_min: [0.2, 0.5]
seeds: [0, 3, 5]
chunk_size: 4
"""


def _write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_sweep")
    sweep = load_sweep(_write(tmp, EVAL_SWEEP))
    info = run_sweep(sweep, tmp / "out", progress=False)
    return sweep, info, tmp / "out"


def test_grid_times_zip_expansion(tmp_path):
    sweep = load_sweep(_write(tmp_path, EVAL_SWEEP))
    configs = sweep.configs()
    assert len(configs) == 4  # 2 bandwidths x 2 zipped settings
    got = [(v["params.bandwidth"], v["label"], float(c.params.noise_power), float(c.params.mu_min)) for v, c in configs]
    assert got == [(2e6, "loud", 8e-3, 0.2), (2e6, "quiet", 1e-3, 0.5),
                   (10e6, "loud", 8e-3, 0.2), (10e6, "quiet", 1e-3, 0.5)]
    assert all(float(c.params.bandwidth) == v["params.bandwidth"] for v, c in configs)
    runs = sweep.runs()
    assert len(runs) == 12 and len({r.run_id for r in runs}) == 12
    assert len({r.group for r in runs}) == 1  # params.* only: one compiled program


def test_run_ids_follow_the_profile_file_not_its_name(tmp_path):
    # A new `semjax profile` run into the same file must make new runs: a resumed sweep must not
    # take the old world's finished rows or kept policies as its own.
    paper = json.loads((REPO / "semjax" / "profiles" / "paper.json").read_text())
    profile = tmp_path / "mine.json"
    text = """
    name: mine
    method: [random, mappo]
    base:
      env: {queue_len: 5, profile: PATH}
      train: {num_updates: 2}
    seeds: 2
    """.replace("PATH", str(profile))
    profile.write_text(json.dumps(paper))
    first = load_sweep(_write(tmp_path, text)).runs()
    paper["description"] = "the same numbers, another note"
    profile.write_text(json.dumps(paper))
    same = load_sweep(_write(tmp_path, text)).runs()
    assert [(r.run_id, r.train_id) for r in same] == [(r.run_id, r.train_id) for r in first]
    paper["fields"]["acc_local"]["values"][0] = 0.91
    profile.write_text(json.dumps(paper))
    changed = load_sweep(_write(tmp_path, text)).runs()
    assert all(a.run_id != b.run_id for a, b in zip(first, changed))
    assert all(a.train_id != b.train_id for a, b in zip(first, changed) if a.method.learned)
    assert sum(r.method.learned for r in first) == 2


def test_static_keys_split_groups(tmp_path):
    text = EVAL_SWEEP.replace("  params.bandwidth: [2.0e6, 10.0e6]", "  env.num_ues: [2, 3]")
    sweep = load_sweep(_write(tmp_path, text))
    assert len({r.group for r in sweep.runs()}) == 2


@pytest.mark.parametrize(
    "edit, needle",
    [
        (("chunk_size: 4", "chunk_size: 4\nbogus: 1"), "bogus"),
        (("params.bandwidth:", "params.nope:"), "params.nope"),
        (("params.mu_min: [0.2, 0.5]", "params.mu_min: [0.2, 0.0]"), "mu_min"),
        (("params.mu_min: [0.2, 0.5]", "params.mu_min: [0.2]"), "same length"),
        (("params.bandwidth:", "train.hidden:"), "no method of this sweep reads train"),
        (("seeds: [0, 3, 5]", "seeds: 0"), "seeds"),
        (("seeds: [0, 3, 5]", "seeds: [1, 1]"), "seeds"),
        (("method: random", "method: clever"), "method must be one of"),
        (("method: random", "mode: evaluate"), "'mode' was replaced by 'method'"),
        (("method: random", "policy: random"), "write method: random"),
        (("chunk_size: 4", "chunk_size: 4\nexclude: [{nope.x: 1}]"), "exclude"),
        (("chunk_size: 4", "chunk_size: 4\nevaluate_under: {a: {grid: {env.num_ues: [2]}}}"), "evaluate_under.a.grid.env.num_ues"),
        (("params.bandwidth:", "method:"), "methods have their own key"),
        (("chunk_size: 4", "chunk_size: 0"), "chunk_size"),
        (("params.bandwidth: [2.0e6, 10.0e6]", "seed: [1, 2]"), "seed"),
    ],
)
def test_bad_sweep_files_name_the_key(tmp_path, edit, needle):
    old, new = edit
    assert old in EVAL_SWEEP
    with pytest.raises(ValueError, match=needle):
        load_sweep(_write(tmp_path, EVAL_SWEEP.replace(old, new)))


def test_evaluate_sweep_matches_evaluate(eval_run):
    """Each row equals semjax.evaluation.evaluate of that config and seed, run on its own."""
    from semjax.agents.heuristics import HEURISTICS

    sweep, info, out = eval_run
    assert info["runs"] == info["ran"] == 12
    rows = read_table(out / "results.csv")
    assert len(rows) == 12 * 4 * len(METRICS)  # runs x (all + 3 task types) x metrics
    table = {(r["config"], r["seed"], r["task"], r["metric"]): r["value"] for r in rows}
    configs = sweep.configs()
    # evaluate() compiles once per call: three (config, seed) pairs keep this test fast.
    for i, seed in ((0, 0), (1, 3), (3, 5)):
        env, params = build_env(configs[i][1])
        ref = evaluate(env, params, HEURISTICS["random"](env), eval_key(seed), 3)
        for m in METRICS:
            want = ref[m]
            got = table[(i, seed, "all", m)]
            if want is None:
                assert math.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-5, abs=1e-7), (i, seed, m)
            for task, values in ref["per_task"].items():
                w = values[m]
                g = table[(i, seed, task, m)]
                assert (math.isnan(g) if w is None else g == pytest.approx(w, rel=1e-5, abs=1e-7)), (i, seed, task, m)


def test_summary_is_mean_and_t_interval_over_seeds(eval_run):
    _, _, out = eval_run
    rows = read_table(out / "results.csv")
    with (out / "summary.csv").open() as f:
        import csv

        summary = list(csv.DictReader(f))
    s = next(r for r in summary if r["config"] == "2" and r["task"] == "all" and r["metric"] == "qoe")
    assert s["method"] == "random"
    x = np.array([r["value"] for r in rows if r["config"] == 2 and r["task"] == "all" and r["metric"] == "qoe"])
    assert x.size == 3
    half = 4.302653 * x.std(ddof=1) / math.sqrt(3)  # t_{0.975, 2}
    assert float(s["mean"]) == pytest.approx(x.mean(), rel=1e-12)
    assert float(s["ci95_low"]) == pytest.approx(x.mean() - half, rel=1e-5)
    assert float(s["ci95_high"]) == pytest.approx(x.mean() + half, rel=1e-5)
    assert int(s["n"]) == 3
    assert (out / "plots" / "qoe.png").stat().st_size > 0
    assert json.loads((out / "versions.json").read_text())["jax"] == jax.__version__


def test_resume_reruns_only_missing_runs(eval_run, tmp_path):
    sweep, _, out = eval_run
    before = (out / "results.csv").read_text()
    assert run_sweep(sweep, out, progress=False)["ran"] == 0
    assert (out / "results.csv").read_text() == before
    parts = sorted((out / "parts").glob("part-*.csv"))
    assert len(parts) == 3  # 12 runs in chunks of 4
    parts[1].unlink()
    info = run_sweep(sweep, out, progress=False)
    assert info["ran"] == 4
    assert (out / "results.csv").read_text() == before


def test_resume_under_another_thread_pool_is_refused(eval_run, monkeypatch):
    # XLA's CPU pool size changes the numbers (semjax.config.versions): no silent mix.
    sweep, _, out = eval_run
    recorded = json.loads((out / "versions.json").read_text())
    monkeypatch.setenv("NPROC", str(int(recorded["xla_cpu_threads"]) + 1))
    threads = recorded["xla_cpu_threads"]
    with pytest.raises(ValueError, match=rf"differing keys \['xla_cpu_threads'\]: xla_cpu_threads: '{threads}' there, "
                                         rf"'{int(threads) + 1}' here"):
        run_sweep(sweep, out, progress=False)
    assert json.loads((out / "versions.json").read_text()) == recorded


def test_cli_sweep(tmp_path, monkeypatch, capsys):
    from semjax.cli import main

    # prepare_host edits these; monkeypatch puts them back for the rest of the session.
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    monkeypatch.setenv("NPROC", os.environ.get("NPROC", "16"))
    path = _write(tmp_path, EVAL_SWEEP)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--json", "seeds=1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["methods"], info["configs"], info["seeds"], info["runs"]) == (1, 4, 1, 4)
    assert len(read_table(tmp_path / "out" / "results.csv")) == 4 * 4 * len(METRICS)
    assert main(["sweep", str(path), "--out", str(tmp_path / "bad"), "base.params.t_max=-1"]) == 2
    assert "t_max" in capsys.readouterr().err


SHARDING_SCRIPT = r"""
import json, os
import jax, jax.numpy as jnp, numpy as np
from semjax.experiments.sweep import make_mesh, make_program, run_chunk
from semjax.experiments.methods import METHODS
from semjax.agents.mappo import MAPPOConfig, make_train, make_policy
from semjax.evaluation import rollout, summarize
from semjax.seeding import eval_key_from
import semjax

assert len(jax.devices()) == 4, jax.devices()
env = semjax.SemanticMEC(queue_len=5)
config = MAPPOConfig(num_envs=4, rollout_len=5, num_updates=2, update_epochs=1, num_minibatches=2,
                     hidden=8, mlp_layers=1, lr=1e-3)
params = [semjax.EnvParams(bandwidth=5e6), semjax.EnvParams(bandwidth=20e6, mu_min=0.3)]
points = [[p] for p in params]
seeds = [0, 7]
out = {}

# Training: 2 runs on 4 devices -> mesh (runs 2, envs 2): both the run axis and each run's
# env batch are sharded.
mesh = make_mesh(2, config.num_envs)
out["train_mesh"] = dict(mesh.shape)
sharded = run_chunk(make_program(METHODS["mappo"], config, env, 3, mesh, True), mesh, seeds, params, points)

# Unsharded reference: one plain jitted run at a time on one device, no vmap.
@jax.jit
def one(p, key):
    runner, curve = make_train(config, env, p)(key)
    act, carry = make_policy(config, env, runner.actor.params)
    rec = rollout(env, p, act, eval_key_from(key), 3, carry)
    return summarize(env, p, rec)[0], curve["reward"]

diffs = []
for i, (p, s) in enumerate(zip(params, seeds)):
    overall, curve = jax.device_get(one(p, jax.random.key(s)))
    for k, v in overall.items():
        diffs.append([k, float(sharded["overall"][k][i, 0]), float(v)])
    diffs.append(["curve", sharded["curve"]["reward"][i].tolist(), np.asarray(curve).tolist()])
out["train"] = diffs

# Evaluation: 6 worlds on a 4-device run axis (padded to 8) against a 1-device mesh.
worlds = [semjax.EnvParams(bandwidth=b, noise_power=n) for b in (2e6, 10e6, 30e6) for n in (1e-3, 4e-3)]
eseeds = [0, 1, 2, 3, 4, 5]
mesh4 = make_mesh(6, 1)
mesh1 = make_mesh(6, 1, jax.devices()[:1])
out["eval_mesh"] = [dict(mesh4.shape), dict(mesh1.shape)]
method = METHODS["random"]
a = run_chunk(make_program(method, None, env, 4, mesh4, False), mesh4, eseeds, worlds, [[w] for w in worlds])
b = run_chunk(make_program(method, None, env, 4, mesh1, False), mesh1, eseeds, worlds, [[w] for w in worlds])
out["eval"] = [[k, np.asarray(a["overall"][k]).tolist(), np.asarray(b["overall"][k]).tolist()] for k in a["overall"]]
print("RESULT" + json.dumps(out))
"""


def test_sharded_equals_unsharded_on_4_devices():
    flags = "--xla_force_host_platform_device_count=4 --xla_cpu_multi_thread_eigen=false"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu", NPROC="16",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", SHARDING_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["train_mesh"] == {"runs": 2, "envs": 2}
    assert out["eval_mesh"] == [{"runs": 4, "envs": 1}, {"runs": 1, "envs": 1}]
    for name, got, want in out["train"]:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=name)
    for name, got, want in out["eval"]:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=name)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(eval_run, tmp_path):
    # Two CLI processes form one multi-process JAX run (the multi-host path, on one machine):
    # each holds one CPU device of a 2-device mesh; process 0 writes the table.
    _, _, single = eval_run
    path = _write(tmp_path, EVAL_SWEEP)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    coordinator = f"localhost:{_free_port()}"
    cmd = [sys.executable, "-m", "semjax.cli", "sweep", str(path), "--out", str(tmp_path / "out"), "--json",
           "--coordinator", coordinator, "--num-processes", "2", "--process-id"]
    procs = [subprocess.Popen(cmd + [str(i)], env=env | {"XLA_FLAGS": "--xla_force_host_platform_device_count=1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    # gloo announces its connections on stdout before the JSON summary
    infos = [json.loads(out[out.index("{\n"):]) for out, _ in outs]
    assert [i["devices"] for i in infos] == [2, 2]
    assert infos[0]["plots"] and not infos[1]["plots"]  # process 0 alone writes
    got, want = read_table(tmp_path / "out" / "results.csv"), read_table(single / "results.csv")
    assert [{k: v for k, v in r.items() if k != "value"} for r in got] == \
           [{k: v for k, v in r.items() if k != "value"} for r in want]
    np.testing.assert_allclose([float(r["value"]) for r in got], [float(r["value"]) for r in want], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("args, needle", [
    (["--coordinator", "localhost:1"], "go together"),
    (["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "2"], "--process-id must be in [0, 2)"),
])
def test_cli_multiprocess_arguments_are_checked(tmp_path, capsys, monkeypatch, args, needle):
    from semjax.cli import main

    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    monkeypatch.setenv("NPROC", os.environ.get("NPROC", "16"))
    assert main(["sweep", str(_write(tmp_path, EVAL_SWEEP)), "--out", str(tmp_path / "o")] + args) == 2
    assert needle in capsys.readouterr().err


# ----------------------------------------------------------------------------- methods, worlds, kept policies

TRAIN_SWEEP = """
name: tiny_train
method: [mappo, local]
base:
  env: {num_ues: 2, num_channels: 2, queue_len: 4}
  train: {num_updates: 2, num_envs: 4, num_minibatches: 2, hidden: 8, rollout_len: 4, update_epochs: 1}
  eval: {episodes: 3}
grid:
  params.mu_min: [0.1, 0.5]
exclude:
  - {method: local, params.mu_min: 0.5}
seeds: 2
"""

UNDER_SWEEP = """
extends: train.yaml
name: tiny_under
evaluate_under:
  own: {}
  bandwidth:
    grid: {params.bandwidth: [2.0e6, 20.0e6]}
  mix:
    zip: {_label: [hybrid, text_only], params.task_mix: [null, [1.0, 0.0, 0.0]]}
"""


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train_sweep")
    _write(tmp, TRAIN_SWEEP, "train.yaml")
    sweep = load_sweep(tmp / "train.yaml")
    info = run_sweep(sweep, tmp / "train", store=tmp / "policies", progress=False)
    return sweep, info, tmp


def test_methods_exclude_and_kept_policies(train_run):
    from semjax.experiments.store import load_tree, read_csv

    sweep, info, tmp = train_run
    runs = sweep.runs()
    # mappo at 2 mu_min values x 2 seeds, local only at mu_min 0.1 (excluded at 0.5)
    assert [(r.method.name, r.config_index, r.seed) for r in runs] == [
        ("mappo", 0, 0), ("mappo", 0, 1), ("mappo", 1, 0), ("mappo", 1, 1), ("local", 0, 0), ("local", 0, 1)]
    assert info["runs"] == info["ran"] == 6
    rows = read_table(tmp / "train" / "results.csv")
    qoe = {(r["method"], r["config"], r["seed"]): r["value"] for r in rows if r["metric"] == "qoe" and r["task"] == "all"}
    assert qoe[("local", 0, 0)] == qoe[("local", 0, 1)] == 0.5
    # one kept policy and curve per learned run, named by what decides its training
    kept = {p.stem for p in (tmp / "policies").glob("*.msgpack")}
    assert kept == {r.train_id for r in runs if r.method.name == "mappo"}
    one = load_tree(tmp / "policies" / f"{runs[0].train_id}.msgpack")
    assert one["method"] == "mappo" and one["curve"]["reward"].shape == (2,)
    assert "Dense_0" in json.dumps(jax.tree_util.tree_structure(one["policy"]).__repr__()) or one["policy"]
    programs = read_csv(tmp / "train" / "programs.csv")
    assert sorted(p["kind"] for p in programs) == ["evaluate", "train"]
    # which configs each program ran (mu_min is traced: both of mappo's in one program)
    assert {p["kind"]: p["configs"] for p in programs} == {"train": "0 1", "evaluate": "0"}
    assert not list((tmp / "train").glob("**/*.pkl")) and not list((tmp / "policies").glob("*.pkl"))


def test_evaluate_under_reuses_kept_policies_and_matches_the_training_evaluation(train_run):
    from semjax.experiments.store import read_csv

    sweep, _, tmp = train_run
    _write(tmp, UNDER_SWEEP, "under.yaml")
    under = load_sweep(tmp / "under.yaml")
    assert [(p.block, p.values) for p in under.points] == [
        ("own", {}), ("bandwidth", {"params.bandwidth": 2e6}), ("bandwidth", {"params.bandwidth": 20e6}),
        ("mix", {"_label": "hybrid", "params.task_mix": None}),
        ("mix", {"_label": "text_only", "params.task_mix": [1.0, 0.0, 0.0]})]
    # the same runs: the training is shared, the evaluation differs
    assert [r.train_id for r in under.runs()] == [r.train_id for r in sweep.runs()]
    assert not {r.run_id for r in under.runs()} & {r.run_id for r in sweep.runs()}
    info = run_sweep(under, tmp / "under", store=tmp / "policies", progress=False)
    assert info["ran"] == 6
    assert {p["kind"] for p in read_csv(tmp / "under" / "programs.csv")} == {"evaluate"}  # nothing retrained
    trained = {(r["method"], r["config"], r["seed"], r["metric"]): r["value"]
               for r in read_table(tmp / "train" / "results.csv") if r["task"] == "all"}
    rows = read_table(tmp / "under" / "results.csv")
    for r in rows:
        if r["task"] == "all" and r.get("under") == "own" and r["metric"] in ("qoe", "reward", "latency_ms"):
            assert r["value"] == pytest.approx(trained[(r["method"], r["config"], r["seed"], r["metric"])], rel=1e-5)
    text_only = [r for r in rows if r.get("under.label") == "text_only" and r["metric"] == "qoe"]
    assert {r["task"] for r in text_only if not math.isnan(r["value"])} == {"all", "text"}  # one task type only
    local = [r["value"] for r in rows if r["method"] == "local" and r["metric"] == "qoe" and r["task"] == "all"]
    assert local == [0.5] * 10  # 2 seeds x 5 worlds: Local is 0.5 in every world


def test_d3qn_trains_in_a_sweep_and_its_kept_policy_acts(tmp_path):
    from semjax.experiments.methods import METHODS
    from semjax.experiments.store import load_tree
    from semjax.evaluation import evaluate

    text = TRAIN_SWEEP.replace("method: [mappo, local]", "method: d3qn").replace(
        "  eval: {episodes: 3}", "  d3qn: {num_updates: 3, num_envs: 2, steps_per_update: 2, learning_starts: 8, "
        "batch_size: 8, buffer_size: 64, hidden: 8}\n  eval: {episodes: 3}").replace("params.mu_min: [0.1, 0.5]", "params.mu_min: [0.1]")
    sweep = load_sweep(_write(tmp_path, text))
    run_sweep(sweep, tmp_path / "out", progress=False)
    run = sweep.runs()[1]
    kept = load_tree(tmp_path / "out" / "policies" / f"{run.train_id}.msgpack")
    env, params = build_env(run.cfg)
    method = METHODS["d3qn"]
    policy, carry = method.policy(method.config(run.cfg), env, kept["policy"])
    ref = evaluate(env, params, policy, eval_key(run.seed), 3, initial_carry=carry)
    got = {r["metric"]: r["value"] for r in read_table(tmp_path / "out" / "results.csv")
           if r["seed"] == run.seed and r["task"] == "all"}
    assert got["qoe"] == pytest.approx(ref["qoe"], rel=1e-5) and got["reward"] == pytest.approx(ref["reward"], rel=1e-5)


def test_run_ids_stay_put_when_an_option_is_added(tmp_path):
    # Pinned ids (computed before MAPPO's lr_final / ent_coef_final existed): an option left
    # off does not enter the identity, so finished rows and kept policies stay valid.
    path = _write(tmp_path, """
    name: ids
    method: [mappo, d3qn, oracle, greedy]
    base:
      env: {num_ues: 2, num_channels: 2, queue_len: 4}
      train: {num_updates: 3, num_envs: 4}
    seeds: 1
    """)
    ids = {r.method.name: (r.train_id, r.run_id) for r in load_sweep(path).runs()}
    assert ids == {"mappo": ("a39a1263df8933dc", "4b1e1d09517b561e"), "d3qn": ("bcab0b7cc459af11", "c56e699d3a6af499"),
                   "oracle": (None, "59b45cbc584b685b"), "greedy": (None, "e3480d90f0330c47")}
    scheduled = load_sweep(path, ["base.train.lr_final=0.0"]).runs()[0]
    assert scheduled.train_id != ids["mappo"][0]
    # An option added later keeps the ids at its default and changes them away from it.
    assert load_sweep(path, ["base.train.channel_access=independent"]).runs()[0].train_id == ids["mappo"][0]
    assert load_sweep(path, ["base.train.channel_access=sequential"]).runs()[0].train_id != ids["mappo"][0]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "semjax" / "configs" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_sweep_file_loads(path):
    from semjax.experiments.sweep import load_sweep

    if "\npolicy:" in path.read_text():
        pytest.skip("evaluates a trained run (policy.run), which load_sweep checks exists")
    sweep = load_sweep(path)
    assert sweep.runs()


def test_measured_world_sweep_trains_both_mappos_on_both_profiles():
    from semjax.experiments.sweep import load_sweep

    sweep = load_sweep(Path(__file__).resolve().parents[1] / "semjax" / "configs" / "sweeps" / "measured_world.yaml")
    runs = sweep.runs()
    assert {(r.method.name, r.axes["env.profile"]) for r in runs} == {
        (m, p) for m in ("mappo", "mappo_unaware", "local", "greedy", "oracle") for p in ("measured", "paper")}
    assert {r.seed for r in runs} == {0, 1, 2}
