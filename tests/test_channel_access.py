"""Sequential sub-channel access: agents choose in turn among the free sub-channels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import semjax
from semjax.agents import d3qn, mappo
from semjax.agents.channel_access import MASKED_LOGIT, sequential_choices, sequential_q_actions
from semjax.agents.d3qn import D3QNConfig
from semjax.agents.distributions import ActionHeadSpec, HybridDistribution
from semjax.agents.mappo import MAPPOConfig
from semjax.evaluation import evaluate

_choices = jax.jit(sequential_choices, static_argnames="deterministic")


@given(seed=st.integers(0, 2**31 - 1), num_ues=st.integers(1, 7), num_channels=st.integers(1, 5),
       deterministic=st.booleans())
def test_turns_leave_no_collision_and_each_agent_saw_what_earlier_agents_took(seed, num_ues, num_channels,
                                                                             deterministic):
    k_logits, k_turns = jax.random.split(jax.random.key(seed))
    logits = 3.0 * jax.random.normal(k_logits, (6, num_ues, num_channels + 1))
    choice, available = (np.asarray(x) for x in _choices(k_turns, logits, deterministic))
    for e in range(6):
        taken = choice[e][choice[e] > 0]
        assert len(taken) == len(set(taken))  # no two agents on one sub-channel
        assert available[e, :, 0].all()  # local is always free
        assert available[e, np.arange(num_ues), choice[e]].all()  # each chose what it could
        if deterministic:  # the most likely of what it could choose
            masked = np.where(available[e], np.asarray(logits[e]), -np.inf)
            np.testing.assert_array_equal(choice[e], masked.argmax(axis=1))
        # The turn order: what each agent found taken grows by exactly the earlier agent's choice.
        unavailable = [set(np.flatnonzero(~available[e, a])) for a in range(num_ues)]
        order = sorted(range(num_ues), key=lambda a: (len(unavailable[a]), choice[e, a] > 0))
        assert unavailable[order[0]] == set()
        for cur, nxt in zip(order, order[1:]):
            assert unavailable[nxt] == unavailable[cur] | ({int(choice[e, cur])} if choice[e, cur] > 0 else set())


def test_two_agents_on_one_sub_channel_by_hand():
    # N = 2, K = 1: each agent wants the sub-channel with probability p. The first to choose
    # takes it with probability p; the second can take it only if the first did not. Each
    # agent goes first with probability 1/2: P(agent gets it) = p/2 + (1 - p) p / 2.
    p, envs = 0.7, 40_000
    logits = jnp.broadcast_to(jnp.log(jnp.array([1 - p, p])), (envs, 2, 2))
    choice, available = _choices(jax.random.key(3), logits)
    expected = p / 2 + (1 - p) * p / 2
    sigma = np.sqrt(expected * (1 - expected) / envs)
    for agent in range(2):
        assert abs(float(jnp.mean(choice[:, agent] == 1)) - expected) < 4 * sigma
    # An agent found the sub-channel taken only when the other agent (who went first) took it,
    # which happens with probability p.
    found_taken = np.asarray(~available[:, :, 1])
    np.testing.assert_array_equal(found_taken, np.asarray(choice[:, ::-1] == 1) & found_taken)
    assert not (found_taken[:, 0] & found_taken[:, 1]).any()
    sigma_first = np.sqrt(p * (1 - p) / envs)
    assert abs(found_taken.any(axis=1).mean() - p) < 4 * sigma_first


def test_masked_distribution_puts_no_mass_on_taken_sub_channels():
    spec = ActionHeadSpec.make(3, "hybrid", True)
    outputs = jax.random.normal(jax.random.key(0), (5, spec.num_outputs))
    dist = HybridDistribution.from_outputs(spec, outputs, jnp.zeros(3))
    available = jnp.array([[True, False, True, True]] * 5)
    masked = dist.with_choice_mask(available)
    probs = jax.nn.softmax(masked.logits[0])
    np.testing.assert_array_equal(probs[:, 1], 0.0)
    free = jax.nn.softmax(jnp.where(available, dist.logits[0], -jnp.inf))
    np.testing.assert_allclose(probs, free, rtol=1e-6)
    entropy = masked.entropy_discrete()
    assert bool(jnp.all(jnp.isfinite(entropy)))
    np.testing.assert_allclose(entropy, -jnp.sum(jnp.where(available, free * jnp.log(free), 0.0), axis=1), rtol=1e-5)
    assert MASKED_LOGIT < -1e8


def test_q_actions_take_the_best_joint_action_among_free_choices_by_hand():
    # K = 2 sub-channels, R = 3 rests per choice: index = choice * 3 + rest. Every agent likes
    # sub-channel 1 best (rest 2), then sub-channel 2 (rest 0), then local (rest 1).
    q = jnp.full((1, 3, 9), -5.0)
    q = q.at[:, :, 1 * 3 + 2].set(3.0).at[:, :, 2 * 3 + 0].set(2.0).at[:, :, 0 * 3 + 1].set(1.0)
    for seed in range(5):
        index = np.asarray(sequential_q_actions(jax.random.key(seed), q, 3))[0]
        assert sorted(index.tolist()) == [1, 5, 6]  # local rest 1; sub-channel 2 rest 0; sub-channel 1 rest 2
    # Exploring agents take random free choices: still no two on one sub-channel.
    q = jax.random.normal(jax.random.key(0), (500, 4, 3 * 7))
    index = sequential_q_actions(jax.random.key(1), q, 3, explore=jnp.ones((500, 4), bool))
    choice = np.asarray(index) // 7
    for row in choice:
        taken = row[row > 0]
        assert len(taken) == len(set(taken))
    # ...and every rest is drawn, not only the best.
    assert len(np.unique(np.asarray(index) % 7)) == 7


@pytest.mark.parametrize("method", ["mappo", "d3qn"])
def test_a_trained_sequential_policy_never_collides(method):
    env = semjax.SemanticMEC(num_ues=4, num_channels=2, queue_len=5)
    params = env.default_params
    if method == "mappo":
        config = MAPPOConfig(num_envs=4, num_minibatches=2, num_updates=3, rollout_len=5, hidden=16,
                             channel_access="sequential")
        runner, _ = jax.jit(mappo.make_train(config, env, params))(jax.random.key(0))
        # Sampled: three updates leave the choice logits nearly flat, so their argmax would
        # be one choice for every agent.
        policy, carry = mappo.make_policy(config, env, runner.actor.params, deterministic=False)
    else:
        config = D3QNConfig(num_envs=4, num_updates=3, steps_per_update=5, hidden=16, batch_size=8, buffer_size=64,
                            learning_starts=8, gamma=0.5, channel_access="sequential")
        runner, _ = jax.jit(d3qn.make_train(config, env, params))(jax.random.key(0))
        policy, carry = d3qn.make_policy(config, env, runner.q.params)
    result = evaluate(env, params, policy, jax.random.key(2), 20, initial_carry=carry)
    assert result["collision_rate"] == 0.0 and result["offload_rate"] > 0.0
