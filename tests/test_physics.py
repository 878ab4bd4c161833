"""semjax.physics against the float64 NumPy reference, on random and edge inputs.

Every comparison is run twice: params traced (jit arguments) and params closed over as
constants (XLA folds them), since constant folding and reassociation are where float32
physics with kappa = 1e-26 and f^3 = 1e27 breaks.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import semjax
from semjax import physics, reference
from semjax.physics import Action

# Relative tolerance of float32 physics against the float64 oracle, with absolute floors per
# field for values that are legitimately ~0 (a deep-fade accuracy, a local UE's t_tx).
RTOL = 1e-4
ATOL = {
    "snr_db": 1e-4,
    "rate": 1e-3,
    "t_tx": 1e-12,
    "t_local": 1e-12,
    "t_server": 1e-12,
    "latency": 1e-12,
    "energy": 1e-10,
    "accuracy": 1e-6,
    "qoe": 1e-6,
    "reward": 1e-5,
}


def _traced(params, inputs):
    return jax.jit(physics.step_metrics)(params, *inputs)


def _constant(params, inputs):
    return jax.jit(lambda *x: physics.step_metrics(params, *x))(*inputs)


def _compare(params, task_type, distance, fading, budget, choice, power, freq, mu, runner):
    action = Action(
        choice=jnp.asarray(choice, jnp.int32),
        power=jnp.asarray(power, jnp.float32),
        freq=jnp.asarray(freq, jnp.float32),
        mu=jnp.asarray(mu, jnp.float32),
    )
    inputs = (
        jnp.asarray(task_type, jnp.int32),
        jnp.asarray(distance, jnp.float32),
        jnp.asarray(fading, jnp.float32),
        jnp.asarray(budget, jnp.float32),
        action,
    )
    got = jax.device_get(runner(params, inputs))
    # The oracle sees exactly the float32 inputs the JAX code saw.
    ref = reference.step_metrics(
        params,
        np.asarray(inputs[0]),
        np.asarray(inputs[1], np.float64),
        np.asarray(inputs[2], np.float64),
        np.asarray(inputs[3], np.float64),
        np.asarray(action.choice),
        np.asarray(action.power, np.float64),
        np.asarray(action.freq, np.float64),
        np.asarray(action.mu, np.float64),
    )
    np.testing.assert_array_equal(got.offloaded, ref["offloaded"].astype(bool))
    np.testing.assert_array_equal(got.collided, ref["collided"].astype(bool))
    for name, atol in ATOL.items():
        value = np.asarray(got[name], np.float64)
        assert np.all(np.isfinite(value)), name
        np.testing.assert_allclose(value, ref[name], rtol=RTOL, atol=atol, err_msg=name)
    return got, ref


RUNNERS = pytest.mark.parametrize("runner", [_traced, _constant], ids=["traced", "constant"])


# ----------------------------------------------------------------------------- strategies


@st.composite
def worlds(draw, num_ues=None, num_channels=None):
    n = num_ues or draw(st.integers(1, 6))
    k = num_channels or draw(st.integers(1, 6))
    m = 3
    floats = lambda lo, hi: st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32)  # noqa: E731
    task_type = draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))
    distance = draw(st.lists(floats(25.0, 100.0), min_size=n, max_size=n))
    # Exp(1) fading with exact zeros and deep fades mixed in.
    fade = st.one_of(st.just(0.0), floats(1e-8, 1e-3), floats(1e-3, 12.0))
    fading = np.asarray(draw(st.lists(fade, min_size=k * n, max_size=k * n)), np.float32).reshape(k, n)
    budget = draw(st.lists(floats(0.05, 0.15), min_size=n, max_size=n))
    choice = draw(st.lists(st.integers(0, k), min_size=n, max_size=n))
    # Continuous parts partly outside their ranges: they must be clipped.
    power = draw(st.lists(floats(0.0, 0.2), min_size=n, max_size=n))
    freq = draw(st.lists(floats(1.0e9, 2.0e9), min_size=n, max_size=n))
    mu = draw(st.lists(st.one_of(st.just(1.0), st.just(0.1), floats(0.0, 1.2)), min_size=n, max_size=n))
    return task_type, distance, fading, budget, choice, power, freq, mu


def _no_near_tie(params, distance, fading, choice):
    """Exclude inputs whose collision outcome float32 rounding could flip."""
    g = reference.channel_gain(params, np.asarray(distance, np.float64), np.asarray(fading, np.float64))
    for k in range(g.shape[0]):
        users = [n for n, c in enumerate(choice) if c == k + 1]
        if len(users) > 1:
            vals = np.sort(g[k, users])[::-1]
            if vals[0] != vals[1] and vals[0] - vals[1] <= 1e-5 * vals[0]:
                return False
    return True


@st.composite
def param_sets(draw):
    """Valid EnvParams far from the defaults: scales over orders of magnitude."""
    log = lambda lo, hi: 10.0 ** draw(st.floats(lo, hi))  # noqa: E731
    f_lo = log(8.5, 9.5)
    w_lat = draw(st.floats(0.0, 1.0))
    w_en = draw(st.floats(0.0, 1.0 - w_lat))
    return semjax.EnvParams(
        bandwidth=log(5, 8),
        noise_power=log(-6, -1),
        path_loss_exponent=draw(st.floats(2.0, 4.5)),
        power_min=1e-3,
        power_max=log(-2, 0),
        freq_min=f_lo,
        freq_max=f_lo * draw(st.floats(1.0, 2.0)),
        freq_ref=f_lo * draw(st.floats(1.0, 1.5)),
        ue_cores=log(2, 4),
        server_cores=log(3, 6),
        server_freq=log(8.7, 9.5),
        kappa_ue=log(-28, -24),
        kappa_server=log(-28, -24),
        mu_min=draw(st.one_of(st.just(1.0), st.floats(0.01, 0.99))),  # not within float32 rounding of 1
        t_max=log(-4, -1),
        w_latency=w_lat,
        w_energy=w_en,
        w_accuracy=1.0 - w_lat - w_en,
        slope_latency=log(1, 5),
        slope_energy=log(-1, 3),
        slope_accuracy=log(-1, 1),
    )


# ----------------------------------------------------------------------------- against the oracle


@RUNNERS
@given(world=worlds())
def test_matches_reference_on_random_inputs(params, runner, world):
    task_type, distance, fading, budget, choice, *_ = world
    assume(_no_near_tie(params, distance, fading, choice))
    _compare(params, *world, runner=runner)


@RUNNERS
@given(p=param_sets(), world=worlds(num_ues=4, num_channels=3))
def test_matches_reference_with_random_params(runner, p, world):
    _, distance, fading, _, choice, *_ = world
    assume(_no_near_tie(p, distance, fading, choice))
    _compare(p, *world, runner=runner)


EDGE_CASES = {
    # fading -> 0 on every sub-channel, everyone offloads at mu_min
    "zero_fading": dict(fading=np.zeros((4, 4)), choice=[1, 2, 3, 4], mu=[0.1] * 4),
    # everyone on one sub-channel, N != K
    "one_channel_n6_k2": dict(fading=np.full((2, 6), 0.7), choice=[2] * 6, mu=[0.1] * 6),
    "mu_min": dict(fading=np.ones((4, 4)), choice=[1, 2, 3, 4], mu=[0.1] * 4),
    "raw_upload": dict(fading=np.ones((4, 4)), choice=[1, 2, 3, 4], mu=[1.0] * 4),
    "n2_k5": dict(fading=np.linspace(0.0, 3.0, 10).reshape(5, 2), choice=[5, 5], mu=[0.5, 0.5]),
    "all_local": dict(fading=np.ones((4, 4)), choice=[0] * 4, mu=[1.0] * 4),
}


@RUNNERS
@pytest.mark.parametrize("case", EDGE_CASES, ids=list(EDGE_CASES))
def test_edge_cases_match_reference(params, runner, case):
    spec = EDGE_CASES[case]
    k, n = spec["fading"].shape
    world = dict(
        task_type=np.arange(n) % 3,
        distance=np.linspace(25.0, 100.0, n),
        budget=np.full(n, 0.1),
        power=np.full(n, 0.09),
        freq=np.full(n, 1.7e9),
    ) | spec
    _compare(params, world["task_type"], world["distance"], world["fading"], world["budget"],
             world["choice"], world["power"], world["freq"], world["mu"], runner=runner)


# ----------------------------------------------------------------------------- hand calculations


def test_all_local_at_freq_ref_is_exactly_half(params):
    """SPEC's invariant, for every task type, under jit, traced and constant, any weights."""
    action = Action(jnp.zeros(6, jnp.int32), jnp.full(6, 0.05), jnp.full(6, 1.6e9), jnp.ones(6))
    args = (jnp.array([0, 1, 2, 0, 1, 2]), jnp.linspace(25.0, 100.0, 6), jnp.ones((4, 6)), jnp.full(6, 0.1), action)
    for p in (params, params.replace(w_latency=0.2, w_energy=0.3, w_accuracy=0.5),
              params.replace(w_latency=0.7, w_energy=0.1, w_accuracy=0.2)):
        for out in (_traced(p, args), _constant(p, args), physics.step_metrics(p, *args)):
            np.testing.assert_array_equal(np.asarray(out.qoe), np.full(6, 0.5, np.float32))


