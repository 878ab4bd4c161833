"""D3QN: double-Q targets, dueling heads, the replay buffer, the joint action map, and training runs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import semjax
from semjax.agents import heuristics
from semjax.agents.d3qn import (
    D3QNConfig,
    DuelingQNetwork,
    Transition,
    double_q_target,
    dueling,
    epsilon_schedule,
    head_spec,
    index_to_action,
    index_to_parts,
    make_buffer,
    make_network,
    make_policy,
    make_train,
    num_actions,
    parts_to_index,
    update_target,
)
from semjax.agents.distributions import ActionHeadSpec, to_env_action
from semjax.evaluation import evaluate

SMALL_ENV = semjax.SemanticMEC(num_ues=2, num_channels=2, queue_len=5)


# ----------------------------------------------------------------------------- targets and heads


def test_double_q_target_by_hand():
    q_online = np.array([[1.0, 5.0, 2.0], [0.5, -1.0, 3.0], [4.0, 0.0, 0.0]], np.float32)
    q_target = np.array([[10.0, -2.0, 7.0], [1.0, 9.0, -4.0], [0.25, 8.0, 6.0]], np.float32)
    reward = np.array([1.0, -0.5, 2.0], np.float32)
    done = np.array([False, False, True])
    gamma = 0.9
    # online argmax: 1, 2, 0; the target net's values there: -2, -4, 0.25 (the third is masked)
    expected = np.array([1.0 + 0.9 * -2.0, -0.5 + 0.9 * -4.0, 2.0])
    got = double_q_target(jnp.asarray(reward), jnp.asarray(done), gamma, jnp.asarray(q_online), jnp.asarray(q_target))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
    # not the max of the target net (plain DQN would give 1 + 0.9 * 10 for the first row)
    assert abs(float(got[0]) - (1.0 + 0.9 * 10.0)) > 1.0


def test_dueling_aggregation_by_hand():
    value = np.array([[2.0], [-1.0]], np.float32)
    adv = np.array([[1.0, 2.0, 6.0], [0.0, -3.0, 0.0]], np.float32)
    # means 3 and -1
    expected = np.array([[0.0, 1.0, 5.0], [0.0, -3.0, 0.0]])
    np.testing.assert_allclose(np.asarray(dueling(jnp.asarray(value), jnp.asarray(adv))), expected, atol=1e-6)


def test_network_output_is_value_plus_centred_advantage():
    net = DuelingQNetwork(num_actions=7, hidden=16, layers=2)
    obs = jax.random.normal(jax.random.key(1), (5, SMALL_ENV.obs_dim))
    q_params = net.init(jax.random.key(0), obs)
    q, state = net.apply(q_params, obs, capture_intermediates=True)
    v = np.asarray(state["intermediates"]["value"]["__call__"][0], np.float64)
    a = np.asarray(state["intermediates"]["advantage"]["__call__"][0], np.float64)
    assert v.shape == (5, 1) and a.shape == (5, 7)
    np.testing.assert_allclose(np.asarray(q), v + a - a.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- replay buffer


def _items(values):
    values = jnp.asarray(values, jnp.float32)
    b = values.shape[0]
    return Transition(obs=values[:, None, None] * jnp.ones((b, 2, 3)), action=jnp.zeros((b, 2), jnp.int32),
                      reward=values, done=jnp.zeros((b,), bool), next_obs=jnp.zeros((b, 2, 3)))


def test_replay_buffer_wraps_around_and_samples_filled_slots():
    config = D3QNConfig(buffer_size=5, batch_size=4, learning_starts=1, num_envs=3)
    buffer = make_buffer(config)
    state = buffer.init(jax.tree.map(lambda x: x[0], _items([0.0])))
    add = jax.jit(buffer.add)
    # 128 batches of 4: 512 draws
    sample = jax.jit(lambda s, k: jax.vmap(lambda kk: buffer.sample(s, kk).experience.reward)(
        jax.random.split(k, 128)).ravel())

    state = add(state, _items([0, 1, 2]))
    assert int(state.current_index) == 3 and not bool(state.is_full)
    drawn = np.asarray(sample(state, jax.random.key(0)))
    assert set(drawn.tolist()) == {0.0, 1.0, 2.0}  # only the filled slots, and each of them

    state = add(state, _items([3, 4, 5]))  # 6 items into 5 slots: 5 overwrites slot 0
    state = add(state, _items([6, 7, 8]))  # then 6, 7, 8 overwrite slots 1, 2, 3
    np.testing.assert_array_equal(np.asarray(state.experience.reward)[0], [5, 6, 7, 8, 4])
    np.testing.assert_array_equal(np.asarray(state.experience.obs)[0, :, 1, 2], [5, 6, 7, 8, 4])
    assert int(state.current_index) == 4 and bool(state.is_full)
    drawn = np.asarray(sample(state, jax.random.key(1)))
    assert set(drawn.tolist()) == {4.0, 5.0, 6.0, 7.0, 8.0}
    # uniform over the 5 survivors: each about 1/5 of 512 draws
    counts = np.array([np.sum(drawn == v) for v in (4, 5, 6, 7, 8)])
    assert np.all(np.abs(counts / drawn.size - 0.2) < 0.07), counts


# ----------------------------------------------------------------------------- the joint action


@pytest.mark.parametrize("semantic", [True, False])
def test_action_index_round_trip_matches_discrete_mappo_bins(semantic):
    config = D3QNConfig(semantic=semantic)
    env = semjax.SemanticMEC(num_ues=3, num_channels=3)
    params = env.default_params
    spec = head_spec(config, env)
    assert spec == ActionHeadSpec.make(3, "discrete", semantic, config.bins)
    sizes = (4, 4, 3, 5) if semantic else (4, 4, 3)
    assert spec.discrete_sizes == sizes and num_actions(spec) == int(np.prod(sizes))

    index = jnp.arange(num_actions(spec))
    parts = index_to_parts(spec, index)
    # row-major: choice most significant, the last part fastest
    np.testing.assert_array_equal(np.asarray(parts), np.array(list(itertools.product(*map(range, sizes)))))
    np.testing.assert_array_equal(np.asarray(parts_to_index(spec, parts)), np.asarray(index))

    action = index_to_action(spec, index, params)
    direct = to_env_action(spec, parts, jnp.zeros((index.size, 0)), params)
    for name in ("choice", "power", "freq", "mu"):
        np.testing.assert_array_equal(np.asarray(getattr(action, name)), np.asarray(getattr(direct, name)))
    # by hand: both range ends included
    np.testing.assert_allclose(np.unique(np.asarray(action.power)), np.linspace(0.01, 0.09, 4), rtol=1e-6)
    np.testing.assert_allclose(np.unique(np.asarray(action.freq)), np.linspace(1.5e9, 1.7e9, 3), rtol=1e-6)
    mus = np.unique(np.asarray(action.mu))
    if semantic:
        np.testing.assert_allclose(mus, np.linspace(float(params.mu_min), 1.0, 5), rtol=1e-6)
    else:
        np.testing.assert_array_equal(mus, [1.0])  # the unaware action set cannot emit another mu


def test_unaware_policy_only_emits_mu_one():
    config = D3QNConfig(semantic=False, hidden=16)
    env, params = SMALL_ENV, SMALL_ENV.default_params
    q_params = make_network(config, env).init(jax.random.key(2), jnp.zeros((env.num_ues, env.obs_dim)))
    policy, carry = make_policy(config, env, q_params)
    assert carry is None

    @jax.jit
    def act(key):
        _, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, 64), params)
        return jax.vmap(policy, in_axes=(None, 0, None))(key, states, params)

    action = act(jax.random.key(0))
    assert np.all(np.asarray(action.mu) == 1.0)
    assert np.asarray(action.choice).max() <= env.num_channels


# ----------------------------------------------------------------------------- config


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"train\.gamma"):
        D3QNConfig(gamma=1.5)
    with pytest.raises(ValueError, match=r"train\.batch_size"):
        D3QNConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"train\.target_tau"):
        D3QNConfig(target_tau=0.0)
    with pytest.raises(ValueError, match=r"train\.batch_size .* train\.buffer_size"):
        D3QNConfig(buffer_size=100, batch_size=200, learning_starts=50)
    with pytest.raises(ValueError, match=r"train\.learning_starts .* train\.buffer_size"):
        D3QNConfig(buffer_size=100, batch_size=50, learning_starts=200)
    with pytest.raises(ValueError, match=r"train\.bins: bins\.freq must be >= 2"):
        D3QNConfig(bins={"power": 4, "freq": 1, "mu": 5})
    with pytest.raises(ValueError, match=r"train\.eps_end"):
        D3QNConfig(eps_end=-0.1)
    with pytest.raises(ValueError, match="unknown train key.*'hiden'"):
        D3QNConfig.from_dict({"hiden": 3})
    assert D3QNConfig.from_dict({"hidden": 3}).hidden == 3


def test_epsilon_decays_linearly_then_stays():
    config = D3QNConfig(num_updates=10, steps_per_update=4, eps_start=1.0, eps_end=0.1, eps_decay_fraction=0.5)
    eps = epsilon_schedule(config)  # 40 vectorised steps, decay over the first 20
    np.testing.assert_allclose([float(eps(s)) for s in (0, 5, 10, 20, 39)], [1.0, 0.775, 0.55, 0.1, 0.1], rtol=1e-6)


# ----------------------------------------------------------------------------- training runs


def test_target_update_hard_copy_and_polyak_by_hand():
    online, target = {"w": jnp.array([4.0, 8.0])}, {"w": jnp.array([0.0, 2.0])}
    hard = D3QNConfig(target_period=3, target_tau=1.0)
    polyak = D3QNConfig(target_period=1, target_tau=0.25)
    got = lambda cfg, step, trained: np.asarray(
        update_target(cfg, online, target, jnp.asarray(step), jnp.asarray(trained))["w"])
    np.testing.assert_array_equal(got(hard, 6, True), [4.0, 8.0])
    np.testing.assert_array_equal(got(hard, 7, True), [0.0, 2.0])
    np.testing.assert_array_equal(got(hard, 6, False), [0.0, 2.0])  # no gradient step, no copy
    np.testing.assert_allclose(got(polyak, 7, True), [1.0, 3.5], rtol=1e-6)


# N = K = 2, Q = 5; 200 updates x 5 steps of 16 envs = 16000 transitions into 4096 slots
# (the buffer wraps); learning starts at 256 stored transitions, i.e. from the 16th of the 1000
# vectorised steps: 985 gradient steps.
LEARN = dict(num_envs=16, num_updates=200, steps_per_update=5, hidden=32, batch_size=64, buffer_size=4096,
             learning_starts=256, target_period=50, lr=1e-3)


@pytest.fixture(scope="module")
def learn_run():
    """One compiled training program, its run from a seed, and that seed."""
    train = jax.jit(make_train(D3QNConfig(**LEARN), SMALL_ENV, SMALL_ENV.default_params))
    key = jax.random.key(0)
    return train, key, train(key)


def test_counters_buffer_and_losses(learn_run):
    _, _, (runner, metrics) = learn_run
    assert int(runner.env_steps) == 1000 and int(runner.grad_steps) == 985 and int(runner.update) == 200
    assert bool(runner.buffer.is_full) and int(runner.buffer.current_index) == 16000 % 4096
    # learning starts in update 4 (steps 16-20): updates 1-3 report no loss
    loss = np.asarray(metrics["loss"])
    assert np.all(loss[:3] == 0.0) and np.all(loss[3:] > 0.0) and np.all(np.isfinite(loss))
    eps = epsilon_schedule(D3QNConfig(**LEARN))
    np.testing.assert_allclose(np.asarray(metrics["epsilon"])[[0, 49, 199]],
                               [float(eps(s)) for s in (5, 250, 1000)], rtol=1e-6)
    # the last target copy was at gradient step 950 of 985: the online net has moved on since
    leaves = lambda p: np.concatenate([np.ravel(x) for x in jax.tree.leaves(p)])
    assert not np.allclose(leaves(runner.target_params), leaves(runner.q.params))


def test_same_seed_same_numbers_and_vmap_over_seeds(learn_run):
    train, key, (_, first) = learn_run
    _, again = train(key)
    for name in first:
        np.testing.assert_array_equal(np.asarray(first[name]), np.asarray(again[name]))
    keys = jnp.stack([jax.random.key_data(jax.random.key(5)), jax.random.key_data(key)])
    # Batched and single matmuls may round differently, and Q-learning's argmax amplifies any
    # difference over hundreds of updates: compare the first 20 (past the start of learning).
    train_both = make_train(D3QNConfig(**LEARN), SMALL_ENV, SMALL_ENV.default_params)
    batched = jax.jit(jax.vmap(lambda k: train_both(k, None, 20)))(jax.random.wrap_key_data(keys))[1]
    for name in ("reward", "loss", "q_mean", "epsilon"):
        np.testing.assert_allclose(np.asarray(batched[name][1, :20]), np.asarray(first[name][:20]),
                                   rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(batched["reward"][0]), np.asarray(batched["reward"][1]))


def test_learned_greedy_policy_beats_random(learn_run):
    """A few hundred updates must beat uniformly random actions in team reward (200 test episodes)."""
    env, params = SMALL_ENV, SMALL_ENV.default_params
    _, _, (runner, _) = learn_run
    policy, carry = make_policy(D3QNConfig(**LEARN), env, runner.q.params)
    key = jax.random.key(11)
    learned = evaluate(env, params, policy, key, 200, initial_carry=carry)
    random = evaluate(env, params, heuristics.random(env), key, 200)
    assert learned["reward"] > random["reward"] + 0.2, (learned["reward"], random["reward"])
