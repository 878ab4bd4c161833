"""EnvParams / TaskProfile: defaults (SPEC sections 4-5), validation, JAX rebuilds, profile loading."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import semjax
from semjax import EnvParams, TaskProfile, load_profile, profile_from_dict
from semjax.params import _POSITIVE, PROFILE_FIELDS

PAPER_JSON = Path(semjax.__file__).parent / "profiles" / "paper.json"

# SPEC section 4, verbatim.
SPEC_DEFAULTS = {
    "bandwidth": 10e6,
    "noise_power": 2e-3,
    "path_loss_exponent": 3.0,
    "ref_distance": 50.0,
    "distance_min": 25.0,
    "distance_max": 100.0,
    "power_min": 0.01,
    "power_max": 0.09,
    "freq_min": 1.5e9,
    "freq_max": 1.7e9,
    "freq_ref": 1.6e9,
    "ue_cores": 1280,
    "server_cores": 65536,
    "server_freq": 2.2e9,
    "flops_per_cycle": 2.0,
    "kappa_ue": 1e-26,
    "kappa_server": 1.2e-26,
    "mu_min": 0.1,
    "t_max": 5e-3,
    "energy_budget_min": 0.05,
    "energy_budget_max": 0.15,
    "w_latency": 1 / 3,
    "w_energy": 1 / 3,
    "w_accuracy": 1 / 3,
    "slope_latency": 1e3,
    "slope_energy": 10.0,
    "slope_accuracy": 2.0,
}

# SPEC section 5, verbatim (text, image, vqa).
SPEC_PROFILE = {
    "flops_local": (3.72e9, 8.43e9, 8.31e9),
    "flops_extract": (0.05e9, 0.2e9, 0.25e9),
    "flops_server": (3.5e9, 8.0e9, 8.0e9),
    "data_bits": (2048, 98304, 100352),
    "exp_data": (1.0, 1.0, 1.0),
    "exp_extract": (0.5, 0.5, 0.5),
    "exp_accuracy": (0.1, 0.2, 0.25),
    "acc_local": (0.90, 0.70, 0.56),
    "snr_mid_db": (0.0, 0.0, 0.0),
    "snr_width_db": (2.0, 2.0, 2.0),
    "acc_min": (0.5, 0.5, 0.5),
}

SCALAR_FIELDS = tuple(SPEC_DEFAULTS)

_PAPER = load_profile("paper")


@pytest.fixture(scope="module")
def paper():
    return load_profile("paper")


@pytest.fixture(scope="module")
def defaults(paper):
    return EnvParams(profile=paper)


def _paper_dict() -> dict:
    return json.loads(PAPER_JSON.read_text())


def _write(tmp_path: Path, data, name: str = "profile.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------- defaults


def test_field_names_are_exactly_spec_section_4():
    names = {f.name for f in dataclasses.fields(EnvParams)} - {"_validated", "profile"}
    assert names == set(SPEC_DEFAULTS) | {"task_mix"}
    prof_names = {f.name for f in dataclasses.fields(TaskProfile)} - {"_validated", "names"}
    assert prof_names == set(SPEC_PROFILE) == set(PROFILE_FIELDS)


@pytest.mark.parametrize("name", SCALAR_FIELDS)
def test_default_equals_spec_section_4(name):
    value = getattr(EnvParams(), name)
    assert np.ndim(value) == 0
    assert float(value) == SPEC_DEFAULTS[name]


def test_default_task_mix_is_uniform(defaults):
    mix = np.asarray(defaults.task_mix)
    assert mix.shape == (3,)
    np.testing.assert_allclose(mix, [1 / 3] * 3, rtol=1e-7)
    assert mix[0] == mix[1] == mix[2]


def test_default_profile_equals_spec_section_5():
    prof = EnvParams().profile
    assert isinstance(prof, TaskProfile)
    assert prof.names == ("text", "image", "vqa")
    assert prof.num_types == 3
    for name, values in SPEC_PROFILE.items():
        arr = np.asarray(getattr(prof, name))
        assert arr.shape == (3,), name
        np.testing.assert_array_equal(arr, np.asarray(values, np.float32), err_msg=name)


def test_env_default_params_are_the_defaults(env, defaults):
    p = env.default_params
    for name in SCALAR_FIELDS:
        assert getattr(p, name) == getattr(defaults, name)
    assert p.profile.names == ("text", "image", "vqa")


# --------------------------------------------------------------------------- validation: EnvParams

REQUIRED_POSITIVE = (
    "bandwidth", "noise_power", "ue_cores", "server_cores", "freq_min", "freq_ref",
    "server_freq", "kappa_ue", "kappa_server", "t_max",
    "slope_latency", "slope_energy", "slope_accuracy",
)


def test_positive_list_covers_the_required_fields():
    assert set(REQUIRED_POSITIVE) <= set(_POSITIVE)


@pytest.mark.parametrize("value", [0.0, -1.0])
@pytest.mark.parametrize("name", _POSITIVE)
def test_non_positive_rejected(paper, name, value):
    with pytest.raises(ValueError, match=rf"EnvParams\.{name}\b"):
        EnvParams(profile=paper, **{name: value})


@pytest.mark.parametrize(
    "lo,hi,bad_lo",
    [
        ("distance_min", "distance_max", 150.0),
        ("power_min", "power_max", 0.1),
        ("freq_min", "freq_max", 1.8e9),
        ("energy_budget_min", "energy_budget_max", 0.2),
    ],
)
def test_inverted_range_rejected(paper, lo, hi, bad_lo):
    with pytest.raises(ValueError, match=rf"EnvParams\.{lo} must be <= EnvParams\.{hi}"):
        EnvParams(profile=paper, **{lo: bad_lo})
    # equal bounds are a valid (degenerate) range
    p = EnvParams(profile=paper, **{lo: bad_lo, hi: bad_lo})
    assert getattr(p, lo) == getattr(p, hi) == bad_lo


@pytest.mark.parametrize("value", [0.0, -0.1, 1.5])
def test_mu_min_outside_unit_interval_rejected(paper, value):
    with pytest.raises(ValueError, match=r"EnvParams\.mu_min"):
        EnvParams(profile=paper, mu_min=value)


def test_mu_min_one_accepted(paper):
    assert EnvParams(profile=paper, mu_min=1.0).mu_min == 1.0


def test_weights_not_summing_to_one_rejected(paper):
    with pytest.raises(ValueError, match=r"w_latency \+ w_energy \+ w_accuracy must sum to 1"):
        EnvParams(profile=paper, w_latency=0.5, w_energy=0.3, w_accuracy=0.3)


@pytest.mark.parametrize(
    "weights,bad",
    [((-0.2, 0.6, 0.6), "w_latency"), ((0.6, -0.2, 0.6), "w_energy"), ((0.0, -0.5, 1.5), "w_energy"),
     ((0.0, 0.0, 1.0), None), ((1.0, 0.0, 0.0), None)],
)
def test_weight_outside_unit_interval_rejected(paper, weights, bad):
    kw = dict(zip(("w_latency", "w_energy", "w_accuracy"), weights))
    if bad is None:
        p = EnvParams(profile=paper, **kw)
        assert (p.w_latency, p.w_energy, p.w_accuracy) == weights
    else:
        with pytest.raises(ValueError, match=rf"EnvParams\.{bad} must be in \[0, 1\]"):
            EnvParams(profile=paper, **kw)


@pytest.mark.parametrize(
    "mix,pattern",
    [
        ([0.6, 0.5, -0.1], r"EnvParams\.task_mix must be in \[0, 1\]"),
        ([0.3, 0.3, 0.3], r"EnvParams\.task_mix must sum to 1"),
        ([0.5, 0.5], r"EnvParams\.task_mix must have one entry per task type \(3\)"),
        ([0.25, 0.25, 0.25, 0.25], r"EnvParams\.task_mix must have one entry per task type"),
        (0.5, r"EnvParams\.task_mix"),
    ],
)
def test_task_mix_not_a_distribution_rejected(paper, mix, pattern):
    with pytest.raises(ValueError, match=pattern):
        EnvParams(profile=paper, task_mix=mix)


def test_task_mix_valid_accepted(paper):
    p = EnvParams(profile=paper, task_mix=[0.0, 1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(p.task_mix), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", SCALAR_FIELDS)
def test_non_finite_scalar_rejected(paper, name, bad):
    with pytest.raises(ValueError, match=rf"EnvParams\.{name}\b"):
        EnvParams(profile=paper, **{name: bad})


def test_non_finite_scalar_message_says_finite(paper):
    with pytest.raises(ValueError, match=r"EnvParams\.bandwidth must be finite"):
        EnvParams(profile=paper, bandwidth=math.nan)


def test_non_finite_task_mix_rejected(paper):
    with pytest.raises(ValueError, match=r"EnvParams\.task_mix must be finite"):
        EnvParams(profile=paper, task_mix=[math.nan, 0.5, 0.5])


# --------------------------------------------------------------------------- validation: TaskProfile


def _with(paper: TaskProfile, **updates) -> dict:
    kw = {name: np.asarray(getattr(paper, name)).copy() for name in PROFILE_FIELDS}
    kw.update(updates)
    return kw


@pytest.mark.parametrize("name", ["flops_local", "acc_local", "snr_mid_db", "data_bits", "exp_accuracy"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_profile_array_rejected(paper, name, bad):
    arr = np.asarray(getattr(paper, name), np.float64).copy()
    arr[1] = bad
    with pytest.raises(ValueError, match=rf"TaskProfile\.{name} must be finite"):
        TaskProfile(**_with(paper, **{name: arr}), names=paper.names)


@pytest.mark.parametrize("name", ["flops_server", "acc_min", "snr_width_db"])
def test_profile_array_wrong_length_rejected(paper, name):
    short = np.asarray(getattr(paper, name))[:2]
    with pytest.raises(ValueError, match=rf"TaskProfile\.{name} has 2 entries"):
        TaskProfile(**_with(paper, **{name: short}))


def test_first_profile_array_wrong_length_names_both(paper):
    with pytest.raises(ValueError, match=r"flops_local"):
        TaskProfile(**_with(paper, flops_local=np.array([1e9, 2e9])))


def test_scalar_profile_field_rejected(paper):
    with pytest.raises(ValueError, match=r"TaskProfile\.acc_min must be an array of shape \(M,\)"):
        TaskProfile(**_with(paper, acc_min=0.5))


@pytest.mark.parametrize("name", ["flops_local", "flops_extract", "flops_server", "data_bits", "snr_width_db", "exp_data"])
@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_profile_field_rejected(paper, name, bad):
    arr = np.asarray(getattr(paper, name), np.float64).copy()
    arr[2] = bad
    with pytest.raises(ValueError, match=rf"TaskProfile\.{name} must be in \(0, inf\)"):
        TaskProfile(**_with(paper, **{name: arr}))


@pytest.mark.parametrize("name", ["acc_local", "acc_min"])
@pytest.mark.parametrize("bad", [0.0, -0.1, 1.01, 2.0])
def test_accuracy_outside_unit_interval_rejected(paper, name, bad):
    arr = np.asarray(getattr(paper, name), np.float64).copy()
    arr[0] = bad
    with pytest.raises(ValueError, match=rf"TaskProfile\.{name} must be in \(0, 1\]"):
        TaskProfile(**_with(paper, **{name: arr}))


@pytest.mark.parametrize("name", ["acc_local", "acc_min"])
def test_accuracy_one_accepted(paper, name):
    prof = TaskProfile(**_with(paper, **{name: np.array([1.0, 1.0, 1.0])}))
    np.testing.assert_array_equal(np.asarray(getattr(prof, name)), [1.0, 1.0, 1.0])


def test_zero_exponents_of_extract_and_accuracy_accepted(paper):
    prof = TaskProfile(**_with(paper, exp_extract=np.zeros(3), exp_accuracy=np.zeros(3)))
    assert np.all(np.asarray(prof.exp_accuracy) == 0)


@pytest.mark.parametrize("names", [("text", "image"), ("a", "b", "c", "d")])
def test_names_length_mismatch_rejected(paper, names):
    with pytest.raises(ValueError, match=r"TaskProfile\.names has %d entries" % len(names)):
        TaskProfile(**_with(paper), names=names)


def test_profile_replace_validates(paper):
    with pytest.raises(ValueError, match=r"TaskProfile\.acc_local"):
        paper.replace(acc_local=np.array([0.9, 0.7, 1.5]))
    ok = paper.replace(acc_local=np.array([0.8, 0.7, 0.5], np.float32))
    assert float(ok.acc_local[0]) == pytest.approx(0.8)
    assert ok.names == paper.names
    assert float(paper.acc_local[0]) == pytest.approx(0.9)  # original untouched


# --------------------------------------------------------------------------- replace and batches


def test_replace_validates_again(defaults):
    with pytest.raises(ValueError, match=r"EnvParams\.bandwidth"):
        defaults.replace(bandwidth=-1)
    with pytest.raises(ValueError, match=r"EnvParams\.mu_min"):
        defaults.replace(mu_min=0.0)
    with pytest.raises(ValueError, match=r"must sum to 1"):
        defaults.replace(w_latency=0.9)


def test_valid_replace_works(defaults):
    p = defaults.replace(bandwidth=5e6, w_latency=0.5, w_energy=0.25, w_accuracy=0.25)
    assert p.bandwidth == 5e6
    assert (p.w_latency, p.w_energy, p.w_accuracy) == (0.5, 0.25, 0.25)
    assert p.noise_power == defaults.noise_power
    assert p.profile is defaults.profile
    assert defaults.bandwidth == 10e6


def test_batched_params_validate_elementwise(defaults):
    p = defaults.replace(bandwidth=np.array([5e6, 1e7]))
    np.testing.assert_array_equal(np.asarray(p.bandwidth), [5e6, 1e7])
    with pytest.raises(ValueError, match=r"EnvParams\.bandwidth"):
        defaults.replace(bandwidth=np.array([5e6, -1.0]))
    with pytest.raises(ValueError, match=r"EnvParams\.mu_min"):
        defaults.replace(mu_min=np.array([0.1, 0.5, 1.2]))
    # element-wise ordering: only the second pair is inverted
    with pytest.raises(ValueError, match=r"EnvParams\.power_min must be <= EnvParams\.power_max"):
        defaults.replace(power_min=np.array([0.01, 0.05]), power_max=np.array([0.09, 0.04]))
    # element-wise weight sums
    defaults.replace(w_latency=np.array([0.5, 0.2]), w_energy=np.array([0.25, 0.4]), w_accuracy=np.array([0.25, 0.4]))
    with pytest.raises(ValueError, match=r"must sum to 1"):
        defaults.replace(w_latency=np.array([0.5, 0.3]), w_energy=np.array([0.25, 0.4]), w_accuracy=np.array([0.25, 0.4]))


def test_batched_task_mix_validates_rows(defaults):
    ok = defaults.replace(task_mix=np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    assert np.asarray(ok.task_mix).shape == (2, 3)
    with pytest.raises(ValueError, match=r"EnvParams\.task_mix must sum to 1"):
        defaults.replace(task_mix=np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.6]]))


# --------------------------------------------------------------------------- JAX rebuilds do not validate


def test_tree_map_rebuild_does_not_validate(defaults):
    zeros = jax.tree.map(lambda x: 0, defaults)  # every weight 0, bandwidth 0: invalid as params
    assert isinstance(zeros, EnvParams)
    assert zeros.bandwidth == 0 and zeros.w_latency == 0 and zeros.mu_min == 0
    assert zeros.profile.flops_local == 0
    assert zeros.profile.names == defaults.profile.names
    nones = jax.tree.map(lambda x: None, defaults)
    assert nones.bandwidth is None and nones.profile.acc_min is None


def test_grad_wrt_params_returns_envparams(defaults):
    def f(q):
        return -1e-7 * q.bandwidth - jnp.sum(q.profile.acc_local) + 3.0 * q.mu_min

    g = jax.grad(f)(defaults)
    assert isinstance(g, EnvParams)
    assert isinstance(g.profile, TaskProfile)
    assert float(g.bandwidth) == pytest.approx(-1e-7)
    np.testing.assert_allclose(np.asarray(g.profile.acc_local), [-1.0, -1.0, -1.0])
    assert float(g.mu_min) == pytest.approx(3.0)
    assert float(g.noise_power) == 0.0


def test_grad_through_physics(defaults):
    """A gradient of QoE w.r.t. params is an EnvParams with finite (possibly negative) entries."""
    task = jnp.array([0, 1, 2, 1])
    dist = jnp.full((4,), 50.0)
    fading = jnp.ones((4, 4))
    budget = jnp.full((4,), 0.1)
    action = semjax.Action(
        choice=jnp.array([1, 2, 3, 0]), power=jnp.full((4,), 0.05),
        freq=jnp.full((4,), 1.6e9), mu=jnp.full((4,), 0.3),
    )

    def f(q):
        return jnp.mean(semjax.physics.step_metrics(q, task, dist, fading, budget, action).qoe)

    g = jax.jit(jax.grad(f))(defaults)
    assert isinstance(g, EnvParams)
    leaves = [np.asarray(x) for x in jax.tree.leaves(g)]
    assert all(np.all(np.isfinite(x)) for x in leaves)
    # more noise can only hurt the offloaders' accuracy: a negative gradient, built without raising
    assert float(g.noise_power) < 0


@pytest.fixture(scope="module")
def small_env():
    return semjax.SemanticMEC(num_ues=2, num_channels=2, queue_len=3)


def test_params_through_jit(small_env, defaults):
    key = jax.random.key(0)
    k = small_env.num_channels
    obs = jax.jit(small_env.reset)(key, defaults.replace(bandwidth=5e6))[0]
    # observation feature 10: log10(bandwidth) - 7
    np.testing.assert_allclose(np.asarray(obs[:, k + 8]), np.log10(0.5), rtol=1e-5)


def test_params_through_vmap_with_tree_map_in_axes(small_env, defaults):
    key = jax.random.key(0)
    k = small_env.num_channels
    batch = defaults.replace(bandwidth=np.array([5e6, 1e7, 2e7], np.float32))
    axes = jax.tree_util.tree_map_with_path(
        lambda path, x: 0 if jax.tree_util.keystr(path) == ".bandwidth" else None, batch
    )
    assert isinstance(axes, EnvParams) and axes.bandwidth == 0 and axes.noise_power is None
    obs, state = jax.jit(jax.vmap(small_env.reset, in_axes=(None, axes)))(key, batch)
    assert obs.shape == (3, small_env.num_ues, small_env.obs_dim)
    np.testing.assert_allclose(np.asarray(obs[:, 0, k + 8]), np.log10([0.5, 1.0, 2.0]), rtol=1e-5, atol=1e-6)
    # same key: the world draw does not depend on the bandwidth
    np.testing.assert_array_equal(np.asarray(state.distance[0]), np.asarray(state.distance[2]))


# --------------------------------------------------------------------------- hypothesis properties


@given(a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0))
def test_any_convex_weights_accepted(a, b):
    assume(a + b <= 1.0)
    c = 1.0 - (a + b)
    p = EnvParams(profile=_PAPER, w_latency=a, w_energy=b, w_accuracy=c)
    assert (p.w_latency, p.w_energy, p.w_accuracy) == (a, b, c)


@given(bw=st.floats(min_value=0.0, exclude_min=True, allow_infinity=False, allow_nan=False))
def test_any_positive_bandwidth_accepted(bw):
    assert EnvParams(profile=_PAPER, bandwidth=bw).bandwidth == bw


@given(bw=st.floats(max_value=0.0, allow_nan=False))
def test_any_non_positive_bandwidth_rejected(bw):
    with pytest.raises(ValueError, match=r"EnvParams\.bandwidth"):
        EnvParams(profile=_PAPER, bandwidth=bw)


@given(mu=st.floats(allow_nan=True))
def test_mu_min_accepted_iff_in_unit_interval(mu):
    if 0.0 < mu <= 1.0:
        assert EnvParams(profile=_PAPER, mu_min=mu).mu_min == mu
    else:
        with pytest.raises(ValueError, match=r"EnvParams\.mu_min"):
            EnvParams(profile=_PAPER, mu_min=mu)



# --------------------------------------------------------------------------- profiles


def test_load_paper_equals_json(paper):
    data = _paper_dict()
    assert paper.names == tuple(data["task_types"]) == ("text", "image", "vqa")
    assert set(data["fields"]) == set(PROFILE_FIELDS)
    for name in PROFILE_FIELDS:
        np.testing.assert_array_equal(
            np.asarray(getattr(paper, name)), np.asarray(data["fields"][name]["values"], np.float32), err_msg=name
        )


def test_load_profile_passes_through_a_profile(paper):
    assert load_profile(paper) is paper


@pytest.fixture
def modified_path(tmp_path):
    data = _paper_dict()
    data["fields"]["flops_local"]["values"] = [4.0e9, 8.43e9, 8.31e9]
    data["fields"]["acc_local"]["values"] = [0.95, 0.70, 0.56]
    return _write(tmp_path, data, "modified.json")


@pytest.mark.parametrize("as_str", [False, True])
def test_load_profile_from_path(modified_path, as_str):
    prof = load_profile(str(modified_path) if as_str else modified_path)
    assert float(prof.flops_local[0]) == np.float32(4.0e9)
    assert float(prof.acc_local[0]) == np.float32(0.95)
    assert float(prof.flops_local[1]) == np.float32(8.43e9)
    assert prof.names == ("text", "image", "vqa")


def test_env_uses_profile_path(modified_path):
    env = semjax.SemanticMEC(profile=modified_path)
    assert float(env.profile.flops_local[0]) == np.float32(4.0e9)
    assert float(env.default_params.profile.flops_local[0]) == np.float32(4.0e9)
    params = EnvParams(profile=str(modified_path))
    assert float(params.profile.acc_local[0]) == np.float32(0.95)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match=r"nope\.json.*does not exist"):
        load_profile(path)
    with pytest.raises(ValueError, match=r"does not exist"):
        semjax.SemanticMEC(profile=str(path))


def test_unknown_builtin_name():
    with pytest.raises(ValueError, match=r"'nosuchprofile' is neither a built-in profile.*paper"):
        load_profile("nosuchprofile")


def test_invalid_json(tmp_path):
    path = _write(tmp_path, '{"fields": {"flops_local": [1, 2,', "broken.json")
    with pytest.raises(ValueError, match=r"broken\.json.*not valid JSON"):
        load_profile(path)


def test_missing_field(tmp_path):
    data = _paper_dict()
    del data["fields"]["acc_min"]
    with pytest.raises(ValueError, match=r"missing field\(s\) \['acc_min'\]"):
        load_profile(_write(tmp_path, data))


def test_missing_fields_key(tmp_path):
    with pytest.raises(ValueError, match=r"missing key 'fields'"):
        load_profile(_write(tmp_path, {"task_types": ["a"]}))


def test_unknown_field(tmp_path):
    data = _paper_dict()
    data["fields"]["flops_bogus"] = {"values": [1.0, 2.0, 3.0]}
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['flops_bogus'\]"):
        load_profile(_write(tmp_path, data))


@pytest.mark.parametrize("values", [["a", 8.43e9, 8.31e9], [[1.0, 2.0], 3.0, 4.0], {"x": 1}])
def test_non_numeric_value(tmp_path, values):
    data = _paper_dict()
    data["fields"]["flops_local"]["values"] = values
    with pytest.raises(ValueError, match=r"TaskProfile\.flops_local"):
        load_profile(_write(tmp_path, data))


def test_null_value_rejected(tmp_path):
    data = _paper_dict()
    data["fields"]["acc_local"]["values"] = [0.9, None, 0.5]
    with pytest.raises(ValueError, match=r"acc_local"):
        load_profile(_write(tmp_path, data))


def test_entry_without_values(tmp_path):
    data = _paper_dict()
    data["fields"]["exp_data"] = {"unit": "1"}
    with pytest.raises(ValueError, match=r"'exp_data' has no 'values'"):
        load_profile(_write(tmp_path, data))


@pytest.mark.parametrize("values", [["3.72e9", 8.43e9, 8.31e9], [True, 8.43e9, 8.31e9]])
def test_string_or_bool_value_rejected(values):
    data = _paper_dict()
    data["fields"]["flops_local"]["values"] = values
    with pytest.raises(ValueError, match=r"flops_local"):
        profile_from_dict(data)


def test_invalid_value_in_file_names_file_and_field(tmp_path):
    data = _paper_dict()
    data["fields"]["acc_min"]["values"] = [0.5, 0.5, 1.5]
    path = _write(tmp_path, data, "badacc.json")
    with pytest.raises(ValueError, match=r"badacc\.json.*TaskProfile\.acc_min must be in \(0, 1\]"):
        load_profile(path)


def test_profile_from_dict_bare_lists(paper):
    data = {"task_types": ["text", "image", "vqa"],
            "fields": {name: list(values) for name, values in SPEC_PROFILE.items()}}
    prof = profile_from_dict(data)
    assert prof.names == ("text", "image", "vqa")
    for name in PROFILE_FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(prof, name)), np.asarray(getattr(paper, name)))
        assert np.asarray(getattr(prof, name)).dtype == np.float32
    anon = profile_from_dict({"fields": data["fields"]})
    assert anon.names == ()
    assert anon.num_types == 3


def test_profile_from_dict_wrong_length_names_field():
    fields = {name: list(values) for name, values in SPEC_PROFILE.items()}
    fields["exp_accuracy"] = [0.1, 0.2]
    with pytest.raises(ValueError, match=r"<dict>.*TaskProfile\.exp_accuracy has 2 entries"):
        profile_from_dict({"fields": fields})


# --------------------------------------------------------------------------- a 2-type profile end to end


@pytest.fixture(scope="module")
def two_type_path(tmp_path_factory):
    data = _paper_dict()
    data["task_types"] = ["text", "image"]
    for entry in data["fields"].values():
        entry["values"] = entry["values"][:2]
    return _write(tmp_path_factory.mktemp("two"), data, "two.json")


def test_two_type_profile_end_to_end(two_type_path):
    n, k = 3, 2
    env = semjax.SemanticMEC(num_ues=n, num_channels=k, queue_len=3, profile=two_type_path)
    assert env.num_task_types == 2
    params = env.default_params
    np.testing.assert_allclose(np.asarray(params.task_mix), [0.5, 0.5])
    with pytest.raises(ValueError, match=r"task_mix must have one entry per task type \(2\)"):
        params.replace(task_mix=[0.2, 0.3, 0.5])
    assert env.obs_dim == k + 10 + 2 + 1 + n
    key = jax.random.key(1)
    obs, state = jax.jit(env.reset)(key, params)
    assert obs.shape == (n, k + 10 + 2 + 1 + n)
    assert set(np.unique(np.asarray(env.task_queue(state, params)))) <= {0, 1}
    action = semjax.Action(
        choice=jnp.array([0, 1, 2]), power=jnp.full((n,), 0.05),
        freq=jnp.full((n,), 1.6e9), mu=jnp.full((n,), 0.5),
    )
    obs2, state2, reward, done, info = jax.jit(env.step)(key, state, action, params)
    assert obs2.shape == (n, env.obs_dim)
    assert int(state2.t) == 1 and not bool(done)
    assert np.isfinite(float(reward))
    assert info["qoe"].shape == (n,)
    np.testing.assert_array_equal(np.asarray(info["task_type"]), np.asarray(state.task_type))
    # UE 0 ran locally at freq_ref: qoe 0.5 exactly (SPEC section 3 invariant)
    assert float(info["qoe"][0]) == pytest.approx(0.5, abs=1e-6)
    # the 3-type default params do not fit this env
    with pytest.raises(ValueError, match=r"3 task types"):
        env.reset(key, EnvParams())