def test_offload_hand_calculation(params):
    """One image task offloaded at mu = 0.25 alone on sub-channel 2, every metric by hand."""
    fading = np.ones((3, 1), np.float32)
    fading[1, 0] = 0.5
    action = Action(jnp.array([2]), jnp.array([0.04]), jnp.array([1.5e9]), jnp.array([0.25]))
    m = physics.step_metrics(params, jnp.array([1]), jnp.array([100.0]), fading, jnp.array([0.06]), action)
    g = 0.5 * (100.0 / 50.0) ** -3.0
    nu = g * 0.04 / 2e-3
    rate = 10e6 * math.log2(1 + nu)
    t_tx = 98304 * 0.25 / rate
    c = 2 * 1280 * 1.5e9
    t_local = 0.2e9 / (0.25**0.5 * c)
    t_server = 8.0e9 / (2 * 65536 * 2.2e9)
    latency = t_tx + t_server + t_local
    energy = 1e-26 * t_local * 1.5e9**3 + 0.04 * t_tx + 1.2e-26 * t_server * 2.2e9**3
    snr_db = 10 * math.log10(nu)
    accuracy = 0.70 * 0.25**0.2 / (1 + math.exp(-snr_db / 2.0))
    t_ref = 8.43e9 / (2 * 1280 * 1.6e9)
    e_ref = 1e-26 * t_ref * 1.6e9**3
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    qoe = (sig(1e3 * (t_ref - latency)) + sig(10 * (e_ref - energy)) + sig(2 * (accuracy - 0.70))) / 3
    reward = qoe - max((energy - 0.06) / 0.06, 0) - max((0.5 - accuracy) / 0.5, 0)
    expected = dict(snr_db=snr_db, rate=rate, t_tx=t_tx, t_local=t_local, t_server=t_server,
                    latency=latency, energy=energy, accuracy=accuracy, qoe=qoe, reward=reward)
    assert bool(m.offloaded[0]) and not bool(m.collided[0])
    for name, value in expected.items():
        np.testing.assert_allclose(float(m[name][0]), value, rtol=2e-6, err_msg=name)


