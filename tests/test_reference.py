"""Tests of the float64 NumPy reference (semjax.reference) against hand calculations.

Expected numbers are computed here independently with plain ``math`` on Python floats,
from the equations of SPEC section 3 and the paper defaults of sections 4-5.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semjax import reference as ref

pytestmark = pytest.mark.filterwarnings("error")  # no overflow / divide warnings anywhere

REL = 1e-12

PROFILE = dict(
    flops_local=[3.72e9, 8.43e9, 8.31e9],
    flops_extract=[0.05e9, 0.2e9, 0.25e9],
    flops_server=[3.5e9, 8.0e9, 8.0e9],
    data_bits=[2048.0, 98304.0, 100352.0],
    exp_data=[1.0, 1.0, 1.0],
    exp_extract=[0.5, 0.5, 0.5],
    exp_accuracy=[0.1, 0.2, 0.25],
    acc_local=[0.90, 0.70, 0.56],
    snr_mid_db=[0.0, 0.0, 0.0],
    snr_width_db=[2.0, 2.0, 2.0],
    acc_min=[0.5, 0.5, 0.5],
)
PARAMS = dict(
    bandwidth=10e6, noise_power=2e-3, path_loss_exponent=3.0, ref_distance=50.0,
    distance_min=25.0, distance_max=100.0, power_min=0.01, power_max=0.09,
    freq_min=1.5e9, freq_max=1.7e9, freq_ref=1.6e9, ue_cores=1280.0, server_cores=65536.0,
    server_freq=2.2e9, flops_per_cycle=2.0, kappa_ue=1e-26, kappa_server=1.2e-26,
    mu_min=0.1, t_max=5e-3, energy_budget_min=0.05, energy_budget_max=0.15,
    w_latency=1 / 3, w_energy=1 / 3, w_accuracy=1 / 3,
    slope_latency=1e3, slope_energy=10.0, slope_accuracy=2.0, task_mix=[1 / 3, 1 / 3, 1 / 3],
)


def make_params(**overrides):
    """Paper-default params as plain Python values (what an EnvParams would hold)."""
    fields = {**PARAMS, **overrides}
    return SimpleNamespace(**fields, profile=SimpleNamespace(**PROFILE))


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def approx(x):
    return pytest.approx(x, rel=REL, abs=0.0)


METRIC_KEYS = {"offloaded", "collided", "snr_db", "rate", "t_tx", "t_local", "t_server",
               "latency", "energy", "accuracy", "qoe", "reward"}


# ---------------------------------------------------------------- (a) local invariant

def test_all_local_at_freq_ref_is_exactly_half_default_weights():
    p = make_params()
    rng = np.random.default_rng(0)
    B, K, N = 7, 4, 5
    task = rng.integers(0, 3, (B, N))
    m = ref.step_metrics(p, task, rng.uniform(25, 100, (B, N)), rng.exponential(size=(B, K, N)),
                         rng.uniform(0.05, 0.15, (B, N)), np.zeros((B, N), int),
                         rng.uniform(0.01, 0.09, (B, N)), np.full((B, N), 1.6e9),
                         rng.uniform(0.1, 1.0, (B, N)))
    assert np.all(m["qoe"] == 0.5)
    assert np.all(m["offloaded"] == 0) and np.all(m["collided"] == 0)
    assert np.all(m["t_tx"] == 0) and np.all(m["t_server"] == 0)
    t_ref, e_ref, eps_ref = ref.local_reference(p, task)
    assert np.all(m["latency"] == t_ref) and np.all(m["energy"] == e_ref)
    assert np.all(m["accuracy"] == eps_ref)


@settings(max_examples=50, deadline=None)
@given(w=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).filter(lambda w: w[0] + w[1] <= 1.0),
       task=st.lists(st.integers(0, 2), min_size=1, max_size=6), seed=st.integers(0, 2**31))
def test_all_local_at_freq_ref_is_half_for_any_weights(w, task, seed):
    p = make_params(w_latency=w[0], w_energy=w[1], w_accuracy=1.0 - w[0] - w[1])
    rng = np.random.default_rng(seed)
    N = len(task)
    m = ref.step_metrics(p, np.array(task), rng.uniform(25, 100, N), rng.exponential(size=(3, N)),
                         rng.uniform(0.05, 0.15, N), np.zeros(N, int), 0.05, 1.6e9, 0.3)
    np.testing.assert_allclose(m["qoe"], 0.5, rtol=0, atol=1e-15)


def test_local_reference_hand_values():
    t_ref, e_ref, eps_ref = ref.local_reference(make_params(), np.array([0, 1, 2]))
    for i, (fl, acc) in enumerate(zip(PROFILE["flops_local"], PROFILE["acc_local"])):
        t = fl / (2.0 * 1280 * 1.6e9)
        assert t_ref[i] == approx(t)
        assert e_ref[i] == approx(1e-26 * t * 1.6e9**3)
        assert eps_ref[i] == acc
    assert t_ref[0] == approx(0.908203125e-3)  # 3.72e9 / 4.096e12


# ---------------------------------------------------------------- (b) worked example

def test_worked_offload_example_text_task():
    """UE0: text task offloaded on sub-channel 0; UE1: image task local at 1.7 GHz."""
    p = make_params()
    fading = np.array([[0.8, 2.0], [0.3, 0.4]])  # (K=2, N=2)
    m = ref.step_metrics(p, np.array([0, 1]), np.array([100.0, 50.0]), fading,
                         np.array([1e-3, 0.06]), np.array([1, 0]), np.array([0.05, 0.02]),
                         np.array([1.5e9, 1.7e9]), np.array([0.25, 0.5]))
    assert set(m) == METRIC_KEYS
    assert all(v.shape == (2,) and v.dtype == np.float64 for v in m.values())

    # --- UE0 by hand
    g = 0.8 * (100.0 / 50.0) ** -3.0  # 0.1
    nu = g * 0.05 / 2e-3  # 2.5
    snr_db = 10 * math.log10(nu)
    rate = 10e6 * math.log2(1 + nu)
    t_tx = 2048 * 0.25 / rate
    c = 2.0 * 1280 * 1.5e9
    t_loc = 0.05e9 / (math.sqrt(0.25) * c)
    t_srv = 3.5e9 / (2.0 * 65536 * 2.2e9)
    lat = t_tx + t_srv + t_loc
    en = 1e-26 * t_loc * 1.5e9**3 + 0.05 * t_tx + 1.2e-26 * t_srv * 2.2e9**3
    acc = 0.9 * 0.25**0.1 * sig((snr_db - 0.0) / 2.0)
    t_ref = 3.72e9 / (2.0 * 1280 * 1.6e9)
    e_ref = 1e-26 * t_ref * 1.6e9**3
    qoe = (sig(1e3 * (t_ref - lat)) + sig(10.0 * (e_ref - en)) + sig(2.0 * (acc - 0.9))) / 3
    assert lat < 5e-3 and acc > 0.5 and en > 1e-3  # only the energy penalty is active
    rew = qoe - (en - 1e-3) / 1e-3

    assert m["offloaded"][0] == 1 and m["collided"][0] == 0
    for key, val in dict(snr_db=snr_db, rate=rate, t_tx=t_tx, t_local=t_loc, t_server=t_srv,
                         latency=lat, energy=en, accuracy=acc, qoe=qoe, reward=rew).items():
        assert m[key][0] == approx(val), key

    # --- UE1 (local, image, freq 1.7 GHz): metrics on sub-channel 0 for SNR/rate only
    nu1 = 2.0 * 1.0 * 0.02 / 2e-3
    t1 = 8.43e9 / (2.0 * 1280 * 1.7e9)
    e1 = 1e-26 * t1 * 1.7e9**3
    t1_ref = 8.43e9 / (2.0 * 1280 * 1.6e9)
    e1_ref = 1e-26 * t1_ref * 1.6e9**3
    q1 = (sig(1e3 * (t1_ref - t1)) + sig(10.0 * (e1_ref - e1)) + 0.5) / 3
    assert e1 > 0.06 and t1 < 5e-3
    r1 = q1 - (e1 - 0.06) / 0.06
    assert m["offloaded"][1] == 0 and m["collided"][1] == 0
    for key, val in dict(snr_db=10 * math.log10(nu1), rate=10e6 * math.log2(1 + nu1), t_tx=0.0,
                         t_local=t1, t_server=t_srv, latency=t1, energy=e1, accuracy=0.7,
                         qoe=q1, reward=r1).items():
        assert m[key][1] == approx(val), key


def test_raw_upload_mu_one_and_clipping():
    """mu=1: no extraction, full model on the server; out-of-range actions are clipped."""
    p = make_params()
    m = ref.step_metrics(p, np.array([1]), np.array([50.0]), np.array([[1.0]]), np.array([0.1]),
                         np.array([1]), np.array([5.0]), np.array([9e9]), np.array([3.0]))
    nu = 1.0 * 0.09 / 2e-3  # power clipped to 0.09
    rate = 10e6 * math.log2(1 + nu)
    t_tx = 98304 / rate
    t_srv = 8.43e9 / (2.0 * 65536 * 2.2e9)
    assert m["t_local"][0] == 0.0
    assert m["t_tx"][0] == approx(t_tx)
    assert m["t_server"][0] == approx(t_srv)
    assert m["energy"][0] == approx(0.09 * t_tx + 1.2e-26 * t_srv * 2.2e9**3)
    assert m["accuracy"][0] == approx(0.7 * sig(10 * math.log10(nu) / 2))
    # freq 9e9 is clipped to 1.7e9 and mu below mu_min to 0.1 (local UE checks freq)
    m2 = ref.step_metrics(p, np.array([0, 0]), np.array([50.0, 50.0]), np.ones((1, 2)),
                          np.array([0.1, 0.1]), np.array([0, 1]), 0.05, np.array([9e9, 1e3]),
                          np.array([0.5, -1.0]))
    assert m2["t_local"][0] == approx(3.72e9 / (2.0 * 1280 * 1.7e9))
    assert m2["t_local"][1] == approx(0.05e9 / (0.1**0.5 * 2.0 * 1280 * 1.5e9))
    assert m2["t_tx"][1] == approx(2048 * 0.1 / (10e6 * math.log2(1 + 0.05 / 2e-3)))


# ---------------------------------------------------------------- (c) collisions

def test_collision_larger_gain_wins_and_loser_runs_locally():
    p = make_params()
    # Sub-channel 0 (choice 1): UE0 has the smaller fading but is closer, g0 = 1.0 * 8 = 8 >
    # g1 = 4.0 * 1 = 4, so UE1 loses. Sub-channel 1 (choice 2): g2 = 2.0 > g3 = 1.0, UE3 loses.
    fading = np.array([[1.0, 4.0, 0.5, 0.5],
                       [9.0, 9.0, 2.0, 1.0]])
    dist = np.array([25.0, 50.0, 50.0, 50.0])
    freq = np.array([1.6e9, 1.55e9, 1.6e9, 1.7e9])
    task = np.array([0, 2, 1, 0])
    m = ref.step_metrics(p, task, dist, fading, np.full(4, 0.1), np.array([1, 1, 2, 2]),
                         np.full(4, 0.05), freq, np.full(4, 0.5))
    np.testing.assert_array_equal(m["offloaded"], [1, 0, 1, 0])
    np.testing.assert_array_equal(m["collided"], [0, 1, 0, 1])
    # losers: local with their own freq, no tx, no server energy, local accuracy
    for n in (1, 3):
        fl = PROFILE["flops_local"][task[n]]
        t = fl / (2.0 * 1280 * freq[n])
        assert m["t_local"][n] == approx(t) and m["latency"][n] == approx(t)
        assert m["t_tx"][n] == 0.0
        assert m["energy"][n] == approx(1e-26 * t * freq[n] ** 3)
        assert m["accuracy"][n] == PROFILE["acc_local"][task[n]]
    # a loser's SNR is reported on sub-channel 0 (UE3 chose sub-channel 1 = choice 2)
    assert m["snr_db"][3] == approx(10 * math.log10(0.5 * 0.05 / 2e-3))
    # server time counts the winners only (text and image, both mu < 1)
    t_srv = (3.5e9 + 8.0e9) / (2.0 * 65536 * 2.2e9)
    np.testing.assert_allclose(m["t_server"], t_srv, rtol=REL)
    # winners' SNR on their own sub-channels
    assert m["snr_db"][0] == approx(10 * math.log10(8.0 * 0.05 / 2e-3))
    assert m["snr_db"][2] == approx(10 * math.log10(2.0 * 0.05 / 2e-3))


@pytest.mark.parametrize("fade", [0.7, 0.0])
def test_collision_exact_tie_lowest_index_wins(fade):
    p = make_params()
    N = 3
    fading = np.full((2, N), fade)
    m = ref.step_metrics(p, np.zeros(N, int), np.full(N, 60.0), fading, np.full(N, 0.1),
                         np.array([2, 2, 2]), np.full(N, 0.05), np.full(N, 1.6e9), np.full(N, 0.5))
    np.testing.assert_array_equal(m["offloaded"], [1, 0, 0])
    np.testing.assert_array_equal(m["collided"], [0, 1, 1])
    # the tie-break is by index, not position of the winner: UE1 and UE2 tie, UE0 local
    m = ref.step_metrics(p, np.zeros(N, int), np.full(N, 60.0), fading, np.full(N, 0.1),
                         np.array([0, 1, 1]), np.full(N, 0.05), np.full(N, 1.6e9), np.full(N, 0.5))
    np.testing.assert_array_equal(m["offloaded"], [0, 1, 0])
    np.testing.assert_array_equal(m["collided"], [0, 0, 1])


def test_all_on_one_channel_n_not_k():
    p = make_params()
    rng = np.random.default_rng(3)
    N, K = 6, 2
    fading = rng.exponential(size=(K, N))
    dist = rng.uniform(25, 100, N)
    m = ref.step_metrics(p, rng.integers(0, 3, N), dist, fading, np.full(N, 0.1),
                         np.full(N, 2), 0.05, 1.6e9, 0.2)
    g = fading[1] * (dist / 50.0) ** -3.0
    expected = np.zeros(N)
    expected[np.argmax(g)] = 1
    np.testing.assert_array_equal(m["offloaded"], expected)
    np.testing.assert_array_equal(m["collided"], 1 - expected)


# ---------------------------------------------------------------- (d) zero fading

def test_zero_fading_everything_finite():
    p = make_params()
    N, K = 4, 4
    mu = np.array([0.1, 0.5, 1.0, 0.1])
    task = np.array([0, 1, 2, 1])
    m = ref.step_metrics(p, task, np.full(N, 100.0), np.zeros((K, N)), np.full(N, 0.1),
                         np.array([1, 2, 3, 0]), np.full(N, 0.05), np.full(N, 1.6e9), mu)
    for key, v in m.items():
        assert np.all(np.isfinite(v)), key
    np.testing.assert_array_equal(m["offloaded"], [1, 1, 1, 0])
    np.testing.assert_array_equal(m["rate"], ref.RATE_FLOOR)
    np.testing.assert_allclose(m["snr_db"], -200.0, rtol=REL)
    for n in range(3):
        bits = PROFILE["data_bits"][task[n]] * mu[n] ** PROFILE["exp_data"][task[n]]
        assert m["t_tx"][n] == approx(bits / ref.RATE_FLOOR)
    assert m["reward"][2] < -1e4  # huge latency penalty, but finite
    obs = ref.observation(p, task, np.full(N, 100.0), np.full(N, 0.1), np.zeros((K, N)), 0, 20)
    assert np.all(np.isfinite(obs))
    np.testing.assert_array_equal(obs[:, :K], math.log10(ref.GAIN_FLOOR))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 6), k=st.integers(1, 5),
       zero_frac=st.floats(0.0, 1.0))
def test_random_valid_inputs_are_finite(seed, n, k, zero_frac):
    p = make_params()
    rng = np.random.default_rng(seed)
    fading = rng.exponential(size=(2, k, n)) * (rng.uniform(size=(2, k, n)) > zero_frac)
    m = ref.step_metrics(p, rng.integers(0, 3, (2, n)), rng.uniform(25, 100, (2, n)), fading,
                         rng.uniform(0.05, 0.15, (2, n)), rng.integers(0, k + 1, (2, n)),
                         rng.uniform(0.0, 0.2, (2, n)), rng.uniform(1e9, 2e9, (2, n)),
                         rng.choice([0.1, 0.37, 1.0], (2, n)))
    for key, v in m.items():
        assert v.shape == (2, n) and np.all(np.isfinite(v)), key
    # at most one winner per sub-channel, and every chooser either wins or collides
    assert np.all(m["offloaded"] + m["collided"] <= 1)
    assert np.all(m["qoe"] >= 0) and np.all(m["qoe"] <= 1)


def test_batch_axes_match_unbatched():
    p = make_params()
    rng = np.random.default_rng(5)
    B, K, N = 4, 3, 5
    args = (rng.integers(0, 3, (B, N)), rng.uniform(25, 100, (B, N)),
            rng.exponential(size=(B, K, N)), rng.uniform(0.05, 0.15, (B, N)),
            rng.integers(0, K + 1, (B, N)), rng.uniform(0.01, 0.09, (B, N)),
            rng.uniform(1.5e9, 1.7e9, (B, N)), rng.uniform(0.1, 1.0, (B, N)))
    mb = ref.step_metrics(p, *args)
    for b in range(B):
        mi = ref.step_metrics(p, *(a[b] for a in args))
        for key in METRIC_KEYS:
            np.testing.assert_array_equal(mb[key][b], mi[key])


# ---------------------------------------------------------------- observation / state

def test_observation_layout_and_hand_values():
    p = make_params()
    K, N, M, Q = 3, 2, 3, 20
    fading = np.array([[1.0, 0.0], [0.5, 2.0], [4.0, 1e-3]])
    dist = np.array([50.0, 100.0])
    budget = np.array([0.08, 0.12])
    task = np.array([2, 0])
    obs = ref.observation(p, task, dist, budget, fading, 5, Q)
    D = K + 10 + M + 1 + N
    assert obs.shape == (N, D) and obs.dtype == np.float64
    # agent 1: distance 100 -> large-scale gain 1/8; task text
    g1 = [0.0, 2.0 / 8, 1e-3 / 8]
    expected = [math.log10(max(g, 1e-10)) for g in g1]
    t_ref = 3.72e9 / (2.0 * 1280 * 1.6e9)
    e_ref = 1e-26 * t_ref * 1.6e9**3
    expected += [math.log10(3.72), math.log10(3.5), t_ref / 5e-3, e_ref / 0.12, 0.9, 5.0, 1.2,
                 0.5, 0.0, math.log10(2.0), 1.0, 0.0, 0.0, 5 / 20, 0.0, 1.0]
    np.testing.assert_allclose(obs[1], expected, rtol=REL, atol=1e-15)
    np.testing.assert_allclose(obs[0, :K], np.log10([1.0, 0.5, 4.0]), rtol=REL, atol=1e-15)
    np.testing.assert_array_equal(obs[0, K + 10:K + 10 + M], [0, 0, 1])
    np.testing.assert_array_equal(obs[0, -N:], [1, 0])

    ws = ref.world_state(obs)
    assert ws.shape == (N, N * D + N)
    for n in range(N):
        np.testing.assert_array_equal(ws[n, :N * D], obs.reshape(-1))
        np.testing.assert_array_equal(ws[n, N * D:], np.eye(N)[n])

    # batched with per-env t
    obs_b = ref.observation(p, np.stack([task, task]), np.stack([dist, dist]),
                            np.stack([budget, budget]), np.stack([fading, fading]),
                            np.array([5, 10]), Q)
    assert obs_b.shape == (2, N, D)
    np.testing.assert_array_equal(obs_b[0], obs)
    np.testing.assert_array_equal(obs_b[1, :, K + 10 + M], 0.5)
    assert ref.world_state(obs_b).shape == (2, N, N * D + N)


# ---------------------------------------------------------------- envs

def test_numpy_env_episode_and_validation():
    p = make_params()
    with pytest.raises(ValueError):
        ref.NumpyMEC(params=None)
    env = ref.NumpyMEC(num_ues=3, num_channels=2, queue_len=4, params=p, seed=1)
    obs = env.reset()
    D = 2 + 10 + 3 + 1 + 3
    assert obs.shape == (3, D) and env.world_state().shape == (3, 3 * D + 3)
    assert env.task_types.shape == (4, 3) and env.fading.shape == (2, 3) and env.t == 0
    assert np.all((env.distance >= 25) & (env.distance <= 100))
    assert np.all((env.energy_budget >= 0.05) & (env.energy_budget <= 0.15))
    with pytest.raises(ValueError):
        env.step([0, 3, 0], 0.05, 1.6e9, 0.5)
    for t in range(4):
        tasks, fading = env.task_types[t].copy(), env.fading.copy()
        obs, r, done, info = env.step([1, 2, 0], 0.05, 1.6e9, 0.5)
        expect = ref.step_metrics(p, tasks, env.distance, fading, env.energy_budget,
                                  np.array([1, 2, 0]), 0.05, 1.6e9, 0.5)
        assert r == pytest.approx(expect["reward"].sum(), rel=REL)
        np.testing.assert_array_equal(info["task_type"], tasks)
        assert obs.shape == (3, D) and done == (t == 3)
    assert env.t == 4
    with pytest.raises(RuntimeError):
        env.step([0, 0, 0], 0.05, 1.6e9, 0.5)


def test_batched_env_shapes_and_autoreset():
    p = make_params()
    B, N, K, Q = 3, 4, 2, 3
    env = ref.BatchedNumpyMEC(B, num_ues=N, num_channels=K, queue_len=Q, params=p, seed=0)
    D = K + 10 + 3 + 1 + N
    obs = env.reset()
    assert obs.shape == (B, N, D)
    assert env.task_types.shape == (B, Q, N) and env.distance.shape == (B, N)
    assert env.energy_budget.shape == (B, N) and env.fading.shape == (B, K, N)
    assert env.t.shape == (B,)

    env.t = np.array([0, 2, 1])  # env 1 is on its last step
    old_dist, old_tasks = env.distance.copy(), env.task_types.copy()
    act = (np.ones((B, N), int), np.full((B, N), 0.05), np.full((B, N), 1.6e9), np.full((B, N), 0.3))
    obs, reward, done, info = env.step(*act)
    assert obs.shape == (B, N, D) and reward.shape == (B,) and done.dtype == bool
    np.testing.assert_array_equal(done, [False, True, False])
    np.testing.assert_array_equal(env.t, [1, 0, 2])
    for key in METRIC_KEYS:
        assert info[key].shape == (B, N)
    np.testing.assert_array_equal(info["task_type"], old_tasks[np.arange(B), [0, 2, 1]])
    np.testing.assert_allclose(reward, info["reward"].sum(-1), rtol=REL)
    # non-done envs keep their episode; the done env got a fresh one
    np.testing.assert_array_equal(env.distance[[0, 2]], old_dist[[0, 2]])
    assert not np.array_equal(env.distance[1], old_dist[1])
    # returned obs is the current (post-reset) state's observation
    np.testing.assert_array_equal(obs, env.observation())
    np.testing.assert_allclose(obs[:, :, K + 10 + 3], np.repeat([[1 / Q], [0.0], [2 / Q]], N, 1))

    # a full run: every env finishes together after Q steps from a joint reset
    env.reset()
    for i in range(2 * Q):
        _, _, done, _ = env.step(*act)
        assert np.all(done == ((i + 1) % Q == 0))


def test_batched_matches_single_env_on_mirrored_state():
    p = make_params()
    N, K, Q = 4, 3, 5
    singles = [ref.NumpyMEC(N, K, Q, params=p, seed=s) for s in range(3)]
    for e in singles:
        e.reset()
    batched = ref.BatchedNumpyMEC(3, N, K, Q, params=p, seed=99)
    batched.reset()
    batched.task_types = np.stack([e.task_types for e in singles])
    batched.distance = np.stack([e.distance for e in singles])
    batched.energy_budget = np.stack([e.energy_budget for e in singles])
    batched.fading = np.stack([e.fading for e in singles])
    batched.t = np.array([e.t for e in singles])
    np.testing.assert_array_equal(batched.observation(), np.stack([e.observation() for e in singles]))
    rng = np.random.default_rng(0)
    act = (rng.integers(0, K + 1, (3, N)), rng.uniform(0.01, 0.09, (3, N)),
           rng.uniform(1.5e9, 1.7e9, (3, N)), rng.uniform(0.1, 1, (3, N)))
    _, rb, _, ib = batched.step(*act)
    for i, e in enumerate(singles):
        _, r, _, info = e.step(*(a[i] for a in act))
        assert rb[i] == r
        for key in METRIC_KEYS:
            np.testing.assert_array_equal(ib[key][i], info[key])


# ---------------------------------------------------------------- (f) reproducibility

def _rollout(env, steps=25):
    rng = np.random.default_rng(123)
    out = [env.reset()]
    shape = out[0].shape[:-1]
    for _ in range(steps):
        obs, r, d, _ = env.step(rng.integers(0, env.num_channels + 1, shape),
                                rng.uniform(0.01, 0.09, shape), rng.uniform(1.5e9, 1.7e9, shape),
                                rng.uniform(0.1, 1.0, shape))
        out += [obs, np.asarray(r, dtype=float), np.asarray(d, dtype=float)]
        if np.ndim(d) == 0 and d:  # the single env does not auto-reset
            out.append(env.reset())
    return out


@pytest.mark.parametrize("make", [
    lambda seed: ref.NumpyMEC(4, 4, 10, params=make_params(), seed=seed),
    lambda seed: ref.BatchedNumpyMEC(3, 4, 4, 10, params=make_params(), seed=seed),
])
def test_seeded_reproducibility(make):
    a, b, c = _rollout(make(7)), _rollout(make(7)), _rollout(make(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    env = make(None)
    first = env.reset(seed=11)
    env.step(*(np.zeros(first.shape[:-1], int), 0.05, 1.6e9, 0.5))
    np.testing.assert_array_equal(env.reset(seed=11), first)


def test_params_accept_numpy_arrays_and_task_mix():
    p = make_params(task_mix=np.array([1.0, 0.0, 0.0]), bandwidth=np.float32(10e6))
    env = ref.NumpyMEC(2, 2, 50, params=p, seed=0)
    env.reset()
    assert np.all(env.task_types == 0)
    assert env.params.bandwidth.dtype == np.float64
