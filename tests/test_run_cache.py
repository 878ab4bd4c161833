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
    assert first.resumed == ["evaluate local"] and again.resumed == ["evaluate local"]
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
