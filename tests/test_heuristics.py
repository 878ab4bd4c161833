"""Fixed policies: the greedy search against a brute-force NumPy search, and the simple ones."""

import itertools

import jax
import numpy as np

import semjax
from semjax import reference
from semjax.agents import heuristics


def _best_by_brute_force(params, state, ue, channel, freqs, powers, mus):
    """Every grid candidate of UE ``ue`` alone through the float64 oracle; the best reward."""
    args = dict(task_type=np.array([int(state.task_type[ue])]), distance=np.array([float(state.distance[ue])]),
                fading=np.asarray(state.fading, np.float64)[:, ue:ue + 1],
                energy_budget=np.array([float(state.energy_budget[ue])]))
    rewards = []
    for f in freqs:
        m = reference.step_metrics(params, args["task_type"], args["distance"], args["fading"], args["energy_budget"],
                                   np.array([0]), np.array([powers[0]]), np.array([f]), np.array([1.0]))
        rewards.append(m["reward"][0])
    for p, f, mu in itertools.product(powers, freqs, mus):
        m = reference.step_metrics(params, args["task_type"], args["distance"], args["fading"], args["energy_budget"],
                                   np.array([channel]), np.array([p]), np.array([f]), np.array([mu]))
        rewards.append(m["reward"][0])
    return max(rewards)


def test_greedy_picks_the_best_grid_candidate_per_ue():
    env = semjax.SemanticMEC(num_ues=3, num_channels=3, queue_len=4)
    params = env.default_params
    policy = jax.jit(heuristics.greedy(env, freq_points=3, power_points=3, mu_points=4))
    freqs = np.linspace(1.5e9, 1.7e9, 3)
    powers = np.linspace(0.01, 0.09, 3)
    mus = np.linspace(0.1, 1.0, 4)
    for seed in range(4):
        _, state = env.reset(jax.random.key(seed), params)
        action = policy(jax.random.key(0), state, params)
        got = reference.step_metrics(
            params, np.asarray(state.task_type), np.asarray(state.distance, np.float64),
            np.asarray(state.fading, np.float64), np.asarray(state.energy_budget, np.float64),
            np.asarray(action.choice), np.asarray(action.power, np.float64),
            np.asarray(action.freq, np.float64), np.asarray(action.mu, np.float64))
        for ue in range(env.num_ues):
            # own sub-channels never collide, and with one offloader at most per UE evaluation the
            # only coupling (server load) makes the joint reward at most the solo optimum.
            best = _best_by_brute_force(params, state, ue, ue + 1, freqs, powers, mus)
            assert got["reward"][ue] <= best + 1e-4
        solo = [_best_by_brute_force(params, state, ue, ue + 1, freqs, powers, mus) for ue in range(env.num_ues)]
        # the chosen actions are the solo argmaxes: evaluated alone they reach the solo optimum
        for ue in range(env.num_ues):
            alone = reference.step_metrics(
                params, np.asarray(state.task_type)[ue:ue + 1], np.asarray(state.distance, np.float64)[ue:ue + 1],
                np.asarray(state.fading, np.float64)[:, ue:ue + 1], np.asarray(state.energy_budget, np.float64)[ue:ue + 1],
                np.where(np.asarray(action.choice)[ue:ue + 1] > 0, ue + 1, 0), np.asarray(action.power, np.float64)[ue:ue + 1],
                np.asarray(action.freq, np.float64)[ue:ue + 1], np.asarray(action.mu, np.float64)[ue:ue + 1])
            np.testing.assert_allclose(alone["reward"][0], solo[ue], rtol=1e-4, atol=1e-5)


def test_simple_policies():
    env = semjax.SemanticMEC(num_ues=3, num_channels=4, queue_len=4)
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    local = heuristics.local(env)(jax.random.key(0), state, params)
    np.testing.assert_array_equal(local.choice, 0)
    np.testing.assert_allclose(local.freq, 1.6e9)
    raw = heuristics.raw_offload(env)(jax.random.key(0), state, params)
    np.testing.assert_array_equal(raw.choice, [1, 2, 3])
    np.testing.assert_allclose(raw.mu, 1.0)
    np.testing.assert_allclose(raw.power, 0.09)
    sem = heuristics.offload_own_channel(env, mu=0.2)(jax.random.key(0), state, params)
    text = np.asarray(state.task_type) == 0
    np.testing.assert_allclose(np.asarray(sem.mu)[text], 1.0)
    np.testing.assert_allclose(np.asarray(sem.mu)[~text], 0.2, rtol=1e-6)
    rnd = heuristics.random(env)(jax.random.key(1), state, params)
    assert np.all((np.asarray(rnd.choice) >= 0) & (np.asarray(rnd.choice) <= 4))
    assert np.all((np.asarray(rnd.mu) >= 0.1) & (np.asarray(rnd.mu) <= 1.0))
