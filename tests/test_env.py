"""SemanticMEC: reset/step semantics, observations vs the NumPy oracle, vmap, determinism."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import semjax
from semjax import reference
from semjax.physics import Action


def _local_action(n, freq=1.6e9):
    return Action(jnp.zeros(n, jnp.int32), jnp.full(n, 0.05), jnp.full(n, freq), jnp.ones(n))


def _ref_state(state):
    return dict(
        task_type=np.asarray(state.task_type),
        distance=np.asarray(state.distance, np.float64),
        energy_budget=np.asarray(state.energy_budget, np.float64),
        fading=np.asarray(state.fading, np.float64),
    )


def test_reset_draws_within_ranges(env, params):
    keys = jax.random.split(jax.random.key(1), 2000)
    obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    assert obs.shape == (2000, env.num_ues, env.obs_dim) and obs.dtype == jnp.float32
    queues = jax.vmap(env.task_queue, in_axes=(0, None))(state, params)
    assert queues.shape == (2000, env.queue_len, env.num_ues) and queues.dtype == jnp.int32
    np.testing.assert_array_equal(queues[:, 0], state.task_type)
    assert np.all(np.asarray(state.t) == 0)
    d, b, f = (np.asarray(x) for x in (state.distance, state.energy_budget, state.fading))
    assert d.min() >= 25.0 and d.max() <= 100.0 and abs(d.mean() - 62.5) < 1.0
    assert b.min() >= 0.05 and b.max() <= 0.15 and abs(b.mean() - 0.1) < 2e-3
    # Exp(1): mean 1, P(f > 1) = e^-1.
    assert f.min() >= 0.0 and abs(f.mean() - 1.0) < 0.02 and abs((f > 1).mean() - np.exp(-1)) < 0.01
    counts = np.bincount(np.asarray(queues).ravel(), minlength=3) / queues.size
    np.testing.assert_allclose(counts, 1 / 3, atol=0.01)


def test_task_mix_is_honoured(env, params):
    skewed = params.replace(task_mix=np.array([0.2, 0.3, 0.5]))
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(2), 2000), skewed)
    queues = jax.vmap(env.task_queue, in_axes=(0, None))(state, skewed)
    counts = np.bincount(np.asarray(queues).ravel(), minlength=3) / queues.size
    np.testing.assert_allclose(counts, [0.2, 0.3, 0.5], atol=0.01)
    _, only_vqa = env.reset(jax.random.key(3), params.replace(task_mix=np.array([0.0, 0.0, 1.0])))
    assert np.all(np.asarray(env.task_queue(only_vqa, params.replace(task_mix=np.array([0.0, 0.0, 1.0])))) == 2)


def test_observation_and_world_state_match_reference(env, params, key):
    _, state = env.reset(key, params)
    for t in (0, 7, env.queue_len - 1):
        state = state.replace(t=jnp.int32(t))
        obs = env.observe(state, params)
        s = _ref_state(state)
        expected = reference.observation(params, s["task_type"], s["distance"], s["energy_budget"], s["fading"], t, env.queue_len)
        np.testing.assert_allclose(obs, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(env.world_state(obs), reference.world_state(expected), rtol=1e-5, atol=1e-6)
    assert env.world_state(obs).shape == (env.num_ues, env.world_state_dim)


def test_step_info_matches_reference_and_team_reward_is_the_sum(env, params, key):
    _, state = env.reset(key, params)
    action = Action(jnp.array([1, 1, 3, 0]), jnp.array([0.02, 0.09, 0.05, 0.05]),
                    jnp.array([1.5e9, 1.6e9, 1.7e9, 1.55e9]), jnp.array([0.1, 0.4, 1.0, 0.7]))
    _, _, reward, done, info = jax.jit(env.step)(jax.random.key(9), state, action, params)
    s = _ref_state(state)
    ref = reference.step_metrics(params, s["task_type"], s["distance"], s["fading"], s["energy_budget"],
                                 np.asarray(action.choice), np.asarray(action.power, np.float64),
                                 np.asarray(action.freq, np.float64), np.asarray(action.mu, np.float64))
    for name in ("latency", "energy", "accuracy", "qoe", "reward", "t_server"):
        np.testing.assert_allclose(info[name], ref[name], rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(info["task_type"], s["task_type"])
    np.testing.assert_allclose(float(reward), float(np.sum(info["reward"])), rtol=1e-6)
    np.testing.assert_allclose(float(reward), ref["reward"].sum(), rtol=1e-4)
    assert not bool(done)


def _rollout(env, params, key, steps):
    """Local actions with a changing clock; returns per-step (obs, reward, done, t, qoe)."""

    def body(carry, key):
        state = carry
        freq = jax.random.uniform(key, (env.num_ues,), minval=1.5e9, maxval=1.7e9)
        obs, state, reward, done, info = env.step(key, state, _local_action(env.num_ues).replace(freq=freq), params)
        return state, (obs, reward, done, state.t, info["qoe"])

    key_reset, key_steps = jax.random.split(key)
    _, state = env.reset(key_reset, params)
    return jax.lax.scan(body, state, jax.random.split(key_steps, steps))


def test_episode_boundaries_and_auto_reset(env, params, key):
    q = env.queue_len
    _, (obs, _, done, t, _) = jax.jit(_rollout, static_argnums=(0, 3))(env, params, key, 2 * q + 3)
    done = np.asarray(done)
    expected_done = np.zeros(2 * q + 3, bool)
    expected_done[[q - 1, 2 * q - 1]] = True
    np.testing.assert_array_equal(done, expected_done)
    # t after each step: 1..Q-1 then 0 (fresh episode), and the obs progress feature follows it.
    np.testing.assert_array_equal(np.asarray(t)[: q + 1], list(range(1, q)) + [0, 1])
    progress = np.asarray(obs)[:, 0, env.num_channels + 10 + env.num_task_types]
    np.testing.assert_allclose(progress, np.asarray(t) / q, atol=1e-7)


def test_auto_reset_state_is_the_reset_of_the_step_key(env, params, key):
    _, state = env.reset(key, params)
    state = state.replace(t=jnp.int32(env.queue_len - 1))
    step_key = jax.random.key(5)
    obs, new_state, _, done, _ = env.step(step_key, state, _local_action(env.num_ues), params)
    assert bool(done)
    expected_obs, expected_state = env.reset(step_key, params)
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(expected_state)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(obs, expected_obs)


def test_step_env_does_not_reset(env, params, key):
    _, state = env.reset(key, params)
    state = state.replace(t=jnp.int32(env.queue_len - 1))
    _, new_state, _, done, _ = env.step_env(jax.random.key(5), state, _local_action(env.num_ues), params)
    assert bool(done) and int(new_state.t) == env.queue_len
    np.testing.assert_array_equal(new_state.episode_key, state.episode_key)
    # past the end the last task repeats
    np.testing.assert_array_equal(new_state.task_type, env.task_queue(state, params)[-1])


def test_steps_follow_the_queue_fixed_at_reset(env, params, key):
    """The task types met step by step are the queue that reset fixed."""
    _, state = env.reset(key, params)
    queue = np.asarray(env.task_queue(state, params))
    seen = []
    for t in range(env.queue_len):
        seen.append(np.asarray(state.task_type))
        _, state, _, _, info = env.step_env(jax.random.key(t), state, _local_action(env.num_ues), params)
        np.testing.assert_array_equal(info["task_type"], queue[t])
    np.testing.assert_array_equal(np.stack(seen), queue)


def test_same_key_same_trajectory_other_key_differs(env, params):
    run = jax.jit(_rollout, static_argnums=(0, 3))
    a = run(env, params, jax.random.key(11), 45)
    b = run(env, params, jax.random.key(11), 45)
    c = run(env, params, jax.random.key(12), 45)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1][0], c[1][0])


def test_local_policy_scores_half_on_every_step(env, params, key):
    def body(state, key):
        _, state, _, _, info = env.step(key, state, _local_action(env.num_ues), params)
        return state, info["qoe"]

    _, state = env.reset(key, params)
    _, qoe = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(key, 50)))(state)
    np.testing.assert_array_equal(np.asarray(qoe), 0.5)


def test_vmap_over_envs_equals_a_loop(env, params):
    keys = jax.random.split(jax.random.key(3), 5)
    actions = Action(
        choice=jnp.array([[0, 1, 2, 3], [4, 4, 4, 4], [1, 2, 3, 4], [0, 0, 0, 0], [2, 2, 0, 1]]),
        power=jnp.full((5, 4), 0.05), freq=jnp.full((5, 4), 1.6e9), mu=jnp.full((5, 4), 0.3),
    )
    obs, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    batched = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))(keys, states, actions, params)
    for i in range(5):
        state_i = jax.tree.map(lambda x: x[i], states)
        action_i = jax.tree.map(lambda x: x[i], actions)
        single = env.step(keys[i], state_i, action_i, params)
        for x, y in zip(jax.tree.leaves(single), jax.tree.leaves(batched)):
            np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y[i], np.float64), rtol=1e-6, atol=1e-7)


def test_vmap_over_params(env, params, key):
    """One vmapped call over bandwidths x noise powers equals separate calls."""
    bws = jnp.array([2.5e6, 10e6, 20e6])
    noise = jnp.array([1e-3, 2e-3, 1e-2])
    batched = params.replace(bandwidth=bws, noise_power=noise)
    axes = semjax.batch_axes(params, bandwidth=0, noise_power=0)
    _, state = env.reset(key, params)
    action = Action(jnp.arange(1, 5), jnp.full(4, 0.09), jnp.full(4, 1.5e9), jnp.full(4, 0.2))
    out = jax.jit(jax.vmap(env.step, in_axes=(None, None, None, axes)))(jax.random.key(1), state, action, batched)
    for i in range(3):
        p = params.replace(bandwidth=float(bws[i]), noise_power=float(noise[i]))
        single = env.step(jax.random.key(1), state, action, p)
        np.testing.assert_allclose(out[2][i], single[2], rtol=1e-5)
        np.testing.assert_allclose(out[4]["qoe"][i], single[4]["qoe"], rtol=1e-5)
        # the obs tells the policy its bandwidth and noise
        np.testing.assert_allclose(out[0][i][:, env.num_channels + 8], np.log10(float(bws[i])) - 7, atol=1e-5)


def test_out_of_range_choice(env, params, key):
    _, state = env.reset(key, params)
    bad = Action(jnp.array([0, 5, 1, 2]), jnp.full(4, 0.05), jnp.full(4, 1.6e9), jnp.ones(4))
    with pytest.raises(ValueError, match="Action.choice"):
        env.step(key, state, bad, params)
    with pytest.raises(ValueError, match="Action.choice"):
        env.step(key, state, bad.replace(choice=jnp.array([-1, 0, 0, 0])), params)
    # Inside jit it is clipped into {0..K}.
    clipped = jax.jit(env.step)(key, state, bad.replace(choice=jnp.array([-3, 9, 1, 2])), params)
    explicit = env.step(key, state, bad.replace(choice=jnp.array([0, 4, 1, 2])), params)
    np.testing.assert_array_equal(clipped[4]["offloaded"], explicit[4]["offloaded"])
    np.testing.assert_allclose(clipped[2], explicit[2])


def test_constructor_validation_and_descriptions(env, params):
    for bad in (dict(num_ues=0), dict(num_channels=-1), dict(queue_len=2.5), dict(num_ues=True)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            semjax.SemanticMEC(**bad)
    space = env.action_space(params)
    assert space.num_choices == env.num_channels + 1 and space.shape == (env.num_ues,)
    assert space.power == (0.01, 0.09) and space.freq == (1.5e9, 1.7e9) and space.mu == (0.1, 1.0)
    # state bytes: t + 2-word episode key + N task ids + N distances + N budgets + K*N fading, 4 bytes each
    n, k = env.num_ues, env.num_channels
    assert env.state_bytes() == 4 * (1 + 2 + n + 2 * n + k * n)
    two_types = semjax.TaskProfile(**{f: np.asarray(getattr(params.profile, f))[:2] for f in semjax.params.PROFILE_FIELDS})
    with pytest.raises(ValueError, match="task types"):
        env.reset(jax.random.key(0), semjax.EnvParams(profile=two_types))


@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.0, 3.0))
def test_no_nan_under_fuzzed_valid_inputs(seed, scale):
    """Random (even out-of-range) actions and fading scaled towards 0 never produce NaN or inf."""
    out = _fuzz(jax.random.key(seed), jnp.float32(scale))
    for name, value in out.items():
        assert np.all(np.isfinite(np.asarray(value, np.float64))), name


_FUZZ_ENV = semjax.SemanticMEC(num_ues=5, num_channels=3, queue_len=4)


@jax.jit
def _fuzz(key, scale):
    env, params = _FUZZ_ENV, _FUZZ_ENV.default_params

    def body(state, key):
        k1, k2, k3 = jax.random.split(key, 3)
        action = Action(
            choice=jax.random.randint(k1, (5,), 0, 4),
            power=jax.random.uniform(k2, (5,), minval=-0.1, maxval=0.3),
            freq=jax.random.uniform(k2, (5,), minval=0.0, maxval=4e9),
            mu=jax.random.uniform(k3, (5,), minval=-0.5, maxval=1.5),
        )
        # Fading pushed to deep fades (and exact zeros) by a random power.
        f = state.fading
        state = state.replace(fading=jnp.where(f < 0.3, 0.0, jnp.where(f < 1.0, f ** (1.0 + 10.0 * scale), f)))
        obs, state, reward, done, info = env.step(key, state, action, params)
        return state, dict(info, obs=obs, reward_team=reward)

    def episode(key):
        _, state = env.reset(key, params)
        return jax.lax.scan(body, state, jax.random.split(key, 9))[1]

    return jax.vmap(episode)(jax.random.split(key, 64))
