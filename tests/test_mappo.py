"""MAPPO: the hybrid head, GAE, GRU resets, batch ordering, checkpoints, and a tiny training run."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import semjax
from semjax.agents import mappo
from semjax.agents.distributions import ActionHeadSpec, HybridDistribution, to_env_action
from semjax.agents.mappo import MAPPOConfig, agent_batch, gae, learning_reward, make_train, split_by_env
from semjax.agents.networks import Actor, RecurrentGRU
from semjax.checkpoint import load_checkpoint, save_checkpoint
from semjax.experiments.methods import METHODS

TINY = dict(num_envs=4, rollout_len=5, num_updates=4, num_minibatches=2, hidden=8, update_epochs=2)
MAPPO_METHOD = METHODS["mappo"]  # any MAPPO variant: the config carries its action space
SMALL_ENV = semjax.SemanticMEC(num_ues=2, num_channels=2, queue_len=5)


# ----------------------------------------------------------------------------- the hybrid head


def test_hybrid_log_prob_and_entropy_by_hand():
    spec = ActionHeadSpec.make(num_channels=2, action_space="hybrid", semantic=True)
    assert spec.discrete_sizes == (3,) and spec.continuous == ("power", "freq", "mu")
    logits = np.array([0.3, -1.2, 2.0])
    mean = np.array([0.1, -0.4, 0.9])
    log_std = np.array([-0.5, 0.2, -1.0])
    dist = HybridDistribution.from_outputs(spec, jnp.asarray(np.concatenate([logits, mean]), jnp.float32),
                                           jnp.asarray(log_std, jnp.float32))
    choice, u = 2, np.array([0.4, -1.7, 1.3])  # unclipped: outside [-1, 1] on purpose
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    std = np.exp(log_std)
    gauss_lp = np.sum(-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi))
    expected_lp = math.log(p[choice]) + gauss_lp
    got = dist.log_prob(jnp.array([choice]), jnp.asarray(u, jnp.float32))
    np.testing.assert_allclose(float(got), expected_lp, rtol=1e-5)
    np.testing.assert_allclose(float(dist.entropy_discrete()), -np.sum(p * np.log(p)), rtol=1e-5)
    np.testing.assert_allclose(float(dist.entropy_continuous()),
                               np.sum(log_std + 0.5 * math.log(2 * math.pi * math.e)), rtol=1e-5)


def test_discrete_and_unaware_heads():
    disc = ActionHeadSpec.make(4, "discrete", True, {"power": 4, "freq": 3, "mu": 5})
    assert disc.discrete == ("choice", "power", "freq", "mu") and disc.discrete_sizes == (5, 4, 3, 5)
    assert disc.num_outputs == 17 and disc.continuous == ()
    logits = jnp.arange(17, dtype=jnp.float32) / 10
    dist = HybridDistribution.from_outputs(disc, logits, jnp.zeros((0,)))
    a = jnp.array([1, 3, 0, 2])
    parts = [logits[:5], logits[5:9], logits[9:12], logits[12:]]
    expected = sum(float(jax.nn.log_softmax(lg)[i]) for lg, i in zip(parts, [1, 3, 0, 2]))
    np.testing.assert_allclose(float(dist.log_prob(a, jnp.zeros((0,)))), expected, rtol=1e-6)
    assert float(dist.entropy_continuous()) == 0.0

    unaware = ActionHeadSpec.make(4, "hybrid", False)
    assert unaware.continuous == ("power", "freq")  # mu neither sampled nor in the log-prob
    params = semjax.EnvParams()
    act = to_env_action(unaware, jnp.array([[2], [0]]), jnp.array([[1.0, -1.0], [0.0, 3.0]]), params)
    np.testing.assert_allclose(act.mu, [1.0, 1.0])
    np.testing.assert_allclose(act.power, [0.09, 0.05], rtol=1e-6)
    np.testing.assert_allclose(act.freq, [1.5e9, 1.7e9], rtol=1e-6)  # 3.0 clipped to 1
    with pytest.raises(ValueError, match="bins.mu"):
        ActionHeadSpec.make(4, "discrete", True, {"power": 4, "freq": 3})
    with pytest.raises(ValueError, match="action_space"):
        ActionHeadSpec.make(4, "continuous")


def test_discrete_bins_map_onto_both_ends():
    spec = ActionHeadSpec.make(2, "discrete", True, {"power": 3, "freq": 2, "mu": 5})
    params = semjax.EnvParams(mu_min=0.2)
    act = to_env_action(spec, jnp.array([[1, 0, 0, 0], [2, 2, 1, 4], [0, 1, 1, 2]]), jnp.zeros((3, 0)), params)
    np.testing.assert_array_equal(act.choice, [1, 2, 0])
    np.testing.assert_allclose(act.power, [0.01, 0.09, 0.05], rtol=1e-6)
    np.testing.assert_allclose(act.freq, [1.5e9, 1.7e9, 1.7e9], rtol=1e-6)
    np.testing.assert_allclose(act.mu, [0.2, 1.0, 0.6], rtol=1e-6)


# ----------------------------------------------------------------------------- GAE


def _gae_numpy(rewards, values, dones, last_value, gamma, lam):
    t_len = len(rewards)
    adv = np.zeros_like(values)
    next_adv, next_value = np.zeros_like(last_value), last_value
    for t in reversed(range(t_len)):
        nd = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nd - values[t]
        next_adv = delta + gamma * lam * nd * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv, adv + values


def test_gae_matches_numpy_reference():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(12, 6)).astype(np.float32)
    values = rng.normal(size=(12, 6)).astype(np.float32)
    dones = rng.random((12, 6)) < 0.2
    last = rng.normal(size=6).astype(np.float32)
    adv, ret = gae(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(dones), jnp.asarray(last), 0.99, 0.95)
    exp_adv, exp_ret = _gae_numpy(rewards.astype(np.float64), values.astype(np.float64), dones.astype(np.float64),
                                  last.astype(np.float64), 0.99, 0.95)
    np.testing.assert_allclose(adv, exp_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, exp_ret, rtol=1e-5, atol=1e-5)
    # A done at the last step cuts the bootstrap entirely.
    adv2, _ = gae(jnp.ones((1, 1)), jnp.zeros((1, 1)), jnp.ones((1, 1), bool), jnp.full((1,), 100.0), 0.99, 0.95)
    assert float(adv2[0, 0]) == 1.0


# ----------------------------------------------------------------------------- recurrence and ordering


def test_gru_carry_resets_where_an_episode_starts():
    spec = ActionHeadSpec.make(2)
    actor = Actor(spec, hidden=8)
    rng = np.random.default_rng(1)
    obs = jnp.asarray(rng.normal(size=(7, 3, 5)), jnp.float32)
    starts = np.zeros((7, 3), bool)
    starts[0] = True
    starts[4, 1] = True  # env 1 starts a new episode at t = 4
    carry0 = RecurrentGRU.initial_carry(1, 3, 8)
    params = actor.init(jax.random.key(0), carry0, obs, jnp.asarray(starts))
    _, full = actor.apply(params, carry0, obs, jnp.asarray(starts))
    # Running env 1 from t = 4 with a fresh carry gives the same outputs: nothing leaked.
    fresh_starts = np.zeros((3, 3), bool)
    fresh_starts[0] = True
    _, fresh = actor.apply(params, carry0, obs[4:], jnp.asarray(fresh_starts))
    np.testing.assert_allclose(full.mean[4:, 1], fresh.mean[:, 1], rtol=1e-5, atol=1e-6)
    # ...while env 0, which did not restart, does depend on its history.
    assert not np.allclose(full.mean[4:, 0], fresh.mean[:, 0], atol=1e-4)
    # A non-zero incoming carry is discarded where starts is True.
    _, from_junk = actor.apply(params, jnp.full_like(carry0, 3.0), obs, jnp.asarray(starts))
    np.testing.assert_allclose(from_junk.mean, full.mean, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("actor_input", ["local", "world"])
def test_actor_and_critic_batches_share_one_order(actor_input):
    env = semjax.SemanticMEC(num_ues=3, num_channels=2, queue_len=4)
    obs, _ = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(0), 5), env.default_params)
    actor_in, critic_in = agent_batch(MAPPOConfig(actor_input=actor_input), env, obs)
    n, d = env.num_ues, env.obs_dim
    for row in range(5 * n):
        e, agent = divmod(row, n)
        np.testing.assert_array_equal(critic_in[row, : n * d], obs[e].reshape(-1))
        np.testing.assert_array_equal(critic_in[row, n * d:], np.eye(n)[agent])
        np.testing.assert_array_equal(actor_in[row], obs[e, agent] if actor_input == "local" else critic_in[row])


def test_learning_reward_is_the_floored_team_sum_or_each_agents_own():
    reward = jnp.array([[1.0, -9.0, 0.5], [-1.0, 2.0, -6.0]])  # (E=2, N=3), floor at -5
    team = learning_reward(MAPPOConfig(reward_clip=5.0), reward)
    np.testing.assert_allclose(team, [-3.5, -3.5, -3.5, -4.0, -4.0, -4.0])
    own = learning_reward(MAPPOConfig(reward_clip=5.0, reward="own"), reward)
    np.testing.assert_allclose(own, [1.0, -5.0, 0.5, -1.0, 2.0, -5.0])


def test_minibatches_are_whole_envs_with_all_agents():
    t_len, e, n = 3, 6, 2
    x = jnp.arange(t_len * e * n).reshape(t_len, e * n)  # value encodes (t, env, agent)
    perm = jnp.array([4, 1, 5, 0, 3, 2])
    mb = split_by_env(x, 1, perm, n, 3)
    assert mb.shape == (3, t_len, 2 * n)
    for b in range(3):
        for j, env_id in enumerate(np.asarray(perm).reshape(3, 2)[b]):
            for agent in range(n):
                np.testing.assert_array_equal(mb[b, :, j * n + agent], x[:, env_id * n + agent])


# ----------------------------------------------------------------------------- training


def test_config_validation():
    with pytest.raises(ValueError, match="num_minibatches"):
        MAPPOConfig(num_envs=10, num_minibatches=4)
    with pytest.raises(ValueError, match="train.gamma"):
        MAPPOConfig(gamma=1.5)
    with pytest.raises(ValueError, match="unknown train key"):
        MAPPOConfig.from_dict({"hiden": 3})
    with pytest.raises(ValueError, match=r"train.reward must be one of \['team', 'own'\]"):
        MAPPOConfig(reward="mine")
    with pytest.raises(ValueError, match=r"train.actor_input must be one of \['local', 'world'\]"):
        MAPPOConfig(actor_input="global")


def test_schedules_by_hand():
    config = MAPPOConfig(num_updates=5, update_epochs=2, num_minibatches=2, num_envs=4, lr=1e-3, lr_final=2e-4,
                         ent_coef=0.04, ent_coef_final=0.01)
    np.testing.assert_allclose([float(mappo.entropy_scale(config, u)) for u in range(5)],
                               [1.0, 0.8125, 0.625, 0.4375, 0.25], rtol=1e-6)
    assert float(mappo.entropy_scale(MAPPOConfig(), 7)) == 1.0
    # Adam's step on a constant gradient is -lr (after bias correction): it reads the schedule,
    # one step per minibatch, 5 x 2 x 2 = 20 steps from 1e-3 to 2e-4.
    tx = mappo._optimizer(config)
    params = {"w": jnp.zeros(3)}
    state = tx.init(params)
    steps = []
    for _ in range(20):
        update, state = tx.update({"w": jnp.full(3, 0.1)}, state, params)
        steps.append(-float(update["w"][0]))
    np.testing.assert_allclose(steps, 1e-3 + (2e-4 - 1e-3) * np.arange(20) / 20, rtol=1e-3)
    with pytest.raises(ValueError, match="train.ent_coef_final"):
        MAPPOConfig(ent_coef=0.0, ent_coef_final=0.01)
    with pytest.raises(ValueError, match="train.lr_final"):
        MAPPOConfig(lr_final=-1.0)


def test_schedules_change_training_only_when_they_move():
    def run(**kw):
        train = make_train(MAPPOConfig(**TINY, **kw), SMALL_ENV, SMALL_ENV.default_params)
        return np.asarray(jax.jit(train)(jax.random.key(5))[1]["reward"])

    constant = run(lr=1e-3, ent_coef=0.05)
    np.testing.assert_allclose(run(lr=1e-3, ent_coef=0.05, lr_final=1e-3, ent_coef_final=0.05), constant,
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(run(lr=1e-3, ent_coef=0.05, ent_coef_final=0.0, lr_final=1e-5)[1:], constant[1:])


def test_tiny_config_improves_its_return():
    """A small world where offloading pays: learning must beat the initial near-uniform policy."""
    config = MAPPOConfig(num_envs=16, rollout_len=5, num_updates=60, num_minibatches=2, hidden=32,
                         update_epochs=4, lr=3e-3, ent_coef=0.01)
    _, metrics = jax.jit(make_train(config, SMALL_ENV, SMALL_ENV.default_params))(jax.random.key(0))
    reward = np.asarray(metrics["reward"])
    first, last = reward[:10].mean(), reward[-10:].mean()
    assert last > first + 0.2, (first, last)
    assert np.all(np.isfinite(np.asarray(metrics["value_loss"])))


def test_vmap_over_seeds_equals_single_runs():
    config = MAPPOConfig(**TINY)
    train = make_train(config, SMALL_ENV, SMALL_ENV.default_params)
    keys = jax.random.split(jax.random.key(3), 2)
    _, batched = jax.jit(jax.vmap(train))(keys)
    _, single = jax.jit(train)(keys[1])
    np.testing.assert_allclose(batched["reward"][1], single["reward"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(batched["reward"][0], batched["reward"][1])


def test_train_over_traced_env_params():
    """make_train inside a vmap over bandwidths: params are traced, one compile."""
    config = MAPPOConfig(**TINY)
    base = SMALL_ENV.default_params

    def run(bandwidth):
        return make_train(config, SMALL_ENV, base.replace(bandwidth=bandwidth))(jax.random.key(0))[1]["reward"]

    out = jax.jit(jax.vmap(run))(jnp.array([1e6, 1e7]))
    assert out.shape == (2, TINY["num_updates"]) and np.all(np.isfinite(np.asarray(out)))


@pytest.mark.parametrize("variant", [{}, {"action_space": "discrete"}, {"semantic": False},
                                     {"action_space": "discrete", "semantic": False},
                                     {"actor_input": "world", "reward": "own"}],
                         ids=["hybrid", "discrete", "unaware", "discrete-unaware", "world-own"])
def test_checkpoint_round_trip_and_resume(tmp_path, variant):
    """Save after 2 updates, restore, train 2 more: identical to not having stopped, for every
    action variant (the discrete one once carried a zero-size leaf that orbax refuses to save)."""
    config = MAPPOConfig(**(TINY | variant))
    params = SMALL_ENV.default_params
    train = make_train(config, SMALL_ENV, params)
    two_more = jax.jit(lambda r: train(jax.random.key(0), r, 2))
    runner, _ = two_more(mappo.init_runner(config, SMALL_ENV, params, jax.random.key(7)))
    save_checkpoint(tmp_path / "ck", runner, {"note": "half"})
    restored, meta = load_checkpoint(tmp_path / "ck", MAPPO_METHOD, config, SMALL_ENV, params)
    assert meta["update"] == 2 and meta["note"] == "half" and int(restored.update) == 2
    np.testing.assert_array_equal(jax.random.key_data(runner.key), jax.random.key_data(restored.key))
    for a, b in zip(jax.tree.leaves(runner.replace(key=0)), jax.tree.leaves(restored.replace(key=0))):
        np.testing.assert_array_equal(a, b)
    uninterrupted, m_direct = two_more(runner)
    resumed, m_resumed = two_more(restored)
    for name in ("reward", "value_loss", "approx_kl"):
        np.testing.assert_array_equal(m_direct[name], m_resumed[name])
    for a, b in zip(jax.tree.leaves(uninterrupted.actor.params), jax.tree.leaves(resumed.actor.params)):
        np.testing.assert_array_equal(a, b)

    # A restored policy evaluates identically.
    from semjax.training import evaluate_policy

    e1 = evaluate_policy(MAPPO_METHOD, config, SMALL_ENV, params, runner.actor.params, 0, 8)
    e2 = evaluate_policy(MAPPO_METHOD, config, SMALL_ENV, params, restored.actor.params, 0, 8)
    assert e1 == e2


def test_missing_or_corrupt_checkpoint(tmp_path):
    config = MAPPOConfig(**TINY)
    params = SMALL_ENV.default_params
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing", MAPPO_METHOD, config, SMALL_ENV, params)
    runner = mappo.init_runner(config, SMALL_ENV, params, jax.random.key(0))
    save_checkpoint(tmp_path / "ck", runner, {})
    # A checkpoint of another network width does not restore silently.
    with pytest.raises(ValueError, match=r"does not match this config: actor\.opt_state\.1\.0\.mu\.params\.Dense_0\.kernel "
                                         r"has shape \(8, 6\) there, \(16, 6\) here"):
        load_checkpoint(tmp_path / "ck", MAPPO_METHOD, MAPPOConfig(**(TINY | {"hidden": 16})), SMALL_ENV, params)
    (tmp_path / "ck" / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(tmp_path / "ck", MAPPO_METHOD, config, SMALL_ENV, params)



_WEDGE = """
import os
import jax
import semjax  # sets XLA's CPU flags before the backend starts
from semjax.agents.mappo import MAPPOConfig, make_train
env = semjax.SemanticMEC()
config = MAPPOConfig(num_envs=8, num_updates=2, hidden=64)
out = jax.jit(jax.vmap(make_train(config, env, env.default_params)))(jax.random.split(jax.random.key(0), 2))
jax.block_until_ready(out)
print(os.environ["XLA_FLAGS"])
"""


def test_import_sets_the_cpu_scheduler_so_vmapped_training_returns():
    # On 2 cores this program parked every XLA thread forever under XLA's defaults; importing
    # semjax turns the concurrency-optimised scheduler off first. A value the user set is kept.
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("NPROC", "XLA_FLAGS")}
    done = subprocess.run([sys.executable, "-c", _WEDGE], env=clean, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "--xla_cpu_enable_concurrency_optimized_scheduler=false"
    mine = "--xla_cpu_enable_concurrency_optimized_scheduler=true --xla_cpu_ftz=true"
    kept = subprocess.run([sys.executable, "-c", "import os, semjax; print(os.environ['XLA_FLAGS'])"],
                          env=clean | {"XLA_FLAGS": mine}, capture_output=True, text=True, timeout=120)
    assert kept.stdout.strip() == mine
