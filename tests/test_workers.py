"""Several processes on one run folder: claims on programs, skipping, waiting and taking over."""

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import jax.numpy as jnp
import numpy as np
import pytest

import semjax.paper as paper
from semjax.paper import LEARNED, PaperRun, TimeLimitReached
from semjax.run_cache import RunCache

FP = {"config": {"seed": 0}, "budget": {"seeds": 2}}
OVER = ("env.num_ues=2", "env.num_channels=2", "env.queue_len=4")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _as(cache: RunCache, pid: int, host: str | None = None) -> RunCache:
    """``cache`` acting for another process (its claims name ``pid`` on ``host``)."""
    cache.owner = {"host": host or socket.gethostname(), "pid": pid}
    return cache


def test_a_claim_is_exclusive_between_live_processes_and_released_by_its_owner(tmp_path):
    mine = RunCache(tmp_path / "c", FP)
    other = _as(RunCache(tmp_path / "c", FP), os.getppid())  # the parent: alive
    assert other.claim("train mappo")
    assert not mine.claim("train mappo")
    owner = mine.claimed_by_other("train mappo")
    assert owner["pid"] == os.getppid() and owner["host"] == socket.gethostname() and "since" in owner
    mine.release("train mappo")  # not mine to release
    assert mine.claim_path("train mappo").exists()
    assert other.claimed_by_other("train mappo") is None  # its own claim
    other.release("train mappo")
    assert not mine.claim_path("train mappo").exists()
    assert mine.claim("train mappo") and other.claimed_by_other("train mappo")["pid"] == os.getpid()


def test_a_dead_process_claim_is_taken_over_and_another_hosts_claim_is_respected(tmp_path):
    mine = RunCache(tmp_path / "c", FP)
    _as(RunCache(tmp_path / "c", FP), _dead_pid()).claim("train d3qn")
    assert mine.claimed_by_other("train d3qn") is None
    assert mine.claim("train d3qn")
    assert json.loads(mine.claim_path("train d3qn").read_text())["pid"] == os.getpid()
    # a process on another host cannot be checked from here: its claim stands
    _as(RunCache(tmp_path / "c", FP), _dead_pid(), host="elsewhere").claim("train mappo")
    assert not mine.claim("train mappo") and mine.claimed_by_other("train mappo")["host"] == "elsewhere"


def test_release_all_removes_only_this_process_claims(tmp_path):
    mine = RunCache(tmp_path / "c", FP)
    other = _as(RunCache(tmp_path / "c", FP), os.getppid())
    mine.claim("a")
    mine.claim("b")
    other.claim("c")
    mine.release_all()
    assert sorted(p.name for p in (tmp_path / "c").glob("*.claim")) == ["c.claim"]


def test_fresh_is_refused_while_another_process_works_on_the_folder(tmp_path):
    _as(RunCache(tmp_path / "c", FP), os.getppid()).claim("train mappo")
    with pytest.raises(ValueError, match=r"--fresh would discard .* another process works on it \(train_mappo.claim"):
        RunCache(tmp_path / "c", FP, fresh=True)
    claim = tmp_path / "c" / "train_mappo.claim"
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid()}))  # its owner gone
    RunCache(tmp_path / "c", FP, fresh=True)
    assert not claim.exists()


def test_programs_this_process_computed_are_not_counted_as_resumed(tmp_path):
    first = RunCache(tmp_path / "c", FP)
    first("x", lambda: jnp.ones(2))
    first("x", lambda: jnp.zeros(2))
    again = RunCache(tmp_path / "c", FP)
    value, _ = again("x", lambda: jnp.zeros(2))
    assert first.resumed == [] and again.resumed == ["x"]
    np.testing.assert_array_equal(value, np.ones(2))


def _fake_training(monkeypatch, calls):
    def train_seeds(config, env, params, keys, desc, progress, param_batch=None, param_axes=None):
        calls.append(desc)
        runs = 1 if param_batch is None else np.asarray(param_batch.mu_min).shape[0]
        return {"w": jnp.full((runs, keys.shape[0]), float(len(calls)))}, {"reward": jnp.zeros((keys.shape[0], 2))}

    monkeypatch.setattr(paper, "train_seeds", train_seeds)


