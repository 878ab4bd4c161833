"""RunCache: exact round trips, compute-once, and refusal to resume a different run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.core import FrozenDict

from semjax.paper import PaperRun
from semjax.run_cache import FINGERPRINT, RunCache, describe_differences, differing_keys

FP = {"config": {"seed": 0, "lr": 3e-4}, "budget": {"seeds": 2}}


def _tree():
    return (
        {"actor": FrozenDict({"kernel": jnp.arange(6.0).reshape(2, 3), "bias": jnp.zeros(3)})},
        {"reward": np.array([[1.5, -2.0]], np.float32), "steps": np.array([3, 4], np.int32)},
        [jnp.array(True), (jnp.float32(0.25),)],
    )


def test_round_trip_keeps_structure_dtypes_and_values(tmp_path):
    cache = RunCache(tmp_path / "c", FP)
    value = _tree()
    cache.store("train mappo", value, 12.5)
    loaded, seconds = RunCache(tmp_path / "c", FP).load("train mappo")
    assert seconds == 12.5
    assert isinstance(loaded, tuple) and isinstance(loaded[0]["actor"], FrozenDict)
    assert isinstance(loaded[2], list) and isinstance(loaded[2][1], tuple)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(value)):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_computes_once_then_resumes(tmp_path):
    calls = []

    def program():
        calls.append(1)
        return {"qoe": jnp.array([0.5, 0.6])}

    first = RunCache(tmp_path / "c", FP)
    v1, _ = first("evaluate local", program)
    v2, _ = first("evaluate local", program)
    again = RunCache(tmp_path / "c", FP)
    v3, _ = again("evaluate local", program)
    assert len(calls) == 1
    # "resumed": read back from an earlier invocation, not what this one computed
    assert first.resumed == [] and again.resumed == ["evaluate local"]
    for v in (v2, v3):
        np.testing.assert_array_equal(np.asarray(v["qoe"]), np.asarray(v1["qoe"]))


def test_labels_are_independent_and_file_safe(tmp_path):
    cache = RunCache(tmp_path / "c", FP)
    cache("fig10_N4 train mappo", lambda: jnp.ones(2))
    cache("fig10_N4 train mappo_unaware", lambda: jnp.zeros(3))
    assert cache.load("fig10_N4 train mappo")[0].shape == (2,)
    assert cache.load("fig10_N4 train mappo_unaware")[0].shape == (3,)
    assert not cache.has("fig10_N6 train mappo")
    assert all(" " not in p.name for p in (tmp_path / "c").iterdir())


def test_different_run_is_refused_naming_the_key(tmp_path):
    RunCache(tmp_path / "c", FP)("x", lambda: jnp.ones(1))
    other = {"config": {"seed": 1, "lr": 3e-4}, "budget": {"seeds": 2}}
    with pytest.raises(ValueError, match=r"differing keys: \['config.seed'\]: config.seed: 0 there, 1 here\).*--fresh"):
        RunCache(tmp_path / "c", other)


def test_differences_name_nested_keys_and_both_values():
    old = {"a": {"b": 1, "c": [1, 2]}, "d": "x" * 80, "e": 1}
    new = {"a": {"b": 2, "c": [1, 2], "f": None}, "d": "y", "e": 1}
    assert differing_keys(old, new) == [("a.b", 1, 2), ("a.f", "<missing>", None), ("d", "x" * 80, "y")]
    text = describe_differences(old, new, most=2)
    assert text == "differing keys: ['a.b', 'a.f', 'd']: a.b: 1 there, 2 here; a.f: \"<missing>\" there, null here"
    assert describe_differences({"d": "x" * 80}, {"d": "y"}).endswith(f'd: "{"x" * 56}... there, "y" here')


def test_fresh_discards_and_disabled_writes_nothing(tmp_path):
    RunCache(tmp_path / "c", FP)("x", lambda: jnp.ones(1))
    calls = []
    fresh = RunCache(tmp_path / "c", {"other": True}, fresh=True)
    fresh("x", lambda: calls.append(1) or jnp.ones(1))
    assert calls == [1] and fresh.resumed == []
    off = RunCache(tmp_path / "d", FP, enabled=False)
    off("x", lambda: jnp.ones(1))
    off("x", lambda: calls.append(1) or jnp.ones(1))
    assert calls == [1, 1] and not (tmp_path / "d").exists()


def test_paper_run_resumes_its_programs_and_guards_its_config(tmp_path):
    # PaperRun's programs all go through _timed: a second run on the same folder loads them.
    calls = []

    def program():
        calls.append(1)
        return (FrozenDict({"w": jnp.arange(3.0)}), {"reward": jnp.ones((2, 4))})

    first = PaperRun(tmp_path, quick=True, overrides=("env.num_ues=2", "env.num_channels=2"), progress=False)
    pp, metrics = first._timed("train mappo", program)
    second = PaperRun(tmp_path, quick=True, overrides=("env.num_ues=2", "env.num_channels=2"), progress=False)
    pp2, _ = second._timed("train mappo", program)
    assert len(calls) == 1 and second.cache.resumed == ["train mappo"]
    assert second.timings["train mappo"] == first.timings["train mappo"]
    np.testing.assert_array_equal(np.asarray(pp2["w"]), np.asarray(pp["w"]))
    assert (tmp_path / "cache" / FINGERPRINT).exists()
    other = PaperRun(tmp_path, quick=True, overrides=("env.num_ues=2", "env.num_channels=2", "seed=3"), progress=False)
    with pytest.raises(ValueError, match="different run"):
        other._timed("train mappo", program)
    # the full budget is a different run too
    full = PaperRun(tmp_path, overrides=("env.num_ues=2", "env.num_channels=2"), progress=False)
    with pytest.raises(ValueError, match=r"budget"):
        full._timed("train mappo", program)


HERE = {"cpu": "Intel Xeon", "platform": "Linux-6.18"}
THERE = {"cpu": "AMD EPYC 7B13", "platform": "Linux-6.1"}


def test_another_machine_resumes_only_when_asked_and_every_program_keeps_its_machine(tmp_path):
    begun = RunCache(tmp_path / "c", FP, machine=THERE)
    begun("train mappo", lambda: jnp.ones(2))
    with pytest.raises(ValueError, match=r"another machine \(differing keys: \['cpu', 'platform'\]: "
                                         r"cpu: \"AMD EPYC 7B13\" there, \"Intel Xeon\" here.*--across-machines"):
        RunCache(tmp_path / "c", FP, machine=HERE)
    calls = []
    resumed = RunCache(tmp_path / "c", FP, machine=HERE, across_machines=True)
    resumed("train mappo", lambda: calls.append(1) or jnp.zeros(2))
    resumed("evaluate mappo", lambda: jnp.zeros(3))
    assert calls == [] and resumed.origin == THERE
    assert resumed.machines == {"train mappo": THERE, "evaluate mappo": HERE}
    # a third invocation reads both back from disk; the original machine needs no flag
    again = RunCache(tmp_path / "c", FP, machine=THERE)
    again.load("evaluate mappo"), again.load("train mappo")
    assert again.machines == {"evaluate mappo": HERE, "train mappo": THERE}
    # the machine is not part of the fingerprint: a different run is still refused with the flag
    with pytest.raises(ValueError, match="different run"):
        RunCache(tmp_path / "c", {"config": {"seed": 5}}, machine=HERE, across_machines=True)


def test_entries_without_a_recorded_machine_belong_to_the_machine_that_began_the_run(tmp_path):
    cache = RunCache(tmp_path / "c", FP, machine=THERE)
    cache.store("x", {"a": jnp.arange(3)}, 2.0)
    arrays = tmp_path / "c" / "x.npz"
    with np.load(arrays) as data:
        kept = {k: data[k] for k in data.files if k != "machine"}
    np.savez(arrays, **kept)  # as written before machines were recorded
    loaded, seconds = RunCache(tmp_path / "c", FP, machine=HERE, across_machines=True).load("x")
    np.testing.assert_array_equal(loaded["a"], np.arange(3))
    reader = RunCache(tmp_path / "c", FP, machine=HERE, across_machines=True)
    reader.load("x")
    assert seconds == 2.0 and reader.machines == {"x": THERE}


def test_paper_fingerprint_leaves_the_machine_out_and_results_say_where_programs_ran(tmp_path, monkeypatch):
    import semjax.paper as paper
    from semjax.results_md import _machines_sentence

    run = PaperRun(tmp_path, quick=True, overrides=("env.num_ues=2", "env.num_channels=2"), progress=False)
    assert not set(paper.MACHINE_KEYS) & set(run.fingerprint()["versions"])
    assert set(run.machine()) == set(paper.MACHINE_KEYS)
    run._timed("a", lambda: jnp.ones(1))
    first = run.machine()
    monkeypatch.setattr(PaperRun, "machine", staticmethod(lambda: HERE))
    later = PaperRun(tmp_path, quick=True, overrides=("env.num_ues=2", "env.num_channels=2"), progress=False,
                     across_machines=True)
    later._timed("a", lambda: jnp.zeros(1))
    later._timed("b", lambda: jnp.zeros(1))
    later.timings = {"a": 10.0, "b": 2.5}
    rows = later._machines()
    assert [r["machine"] for r in rows] == [first, HERE]
    assert [(r["programs"], r["seconds"]) for r in rows] == [(1, 10.0), (1, 2.5)]
    text = _machines_sentence(rows, HERE)
    assert text.startswith(" Its programs ran on 2 machines (resumed with `--across-machines`): ")
    assert text.endswith("1 programs, 10 s; Intel Xeon (Linux-6.18): 1 programs, 2 s.")
    assert _machines_sentence(rows[1:], HERE) == "" and _machines_sentence([], HERE) == ""