def test_collisions_strongest_wins_ties_to_lowest_index(params):
    # UEs 0, 1, 2 on sub-channel 1; UE 2 is nearest so has the largest gain; UE 3 alone on 2.
    fading = jnp.ones((2, 4))
    distance = jnp.array([80.0, 60.0, 40.0, 90.0])
    action = Action(jnp.array([1, 1, 1, 2]), jnp.full(4, 0.05), jnp.array([1.5e9, 1.6e9, 1.7e9, 1.6e9]), jnp.full(4, 0.5))
    m = physics.step_metrics(params, jnp.zeros(4, jnp.int32), distance, fading, jnp.full(4, 0.1), action)
    np.testing.assert_array_equal(m.offloaded, [False, False, True, True])
    np.testing.assert_array_equal(m.collided, [True, True, False, False])
    # Losers run the whole task locally at their own clock.
    np.testing.assert_allclose(m.t_local[:2], 3.72e9 / (2 * 1280 * np.array([1.5e9, 1.6e9])), rtol=1e-6)
    # Exact tie: same gain -> the lowest index wins.
    tie = physics.step_metrics(params, jnp.zeros(3, jnp.int32), jnp.full(3, 50.0), jnp.ones((1, 3)),
                               jnp.full(3, 0.1), Action(jnp.array([0, 1, 1]), jnp.full(3, 0.05), jnp.full(3, 1.6e9), jnp.full(3, 0.5)))
    np.testing.assert_array_equal(tie.offloaded, [False, True, False])
    np.testing.assert_array_equal(tie.collided, [False, False, True])