def test_train_ahead_trains_every_program_but_those_stored_or_claimed(tmp_path, monkeypatch):
    import dataclasses

    from tests.test_paper import TINY

    calls = []
    _fake_training(monkeypatch, calls)
    budget = dataclasses.replace(TINY, max_runs_per_program=TINY.seeds, retrain_methods=("mappo", "d3qn"))
    run = PaperRun(tmp_path, overrides=OVER, budget=budget, progress=False)
    cache = run._open_cache()
    cache.store("train d3qn", {"w": jnp.zeros(1)}, 1.0)
    _as(RunCache(tmp_path / "cache", run.fingerprint(), machine=run.machine()), os.getppid()).claim("weights train mappo settings 1-1 of 7")
    run.train_ahead()
    weights = [f"weights mappo settings {i}-{i} of 7" for i in range(7)]  # Table V's 4 and Figs. 14-16's 3
    expected = ([f"train {n}" for n in LEARNED if n != "d3qn"] + [w for w in weights if w != weights[1]]
                + [f"fig11 {n} settings {i}-{i} of 2" for n in ("mappo", "d3qn") for i in range(2)]
                + ["fig10_N2 mappo", "fig10_N2 d3qn"])
    assert calls == expected
    assert not cache.has("weights train mappo settings 1-1 of 7")
    assert [p.name for p in (tmp_path / "cache").glob("*.claim")] == ["weights_train_mappo_settings_1-1_of_7.claim"]
    assert run.timings == {}  # kept for the stages that read the programs back


def test_a_program_another_process_runs_is_waited_for_and_read_back(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="semjax.paper")
    run = PaperRun(tmp_path, overrides=OVER, quick=True, progress=False)
    run.poll_s = 0.02
    other = _as(RunCache(tmp_path / "cache", run.fingerprint(), machine=run.machine()), os.getppid())
    assert other.claim("train mappo")

    def finish():
        time.sleep(0.3)
        other.store("train mappo", {"w": jnp.arange(3.0)}, 42.0)
        other.release("train mappo")

    threading.Thread(target=finish).start()
    value = run._timed("train mappo", lambda: pytest.fail("computed twice"))
    np.testing.assert_array_equal(value["w"], np.arange(3.0))
    assert run.timings == {"train mappo": 42.0} and run.cache.resumed == ["train mappo"]
    lines = [r.getMessage() for r in caplog.records if r.name == "semjax.paper"]
    assert lines[0].startswith(f"train mappo: waiting for process {os.getppid()} on {socket.gethostname()} (since ")
    assert lines[0].endswith(f"delete {tmp_path / 'cache' / 'train_mappo.claim'}")
    assert lines[1:] == [f"train mappo: loaded from {tmp_path / 'cache'}", "train mappo: 42 s"]


def test_a_claim_dropped_without_a_result_is_computed_here(tmp_path):
    run = PaperRun(tmp_path, overrides=OVER, quick=True, progress=False)
    run.poll_s = 0.02
    other = _as(RunCache(tmp_path / "cache", run.fingerprint(), machine=run.machine()), os.getppid())
    assert other.claim("train mappo")
    threading.Timer(0.2, other.release, ("train mappo",)).start()  # its process stopped before storing
    value = run._timed("train mappo", lambda: {"w": jnp.ones(2)})
    np.testing.assert_array_equal(value["w"], np.ones(2))
    assert run.cache.has("train mappo") and not run.cache.claim_path("train mappo").exists()
    assert run.cache.resumed == []


def test_the_time_limit_also_ends_a_wait(tmp_path):
    run = PaperRun(tmp_path, overrides=OVER, quick=True, progress=False, stop_after=0.2)
    run.poll_s = 0.02
    _as(RunCache(tmp_path / "cache", run.fingerprint(), machine=run.machine()), os.getppid()).claim("train mappo")
    start = time.monotonic()
    with pytest.raises(TimeLimitReached, match="time limit reached before 'train mappo'"):
        run._timed("train mappo", lambda: pytest.fail("not its program"))
    assert time.monotonic() - start < 5


def test_the_time_limit_stops_training_ahead_counting_what_it_trained(tmp_path, monkeypatch):
    from tests.test_paper import TINY

    calls = []
    _fake_training(monkeypatch, calls)
    run = PaperRun(tmp_path, overrides=OVER, budget=TINY, progress=False, stop_after=3600)
    monkeypatch.setattr(paper, "train_seeds", lambda *a, _fake=paper.train_seeds, **k: (
        setattr(run, "stop_at", time.monotonic()), _fake(*a, **k))[1])  # the limit passes during the first program
    with pytest.raises(TimeLimitReached, match=r"before 'train mappo_discrete' \(1 programs done or loaded\)"):
        run.train_ahead()
    assert calls == ["train mappo"] and run.cache.has("train mappo")
    assert not list((tmp_path / "cache").glob("*.claim"))
