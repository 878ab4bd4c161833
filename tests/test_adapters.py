"""The framework adapters, checked by each framework's own tools and against the semjax env.

JaxMARL and gymnax: their ``LogWrapper`` (and gymnax's ``FlattenObservationWrapper``) run
over the adapter inside ``lax.scan``; the logged episode returns, dones and observations
must equal a replay of the same keys on ``SemanticMEC`` itself. PettingZoo:
``parallel_api_test``, ``parallel_seed_test`` and ``api_test`` of the AEC conversion.
Gymnasium: ``check_env`` on the single env, and the jitted vector env must match
Gymnasium's own ``SyncVectorEnv`` (SAME_STEP autoreset) over single envs, observations,
rewards, dones and infos, across episode ends.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import semjax
from semjax.agents import heuristics

pytest.importorskip("jaxmarl", reason="the adapters extra is not installed: pip install -e '.[adapters]'")
pytest.importorskip("gymnax")
pytest.importorskip("pettingzoo")
gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env, data_equivalence  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402

from semjax.adapters.common import ACTION_KEYS, action_from_dict  # noqa: E402
from semjax.adapters.gymnasium import GymnasiumMEC, GymnasiumVectorEnvMEC  # noqa: E402
from semjax.adapters.gymnax import GymnaxMEC  # noqa: E402
from semjax.adapters.jaxmarl import JaxMARLMEC  # noqa: E402
from semjax.adapters.pettingzoo import PettingZooMEC  # noqa: E402

Q = 5
STEPS = 2 * Q + 1  # two whole episodes and the first step of a third


@pytest.fixture(scope="module")
def small():
    return semjax.SemanticMEC(num_ues=3, num_channels=2, queue_len=Q)


# The replay's own compiled env functions (independent of the adapters' helpers).
_reset = jax.jit(lambda env, k, p: env.reset(k, p), static_argnums=0)
_step_env = jax.jit(lambda env, k, s, a, p: env.step_env(k, s, a, p), static_argnums=0)


def _replay(env, params, keys, actions, split_step):
    """Team rewards, dones and observations of ``env`` stepped with ``keys``/``actions``,
    resetting after each episode the way the framework's base ``step`` does: the step key
    is split into (step, reset) keys by ``split_step``."""
    step_env = lambda k, s, a: _step_env(env, k, s, a, params)  # noqa: E731
    reset = lambda k: _reset(env, k, params)  # noqa: E731
    obs, state = reset(jax.random.key(0))
    rewards, dones, observations, terminal_obs = [], [], [], []
    for t in range(len(keys)):
        k_step, k_reset = split_step(keys[t])
        obs, state, reward, done, _ = step_env(k_step, state, jax.tree.map(lambda x, t=t: x[t], actions))
        terminal_obs.append(obs)
        if done:
            obs, state = reset(k_reset)
        rewards.append(float(reward))
        dones.append(bool(done))
        observations.append(obs)
    return np.array(rewards), np.array(dones), np.stack(observations), np.stack(terminal_obs)


def _episode_returns(rewards, dones):
    """The return of each finished episode, by an independent running sum."""
    out, acc = [], 0.0
    for r, d in zip(rewards, dones):
        acc += r
        if d:
            out.append(acc)
            acc = 0.0
    return np.array(out)


# ---------------------------------------------------------------------------- JaxMARL


def test_jaxmarl_spaces_are_jaxmarls_and_match_the_env(small):
    from jaxmarl.environments import spaces
    from jaxmarl.environments.multi_agent_env import MultiAgentEnv

    marl = JaxMARLMEC(small)
    params = small.default_params
    assert isinstance(marl, MultiAgentEnv)
    assert marl.agents == ["agent_0", "agent_1", "agent_2"] and marl.num_agents == 3
    space = marl.action_space("agent_1")
    assert isinstance(space, spaces.Dict) and list(space.spaces) == list(ACTION_KEYS)
    assert isinstance(space.spaces["choice"], spaces.Discrete) and space.spaces["choice"].n == small.num_channels + 1
    assert (space.spaces["power"].low, space.spaces["power"].high) == (float(params.power_min), float(params.power_max))
    assert (space.spaces["freq"].low, space.spaces["freq"].high) == (float(params.freq_min), float(params.freq_max))
    assert (space.spaces["mu"].low, space.spaces["mu"].high) == (float(params.mu_min), 1.0)
    obs_space = marl.observation_space("agent_0")
    assert isinstance(obs_space, spaces.Box) and obs_space.shape == (small.obs_dim,)
    sample = space.sample(jax.random.key(3))
    assert bool(space.contains(sample))
    avail = marl.get_avail_actions(None)
    assert set(avail) == set(marl.agents) and all(bool(v.all()) and v.shape == (3,) for v in avail.values())


def test_jaxmarl_logwrapper_matches_a_replay_on_the_env(small):
    from jaxmarl.wrappers.baselines import LogWrapper

    marl = JaxMARLMEC(small)
    logged = LogWrapper(marl)
    keys = jax.random.split(jax.random.key(1), STEPS)
    act_keys = jax.vmap(lambda k: jax.random.split(k, marl.num_agents))(jax.random.split(jax.random.key(2), STEPS))

    def body(state, xs):
        key, ks = xs
        actions = {a: marl.action_space(a).sample(ks[i]) for i, a in enumerate(marl.agents)}
        obs, state, rewards, dones, info = logged.step(key, state, actions)
        stacked = {k: jnp.stack([actions[a][k] for a in marl.agents]) for k in ACTION_KEYS}
        return state, (obs, rewards, dones, info, stacked)

    _, state0 = logged.reset(jax.random.key(0))
    _, (obs, rewards, dones, info, actions) = jax.lax.scan(body, state0, (keys, act_keys))

    team, done, want_obs, _ = _replay(small, small.default_params, keys, action_from_dict(actions),
                                      lambda k: tuple(jax.random.split(k)))
    np.testing.assert_array_equal(np.asarray(dones["__all__"]), done)
    assert done.sum() == 2 and done[Q - 1] and done[2 * Q - 1]
    for a in marl.agents:
        np.testing.assert_array_equal(np.asarray(dones[a]), done)
        np.testing.assert_allclose(np.asarray(rewards[a]), team, rtol=1e-5, atol=1e-5)
    # the team reward is the sum of the per-UE rewards the info reports
    np.testing.assert_allclose(np.asarray(info["reward"]).sum(axis=1), team, rtol=1e-5, atol=1e-6)
    got_obs = np.stack([np.asarray(obs[a]) for a in marl.agents], axis=1)
    np.testing.assert_allclose(got_obs, want_obs, rtol=1e-6, atol=1e-6)
    # JaxMARL's LogWrapper: each agent's logged return of a finished episode
    logged_returns = np.asarray(info["returned_episode_returns"])[done]
    np.testing.assert_allclose(logged_returns, np.repeat(_episode_returns(team, done)[:, None], 3, axis=1), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(info["returned_episode_lengths"])[done], Q)


def test_jaxmarl_rejects_a_missing_agent(small):
    marl = JaxMARLMEC(small)
    _, state = marl.reset(jax.random.key(0))
    one = {"choice": 0, "power": 0.05, "freq": 1e9, "mu": 1.0}
    with pytest.raises(ValueError, match="agent_2"):
        marl.step_env(jax.random.key(1), state, {"agent_0": one, "agent_1": one})


# ---------------------------------------------------------------------------- gymnax


def test_gymnax_wrappers_match_a_replay_on_the_env(small):
    from gymnax.environments.environment import Environment
    from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper

    view = GymnaxMEC(small)
    assert isinstance(view, Environment)
    params = view.default_params
    wrapped = LogWrapper(FlattenObservationWrapper(view))
    assert wrapped.observation_space(params).shape == (small.num_ues * small.obs_dim,)
    keys = jax.random.split(jax.random.key(1), STEPS)
    act_keys = jax.random.split(jax.random.key(2), STEPS)

    def body(state, xs):
        key, ka = xs
        action = view.action_space(params).sample(ka)
        obs, state, reward, terminated, truncated, info = wrapped.step(key, state, action, params)
        return state, (obs, reward, terminated, truncated, info, action)

    _, state0 = wrapped.reset(jax.random.key(0), params)
    _, (obs, reward, term, trunc, info, actions) = jax.lax.scan(body, state0, (keys, act_keys))

    team, done, want_obs, terminal = _replay(small, params, keys, action_from_dict(actions),
                                             lambda k: tuple(jax.random.split(k)))
    np.testing.assert_array_equal(np.asarray(term), done)
    assert done.sum() == 2 and not np.asarray(trunc).any()
    np.testing.assert_allclose(np.asarray(reward), team, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(obs), want_obs.reshape(STEPS, -1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(info["final_observation"]), terminal.reshape(STEPS, -1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(info["returned_episode_returns"])[done], _episode_returns(team, done),
                               rtol=1e-5)


def test_gymnax_choice_samples_cover_every_choice(small):
    space = GymnaxMEC(small).action_space()
    choice = np.asarray(jax.jit(jax.vmap(space.sample))(jax.random.split(jax.random.key(0), 3000))["choice"])
    counts = np.bincount(choice.ravel(), minlength=small.num_channels + 2)
    # K + 1 = 3 choices, uniform: 9000 draws, each count within 5 sigma of 3000
    assert counts[-1] == 0 and np.all(np.abs(counts[:-1] - 3000) < 5 * np.sqrt(9000 * (1 / 3) * (2 / 3)))


# ---------------------------------------------------------------------------- PettingZoo


def test_pettingzoo_passes_parallel_api_and_seed_tests(small):
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PettingZoo reports API problems as warnings
        parallel_api_test(PettingZooMEC(small), num_cycles=3 * Q)
        parallel_seed_test(lambda: PettingZooMEC(small), num_cycles=2 * Q)


def test_pettingzoo_aec_view_passes_api_test(small):
    from pettingzoo.test import api_test
    from pettingzoo.utils.conversions import parallel_to_aec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(parallel_to_aec(PettingZooMEC(small)), num_cycles=3 * Q)
    # advice that does not apply: the action is hybrid by design (a Dict of a Discrete and
    # Boxes), and observations (log gains) have no finite bounds
    advice = ("should be gymnasium.spaces.box or gymnasium.spaces.discrete",
              "observation space value is -infinity", "observation space value is infinity")
    assert [str(w.message) for w in caught if not any(a in str(w.message) for a in advice)] == []


def test_pettingzoo_matches_the_env_and_local_scores_half(small):
    pz = PettingZooMEC(small)
    params = small.default_params
    obs, infos = pz.reset(seed=11)
    chain, use = jax.random.split(jax.random.key(11))
    want_obs, state = _reset(small, use, params)
    got = np.stack([obs[a] for a in pz.possible_agents])
    np.testing.assert_allclose(got, np.asarray(want_obs), rtol=1e-6, atol=1e-6)
    assert pz.state().shape == pz.state_space.shape and infos == {a: {} for a in pz.agents}
    local = heuristics.local(small)
    steps = 0
    while pz.agents:
        act = local(None, None, params)
        actions = {a: {k: np.asarray(getattr(act, k))[n] for k in ACTION_KEYS} for n, a in enumerate(pz.agents)}
        obs, rewards, terms, truncs, infos = pz.step(actions)
        chain, use = jax.random.split(chain)
        _, state, reward, done, info = _step_env(small, use, state, act, params)
        steps += 1
        for n, a in enumerate(pz.possible_agents):
            assert infos[a]["qoe"] == 0.5  # Local scores exactly 0.5 (the QoE normalisers' reference)
            assert rewards[a] == pytest.approx(float(reward), rel=1e-5, abs=1e-5)
            assert infos[a]["reward"] == pytest.approx(float(info["reward"][n]), rel=1e-5, abs=1e-5)
        assert rewards["ue_0"] == pytest.approx(sum(float(infos[a]["reward"]) for a in pz.possible_agents), rel=1e-5)
        assert all(terms.values()) == bool(done) and not any(truncs.values())
    assert steps == Q


def test_pettingzoo_rejects_bad_actions(small):
    pz = PettingZooMEC(small)
    with pytest.raises(ValueError, match="reset"):
        pz.step({})
    pz.reset(seed=0)
    one = {"choice": 0, "power": 0.05, "freq": 1e9, "mu": 1.0}
    with pytest.raises(ValueError, match="ue_1"):
        pz.step({"ue_0": one, "ue_2": one})
    with pytest.raises(ValueError, match=r"choice must be in \{0..2\}"):
        pz.step({a: {**one, "choice": 3} for a in pz.agents})
    with pytest.raises(ValueError, match="missing"):
        pz.step({a: {"choice": 0, "power": 0.05, "freq": 1e9} for a in pz.agents})


# ---------------------------------------------------------------------------- Gymnasium

# check_env's advice that does not apply: actions are in physical units by design (SPEC
# section 2), and observations (log gains) have no finite bounds.
_EXPECTED_ADVICE = ("symmetric and normalized space", "observation space minimum value is -infinity",
                    "observation space maximum value is infinity")


def test_gymnasium_env_passes_check_env(small):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(GymnasiumMEC(small), skip_render_check=True)
    unexpected = [str(w.message) for w in caught if not any(s in str(w.message) for s in _EXPECTED_ADVICE)]
    assert unexpected == []


def test_gymnasium_vector_env_matches_sync_vector_env(small):
    num_envs = 3
    vec = GymnasiumVectorEnvMEC(num_envs, small)
    ref = SyncVectorEnv([lambda: GymnasiumMEC(small)] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert vec.observation_space == ref.observation_space and vec.action_space == ref.action_space
    got, want = vec.reset(seed=7), ref.reset(seed=7)
    assert data_equivalence(got, want)
    vec.action_space.seed(0)
    finals = 0
    for _ in range(STEPS):
        actions = vec.action_space.sample()
        got, want = vec.step(actions), ref.step(actions)
        for name, g, w in zip(("obs", "reward", "terminated", "truncated", "info"), got, want):
            assert data_equivalence(g, w), name
        finals += "final_obs" in got[4]
    assert finals == 2
    # the same stream continues after an unseeded reset
    assert data_equivalence(vec.reset(), ref.reset())


def test_gymnasium_vector_local_policy_scores_half(small):
    vec = GymnasiumVectorEnvMEC(3, small)
    vec.reset(seed=0)
    act = heuristics.local(small)(None, None, small.default_params)
    actions = {k: np.tile(np.asarray(getattr(act, k)), (3, 1)) for k in ACTION_KEYS}
    qoe = [vec.step(actions)[4] for _ in range(Q)]
    np.testing.assert_array_equal(np.stack([i["qoe"] for i in qoe[:-1]]), 0.5)
    np.testing.assert_array_equal(qoe[-1]["final_info"]["qoe"], 0.5)


def test_gymnasium_rejects_bad_input(small):
    with pytest.raises(ValueError, match="num_envs"):
        GymnasiumVectorEnvMEC(0, small)
    vec = GymnasiumVectorEnvMEC(3, small)
    with pytest.raises(ValueError, match="reset"):
        vec.step(vec.action_space.sample())
    with pytest.raises(ValueError, match=r"seeds must be integers in \[0, 2\*\*32\)"):
        vec.reset(seed=2**32 - 2)
    with pytest.raises(ValueError, match="num_envs=3"):
        vec.reset(seed=[1, 2])
    vec.reset(seed=0)
    bad = vec.action_space.sample()
    bad["choice"][0, 0] = small.num_channels + 1
    with pytest.raises(ValueError, match="choice"):
        vec.step(bad)
    single = GymnasiumMEC(small)
    single.reset(seed=0)
    bad = single.action_space.sample()
    bad["choice"][1] = -1
    with pytest.raises(ValueError, match="choice"):
        single.step(bad)