def test_server_time_is_shared_by_offloaded_work(params):
    action = Action(jnp.array([1, 2, 0]), jnp.full(3, 0.05), jnp.full(3, 1.6e9), jnp.array([0.5, 1.0, 0.5]))
    m = physics.step_metrics(params, jnp.array([0, 1, 2]), jnp.full(3, 50.0), jnp.ones((2, 3)), jnp.full(3, 0.1), action)
    # Text extracted (l^S = 3.5 GFLOPs) + raw image upload (l^S = l^U = 8.43 GFLOPs); the local vqa adds nothing.
    expected = (3.5e9 + 8.43e9) / (2 * 65536 * 2.2e9)
    np.testing.assert_allclose(m.t_server, expected, rtol=1e-6)
    # A raw upload costs no extraction time.
    assert float(m.t_local[1]) == 0.0


def test_zero_fading_is_finite(params):
    action = Action(jnp.arange(1, 5), jnp.full(4, 0.01), jnp.full(4, 1.5e9), jnp.full(4, 0.1))
    m = physics.step_metrics(params, jnp.array([0, 1, 2, 1]), jnp.full(4, 100.0), jnp.zeros((4, 4)), jnp.full(4, 0.05), action)
    for name, value in m.items():
        assert np.all(np.isfinite(np.asarray(value, np.float64))), name
    np.testing.assert_allclose(m.rate, physics.RATE_FLOOR)
    np.testing.assert_allclose(m.snr_db, -200.0)


def test_deep_fade_rate_uses_log1p(params):
    """At SNR ~ 1e-7, log2(1 + nu) in float32 would round to 0; log1p keeps 7 digits."""
    fading = jnp.full((1, 1), 1e-6)
    m = physics.step_metrics(params, jnp.array([0]), jnp.array([50.0]), fading, jnp.array([0.1]),
                             Action(jnp.array([1]), jnp.array([0.09]), jnp.array([1.6e9]), jnp.array([0.5])))
    nu = 1e-6 * 0.09 / 2e-3
    np.testing.assert_allclose(float(m.rate[0]), 10e6 * math.log1p(nu) / math.log(2), rtol=1e-5)


def test_vmap_over_bandwidths(params):
    """A batch of bandwidths: rate scales exactly with B, and each element equals its own run."""
    bandwidths = jnp.array([2.5e6, 5e6, 10e6, 20e6])
    batched = params.replace(bandwidth=bandwidths)
    axes = semjax.batch_axes(params, bandwidth=0)
    args = (jnp.array([0, 1, 2, 0]), jnp.full(4, 50.0), jnp.ones((4, 4)), jnp.full(4, 0.1),
            Action(jnp.arange(1, 5), jnp.full(4, 0.05), jnp.full(4, 1.6e9), jnp.full(4, 0.3)))
    out = jax.jit(jax.vmap(physics.step_metrics, in_axes=(axes, None, None, None, None, None)))(batched, *args)
    for i, b in enumerate(np.asarray(bandwidths)):
        single = physics.step_metrics(params.replace(bandwidth=float(b)), *args)
        np.testing.assert_allclose(out.qoe[i], single.qoe, rtol=1e-6)
    np.testing.assert_allclose(out.rate / bandwidths[:, None], np.broadcast_to(out.rate[2] / 10e6, (4, 4)), rtol=1e-6)


def test_step_metrics_mapping_interface(params):
    m = physics.step_metrics(params, jnp.zeros(2, jnp.int32), jnp.full(2, 50.0), jnp.ones((2, 2)), jnp.full(2, 0.1),
                             Action(jnp.zeros(2, jnp.int32), jnp.full(2, 0.05), jnp.full(2, 1.6e9), jnp.ones(2)))
    assert tuple(m.keys()) == physics.METRIC_FIELDS
    assert set(m.as_dict()) == set(physics.METRIC_FIELDS)
    with pytest.raises(KeyError):
        m["nope"]
    for name in physics.METRIC_FIELDS:
        assert m[name].shape == (2,)
