"""The framework adapters, checked by each framework's own tools and against the semjax env.

JaxMARL and gymnax: their ``LogWrapper`` (and gymnax's ``FlattenObservationWrapper``) run
over the adapter inside ``lax.scan``; the logged episode returns, dones and observations
must equal a replay of the same keys on ``SemanticMEC`` itself. PettingZoo:
``parallel_api_test``, ``parallel_seed_test`` and ``api_test`` of the AEC conversion.
Gymnasium: ``check_env`` on the single env, and the jitted vector env must match
Gymnasium's own ``SyncVectorEnv`` (SAME_STEP autoreset) over single envs, observations,
rewards, dones and infos, across episode ends.

The discrete action option gets the same checks, plus: its decode is discrete MAPPO's bin
map (against NumPy's ``unravel_index`` and a hand formula), every adapter's step equals the
env stepped with that decoded action, JaxMARL's log wrappers report what the docs say, and
an IPPO-RNN loop written here in JaxMARL's idiom (``env.action_space(agent).n``,
``batchify``/``unbatchify``, its ``LogWrapper``, a GRU actor-critic shared by the agents,
PPO under ``lax.scan``) learns on the discrete JaxMARL adapter.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

import distrax
import flax.linen as nn
import flax.struct as struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.linen.initializers import constant, orthogonal
from flax.training.train_state import TrainState

import semjax
from semjax.agents import heuristics
from semjax.agents.d3qn import D3QNConfig
from semjax.agents.distributions import ActionHeadSpec, index_to_action, to_env_action
from semjax.agents.mappo import MAPPOConfig
from semjax.agents.mappo import head_spec as mappo_head_spec

pytest.importorskip("jaxmarl", reason="the adapters extra is not installed: pip install -e '.[adapters]'")
pytest.importorskip("gymnax")
pytest.importorskip("pettingzoo")
gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env, data_equivalence  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402

from semjax.adapters.common import ACTION_KEYS, action_from_dict, default_bins  # noqa: E402
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


# ---------------------------------------------------------------------------- the discrete action option
#
# The reference decode of a joint index: NumPy's own unravel_index (C order, choice most
# significant) for the parts, then discrete MAPPO's head and to_env_action for the values.


def _mappo_spec(env, semantic=True, bins=None):
    config = MAPPOConfig(action_space="discrete", semantic=semantic, **({} if bins is None else {"bins": bins}))
    return mappo_head_spec(config, env)


def _reference_decode(spec: ActionHeadSpec, index, params):
    parts = np.stack(np.unravel_index(np.asarray(index), spec.discrete_sizes), axis=-1).astype(np.int32)
    return to_env_action(spec, jnp.asarray(parts), jnp.zeros(parts.shape[:-1] + (0,), jnp.float32), params)


def _discrete_adapters(env):
    """Every adapter, built with the discrete option and default bins."""
    return [JaxMARLMEC(env, action_space="discrete"), GymnaxMEC(env, action_space="discrete"),
            PettingZooMEC(env, action_space="discrete"), GymnasiumMEC(env, action_space="discrete"),
            GymnasiumVectorEnvMEC(2, env, action_space="discrete")]


def test_discrete_option_uses_discrete_mappos_bins(small):
    # K = 2: 3 choices x 4 power x 3 freq x 5 mu bins (train.bins' defaults), by hand
    assert default_bins() == MAPPOConfig().bins == D3QNConfig().bins == {"power": 4, "freq": 3, "mu": 5}
    for adapter in _discrete_adapters(small):
        assert adapter.discrete_spec == _mappo_spec(small), type(adapter).__name__
    marl = JaxMARLMEC(small, action_space="discrete")
    assert marl.action_space("agent_0").n == 3 * 4 * 3 * 5
    assert PettingZooMEC(small, action_space="discrete").action_space("ue_2") == gymnasium.spaces.Discrete(180)
    assert GymnasiumMEC(small, action_space="discrete").action_space == gymnasium.spaces.MultiDiscrete([180] * 3)
    vec = GymnasiumVectorEnvMEC(2, small, action_space="discrete")
    assert vec.single_action_space == gymnasium.spaces.MultiDiscrete([180] * 3)
    gymnax_space = GymnaxMEC(small, action_space="discrete").action_space()
    assert (gymnax_space.shape, gymnax_space.low, gymnax_space.high) == ((3,), 0, 179)
    # semantic-unaware: no mu part; a partial bins mapping keeps the other defaults
    unaware = JaxMARLMEC(small, action_space="discrete", semantic=False)
    assert unaware.action_space("agent_0").n == 3 * 4 * 3 and unaware.discrete_spec == _mappo_spec(small, False)
    coarse = PettingZooMEC(small, action_space="discrete", bins={"power": 2})
    assert coarse.action_space("ue_0").n == 3 * 2 * 3 * 5
    assert coarse.discrete_spec == _mappo_spec(small, bins={"power": 2, "freq": 3, "mu": 5})
    # the hybrid default is unchanged
    assert JaxMARLMEC(small).discrete_spec is None and GymnasiumMEC(small).action_space == GymnasiumMEC(
        small, action_space="hybrid").action_space


@pytest.mark.parametrize("semantic", [True, False])
def test_discrete_decode_is_discrete_mappos_bin_map(small, semantic):
    params = small.default_params
    marl = JaxMARLMEC(small, action_space="discrete", semantic=semantic)
    n = marl.action_space("agent_0").n
    index = np.arange(n)
    got = jax.tree.map(np.asarray, jax.jit(lambda i: index_to_action(marl.discrete_spec, i, params))(index))
    want = jax.tree.map(np.asarray, _reference_decode(_mappo_spec(small, semantic), index, params))
    for name in ACTION_KEYS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    # by hand: bin b of B is lo + b (hi - lo) / (B - 1); choice is the most significant digit
    sizes = (3, 4, 3, 5) if semantic else (3, 4, 3)
    digits = np.unravel_index(index, sizes)
    np.testing.assert_array_equal(got.choice, digits[0])
    lo_hi = {"power": (float(params.power_min), float(params.power_max)),
             "freq": (float(params.freq_min), float(params.freq_max)), "mu": (float(params.mu_min), 1.0)}
    for part, (name, (lo, hi)) in enumerate(lo_hi.items(), start=1):
        if name == "mu" and not semantic:
            np.testing.assert_array_equal(got.mu, 1.0)
            continue
        bins = sizes[part]
        np.testing.assert_allclose(getattr(got, name), lo + digits[part] * (hi - lo) / (bins - 1), rtol=1e-6)
    # the range's ends are bins: index 0 is local at the lowest settings, n - 1 the highest
    assert got.choice[-1] == 2 and got.power[0] == np.float32(lo_hi["power"][0]) and got.mu[-1] == 1.0


@pytest.mark.parametrize("make", [
    lambda env, **kw: JaxMARLMEC(env, **kw), lambda env, **kw: GymnaxMEC(env, **kw),
    lambda env, **kw: PettingZooMEC(env, **kw), lambda env, **kw: GymnasiumMEC(env, **kw),
    lambda env, **kw: GymnasiumVectorEnvMEC(2, env, **kw),
], ids=["jaxmarl", "gymnax", "pettingzoo", "gymnasium", "gymnasium_vector"])
def test_discrete_option_rejects_bad_values(small, make):
    name = type(make(small)).__name__
    cases = [
        (dict(action_space="continuous"), rf"{name}\.action_space must be one of \['hybrid', 'discrete'\]"),
        (dict(action_space=None), rf"{name}\.action_space must be one of"),
        (dict(action_space="discrete", bins={"power": 1}), rf"{name}\.bins\.power must be an integer >= 2 \(got 1\)"),
        (dict(action_space="discrete", bins={"mu": 2.5}), rf"{name}\.bins\.mu must be an integer >= 2"),
        (dict(action_space="discrete", bins={"pwr": 3}), rf"{name}\.bins has unknown part\(s\) \['pwr'\]; accepted"),
        (dict(action_space="discrete", bins=[4, 3, 5]), rf"{name}\.bins must be a mapping"),
        (dict(action_space="discrete", semantic="yes"), rf"{name}\.semantic must be True or False"),
        (dict(bins={"power": 4}), rf"{name}\.semantic and {name}\.bins apply only to action_space='discrete'"),
        (dict(semantic=False), rf"{name}\.semantic and {name}\.bins apply only"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            make(small, **kwargs)


def test_jaxmarl_discrete_log_wrappers_report_the_team_return(small):
    """LogWrapper logs each agent's return, the team return; MPELogWrapper (ippo_rnn_mpe's)
    and CTRolloutManager's global reward sum over agents: N times the team return/reward.
    The observations and rewards equal the env stepped with the reference decode."""
    from jaxmarl.environments import spaces
    from jaxmarl.wrappers.baselines import CTRolloutManager, LogWrapper, MPELogWrapper

    marl = JaxMARLMEC(small, action_space="discrete")
    assert isinstance(marl.action_space("agent_0"), spaces.Discrete)
    n, agents = marl.action_space("agent_0").n, marl.agents
    avail = marl.get_avail_actions(None)
    assert all(v.shape == (n,) and bool(v.all()) for v in avail.values())
    plain, mpe, ct = LogWrapper(marl), MPELogWrapper(marl), CTRolloutManager(marl, batch_size=1, preprocess_obs=False)
    keys = jax.random.split(jax.random.key(1), STEPS)
    act_keys = jax.vmap(lambda k: jax.random.split(k, len(agents)))(jax.random.split(jax.random.key(2), STEPS))

    def body(states, xs):
        key, ks = xs
        actions = {a: marl.action_space(a).sample(ks[i]) for i, a in enumerate(agents)}
        obs, s_plain, rewards, dones, info = plain.step(key, states[0], actions)
        _, s_mpe, rewards_mpe, _, info_mpe = mpe.step(key, states[1], actions)
        _, s_ct, rewards_ct, _, _ = ct.wrapped_step(key, states[2], actions)
        stacked = jnp.stack([actions[a] for a in agents])
        outputs = (obs, rewards, dones, info, info_mpe, rewards_mpe["agent_0"], rewards_ct["__all__"], stacked)
        return (s_plain, s_mpe, s_ct), outputs

    key0 = jax.random.key(0)
    states0 = (plain.reset(key0)[1], mpe.reset(key0)[1], ct.wrapped_reset(key0)[1])
    _, (obs, rewards, dones, info, info_mpe, learner_mpe, global_reward, index) = jax.lax.scan(
        body, states0, (keys, act_keys))

    decoded = _reference_decode(_mappo_spec(small), index, small.default_params)
    team, done, want_obs, _ = _replay(small, small.default_params, keys, decoded, lambda k: tuple(jax.random.split(k)))
    np.testing.assert_array_equal(np.asarray(dones["__all__"]), done)
    assert done.sum() == 2
    for a in agents:
        np.testing.assert_allclose(np.asarray(rewards[a]), team, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.stack([np.asarray(obs[a]) for a in agents], axis=1), want_obs, rtol=1e-6, atol=1e-6)
    episode = np.repeat(_episode_returns(team, done)[:, None], len(agents), axis=1)
    np.testing.assert_allclose(np.asarray(info["returned_episode_returns"])[done], episode, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(info_mpe["returned_episode_returns"])[done], len(agents) * episode,
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(learner_mpe), team, rtol=1e-5, atol=1e-5)  # only its log is scaled
    np.testing.assert_allclose(np.asarray(global_reward), len(agents) * team, rtol=1e-5, atol=1e-5)


def test_gymnax_discrete_matches_the_env_and_samples_every_index(small):
    view = GymnaxMEC(small, action_space="discrete")
    params = view.default_params
    space = view.action_space(params)
    index = np.asarray(jax.jit(jax.vmap(space.sample))(jax.random.split(jax.random.key(0), 3000)))
    assert index.dtype == np.int32 and index.min() == 0 and index.max() == 179 and view.num_actions == 180
    _, state = jax.jit(view.reset_env)(jax.random.key(1), params)
    got = jax.jit(view.step_env)(jax.random.key(2), state, jnp.asarray(index[0]), params)
    want = _step_env(small, jax.random.key(2), state, _reference_decode(_mappo_spec(small), index[0], params), params)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)


def test_pettingzoo_discrete_passes_parallel_api_and_seed_tests(small):
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(PettingZooMEC(small, action_space="discrete"), num_cycles=3 * Q)
        parallel_seed_test(lambda: PettingZooMEC(small, action_space="discrete"), num_cycles=2 * Q)


def test_pettingzoo_discrete_aec_view_passes_api_test(small):
    from pettingzoo.test import api_test
    from pettingzoo.utils.conversions import parallel_to_aec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(parallel_to_aec(PettingZooMEC(small, action_space="discrete")), num_cycles=3 * Q)
    # a Discrete action draws no space advice; unbounded observations still do
    advice = ("observation space value is -infinity", "observation space value is infinity")
    assert [str(w.message) for w in caught if not any(a in str(w.message) for a in advice)] == []


def test_pettingzoo_discrete_matches_the_env(small):
    pz = PettingZooMEC(small, action_space="discrete")
    params = small.default_params
    pz.reset(seed=5)
    chain, use = jax.random.split(jax.random.key(5))
    _, state = _reset(small, use, params)
    rng = np.random.default_rng(0)
    while pz.agents:
        index = rng.integers(0, 180, size=3)
        _, rewards, terms, _, infos = pz.step({a: index[n] for n, a in enumerate(pz.agents)})
        chain, use = jax.random.split(chain)
        decoded = _reference_decode(_mappo_spec(small), index, params)
        _, state, reward, done, info = _step_env(small, use, state, decoded, params)
        for n, a in enumerate(pz.possible_agents):
            assert rewards[a] == pytest.approx(float(reward), rel=1e-5, abs=1e-5)
            assert infos[a]["latency"] == pytest.approx(float(info["latency"][n]), rel=1e-5)
            assert infos[a]["offloaded"] == bool(np.asarray(info["offloaded"])[n])
            # choice is the most significant digit: indices 60.. ask to offload (and win or collide)
            assert bool(infos[a]["offloaded"] or infos[a]["collided"]) == (index[n] >= 4 * 3 * 5)
        assert all(terms.values()) == bool(done)


def test_discrete_numpy_adapters_reject_bad_actions(small):
    pz = PettingZooMEC(small, action_space="discrete")
    pz.reset(seed=0)
    with pytest.raises(ValueError, match=r"a discrete action must be in \{0..179\} \(got \[0, 180, 1\]\)"):
        pz.step({"ue_0": 0, "ue_1": 180, "ue_2": 1})
    with pytest.raises(ValueError, match=r"must be an integer in \{0..179\}"):
        pz.step({a: 1.0 for a in pz.agents})
    with pytest.raises(ValueError, match="ue_2"):
        pz.step({"ue_0": 0, "ue_1": 1})
    with pytest.raises(ValueError, match="must be one integer"):
        pz.step({a: [1, 2] for a in pz.agents})
    single = GymnasiumMEC(small, action_space="discrete")
    single.reset(seed=0)
    with pytest.raises(ValueError, match=r"\{0..179\}"):
        single.step(np.array([0, -1, 2]))
    vec = GymnasiumVectorEnvMEC(2, small, action_space="discrete")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"\{0..179\}"):
        vec.step(np.full((2, 3), 180))


def test_gymnasium_discrete_env_passes_check_env_and_matches_the_env(small):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(GymnasiumMEC(small, action_space="discrete"), skip_render_check=True)
    advice = ("observation space minimum value is -infinity", "observation space maximum value is infinity")
    assert [str(w.message) for w in caught if not any(s in str(w.message) for s in advice)] == []
    env = GymnasiumMEC(small, action_space="discrete")
    params = small.default_params
    obs, _ = env.reset(seed=3)
    chain, use = jax.random.split(jax.random.key(3))
    want_obs, state = _reset(small, use, params)
    np.testing.assert_allclose(obs, np.asarray(want_obs), rtol=1e-6, atol=1e-6)
    env.action_space.seed(1)
    for _ in range(Q):
        index = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(index)
        chain, use = jax.random.split(chain)
        want_obs, state, want_reward, done, want_info = _step_env(
            small, use, state, _reference_decode(_mappo_spec(small), index, params), params)
        np.testing.assert_allclose(obs, np.asarray(want_obs), rtol=1e-6, atol=1e-6)
        assert reward == pytest.approx(float(want_reward), rel=1e-5, abs=1e-5)
        np.testing.assert_allclose(info["qoe"], np.asarray(want_info["qoe"]), rtol=1e-5)
        assert terminated == bool(done) and not truncated
    assert terminated


def test_gymnasium_discrete_vector_env_matches_sync_vector_env(small):
    num_envs = 3
    vec = GymnasiumVectorEnvMEC(num_envs, small, action_space="discrete")
    ref = SyncVectorEnv([lambda: GymnasiumMEC(small, action_space="discrete")] * num_envs,
                        autoreset_mode=AutoresetMode.SAME_STEP)
    assert vec.observation_space == ref.observation_space and vec.action_space == ref.action_space
    assert data_equivalence(vec.reset(seed=7), ref.reset(seed=7))
    vec.action_space.seed(0)
    finals = 0
    for _ in range(STEPS):
        actions = vec.action_space.sample()
        got, want = vec.step(actions), ref.step(actions)
        for name, g, w in zip(("obs", "reward", "terminated", "truncated", "info"), got, want):
            assert data_equivalence(g, w), name
        finals += "final_obs" in got[4]
    assert finals == 2


def test_the_docs_three_line_jaxmarl_snippet_runs():
    """docs/adapters.rst's snippet builds a JaxMARL env whose agents have a Discrete(n) action."""
    from jaxmarl.environments import spaces
    from jaxmarl.environments.multi_agent_env import MultiAgentEnv

    page = (Path(__file__).resolve().parents[1] / "docs" / "adapters.rst").read_text()
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", page, re.M)
    snippet = [b for b in blocks if "JaxMARLMEC(" in b]
    assert len(snippet) == 1
    code = "\n".join(line[3:] for line in snippet[0].splitlines() if line.strip())
    assert len(code.splitlines()) == 3
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (the docs' own code)
    env = namespace["env"]
    assert isinstance(env, MultiAgentEnv) and isinstance(env.action_space(env.agents[0]), spaces.Discrete)
    assert env.action_space(env.agents[0]).n == 5 * 4 * 3 * 5 and env.num_agents == 4


# ---------------------------------------------------------------------------- a JaxMARL-style IPPO-RNN
#
# Written the way JaxMARL's baselines/IPPO/ippo_rnn_mpe.py is: agents' observations
# batchified into one actor axis, one GRU actor-critic shared by every agent, the network's
# hidden state reset where an episode began, GAE on the global done, clipped PPO updates on
# minibatches of whole actor sequences, all under lax.scan. Only the env is semjax's. It is
# hand-written on purpose: JaxMARL's baselines are scripts, not an importable package, and
# what is under test is whether a trainer in their idiom can drive the adapter.

IPPO = dict(NUM_ENVS=16, NUM_STEPS=2 * Q, NUM_UPDATES=60, UPDATE_EPOCHS=4, NUM_MINIBATCHES=2, LR=3e-3,
            GAMMA=0.99, GAE_LAMBDA=0.95, CLIP_EPS=0.2, ENT_COEF=0.01, VF_COEF=0.5, MAX_GRAD_NORM=0.5, HIDDEN=64)


def batchify(x: dict, agent_list, num_actors):
    """Agent-keyed (E, ...) arrays -> (num_actors, -1), agent-major (JaxMARL's layout)."""
    return jnp.stack([x[a] for a in agent_list]).reshape((num_actors, -1))


def unbatchify(x: jax.Array, agent_list, num_envs, num_agents):
    """The inverse of ``batchify``: (num_actors, ...) -> agent-keyed (E, -1) arrays."""
    x = x.reshape((num_agents, num_envs, -1))
    return {a: x[i] for i, a in enumerate(agent_list)}


class ScannedGRU(nn.Module):
    """A GRU over the time axis whose state restarts from zeros where ``resets`` is set."""

    @functools.partial(nn.scan, variable_broadcast="params", in_axes=0, out_axes=0, split_rngs={"params": False})
    @nn.compact
    def __call__(self, carry, x):
        ins, resets = x
        carry = jnp.where(resets[:, None], jnp.zeros_like(carry), carry)
        return nn.GRUCell(features=carry.shape[-1])(carry, ins)


class ActorCriticRNN(nn.Module):
    """Dense-ReLU, GRU, then a Categorical actor head over ``action_dim`` and a value head."""

    action_dim: int
    hidden: int

    @nn.compact
    def __call__(self, hstate, x):
        obs, resets = x
        dense = functools.partial(nn.Dense, bias_init=constant(0.0))
        embedding = nn.relu(dense(self.hidden, kernel_init=orthogonal(np.sqrt(2)))(obs))
        hstate, embedding = ScannedGRU()(hstate, (embedding, resets))
        actor = nn.relu(dense(self.hidden, kernel_init=orthogonal(2))(embedding))
        logits = dense(self.action_dim, kernel_init=orthogonal(0.01))(actor)
        critic = nn.relu(dense(self.hidden, kernel_init=orthogonal(2))(embedding))
        value = dense(1, kernel_init=orthogonal(1.0))(critic)
        return hstate, distrax.Categorical(logits=logits), value[..., 0]


@struct.dataclass
class IPPOTransition:
    global_done: jax.Array  # the episode ended after this step (GAE's mask)
    reset: jax.Array  # the network's reset flag at this step (the previous step's done)
    action: jax.Array
    value: jax.Array
    reward: jax.Array
    log_prob: jax.Array
    obs: jax.Array
    info: dict


def make_ippo_train(config, marl):
    """``train(key) -> (TrainState, metrics per update)`` of IPPO-RNN on ``marl``, JaxMARL-style."""
    from jaxmarl.wrappers.baselines import LogWrapper

    env = LogWrapper(marl)
    num_envs, num_steps = config["NUM_ENVS"], config["NUM_STEPS"]
    num_actors = env.num_agents * num_envs
    minibatch_actors = num_actors // config["NUM_MINIBATCHES"]
    network = ActorCriticRNN(env.action_space(env.agents[0]).n, config["HIDDEN"])
    obs_dim = env.observation_space(env.agents[0]).shape[0]

    def train(key):
        key, k_net, k_env = jax.random.split(key, 3)
        params = network.init(k_net, jnp.zeros((num_envs, config["HIDDEN"])),
                              (jnp.zeros((1, num_envs, obs_dim)), jnp.zeros((1, num_envs), bool)))
        tx = optax.chain(optax.clip_by_global_norm(config["MAX_GRAD_NORM"]), optax.adam(config["LR"], eps=1e-5))
        train_state = TrainState.create(apply_fn=network.apply, params=params, tx=tx)
        obsv, env_state = jax.vmap(env.reset)(jax.random.split(k_env, num_envs))
        hstate = jnp.zeros((num_actors, config["HIDDEN"]))
        runner = (train_state, env_state, obsv, jnp.zeros((num_actors,), bool), hstate, key)

        def env_step(runner, _):
            train_state, env_state, last_obs, last_done, hstate, key = runner
            key, k_act, k_step = jax.random.split(key, 3)
            obs_batch = batchify(last_obs, env.agents, num_actors)
            hstate, pi, value = network.apply(train_state.params, hstate, (obs_batch[None], last_done[None]))
            action = pi.sample(seed=k_act)
            log_prob = pi.log_prob(action)
            env_act = {a: v.squeeze(-1) for a, v in unbatchify(action, env.agents, num_envs, env.num_agents).items()}
            obsv, env_state, reward, done, info = jax.vmap(env.step)(
                jax.random.split(k_step, num_envs), env_state, env_act)
            # as JaxMARL does: one value per actor, which needs every info leaf to be (N,) per env
            info = jax.tree.map(lambda x: x.reshape((num_actors,)), info)
            done_batch = batchify(done, env.agents, num_actors).squeeze(-1)
            transition = IPPOTransition(
                global_done=jnp.tile(done["__all__"], env.num_agents), reset=last_done, action=action[0],
                value=value[0], reward=batchify(reward, env.agents, num_actors).squeeze(-1), log_prob=log_prob[0],
                obs=obs_batch, info=info)
            return (train_state, env_state, obsv, done_batch, hstate, key), transition

        def gae(traj, last_value):
            def step(carry, t):
                advantage, next_value = carry
                delta = t.reward + config["GAMMA"] * next_value * (1 - t.global_done) - t.value
                advantage = delta + config["GAMMA"] * config["GAE_LAMBDA"] * (1 - t.global_done) * advantage
                return (advantage, t.value), advantage

            _, advantages = jax.lax.scan(step, (jnp.zeros_like(last_value), last_value), traj, reverse=True)
            return advantages, advantages + traj.value

        def minibatch_step(train_state, batch):
            hstate0, traj, advantages, targets = batch

            def loss_fn(params):
                _, pi, value = network.apply(params, hstate0, (traj.obs, traj.reset))
                log_prob = pi.log_prob(traj.action)
                value_clipped = traj.value + (value - traj.value).clip(-config["CLIP_EPS"], config["CLIP_EPS"])
                value_loss = 0.5 * jnp.maximum(jnp.square(value - targets), jnp.square(value_clipped - targets)).mean()
                ratio = jnp.exp(log_prob - traj.log_prob)
                adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                clipped = jnp.clip(ratio, 1.0 - config["CLIP_EPS"], 1.0 + config["CLIP_EPS"])
                actor_loss = -jnp.minimum(ratio * adv, clipped * adv).mean()
                return actor_loss + config["VF_COEF"] * value_loss - config["ENT_COEF"] * pi.entropy().mean()

            return train_state.apply_gradients(grads=jax.grad(loss_fn)(train_state.params)), None

        def update_epoch(state, _):
            train_state, hstate0, traj, advantages, targets, key = state
            key, k_perm = jax.random.split(key)
            permutation = jax.random.permutation(k_perm, num_actors)
            # whole actor sequences per minibatch: shuffle and split the actor axis (1; 0 for hstate0)
            time_major = jax.tree.map(lambda x: jnp.take(x, permutation, axis=1), (traj, advantages, targets))
            split = jax.tree.map(
                lambda x: jnp.swapaxes(x.reshape((x.shape[0], config["NUM_MINIBATCHES"], minibatch_actors)
                                                 + x.shape[2:]), 0, 1), time_major)
            h = hstate0[permutation].reshape((config["NUM_MINIBATCHES"], minibatch_actors, -1))
            train_state, _ = jax.lax.scan(minibatch_step, train_state, (h, *split))
            return (train_state, hstate0, traj, advantages, targets, key), None

        def update_step(runner, _):
            hstate0 = runner[4]
            runner, traj = jax.lax.scan(env_step, runner, None, num_steps)
            train_state, env_state, last_obs, last_done, hstate, key = runner
            _, _, last_value = network.apply(
                train_state.params, hstate, (batchify(last_obs, env.agents, num_actors)[None], last_done[None]))
            advantages, targets = gae(traj, last_value[0])
            state = (train_state, hstate0, traj, advantages, targets, key)
            state, _ = jax.lax.scan(update_epoch, state, None, config["UPDATE_EPOCHS"])
            train_state, key = state[0], state[-1]
            info = jax.tree.map(lambda x: x.reshape((num_steps, num_envs, env.num_agents)), traj.info)
            ended, returns = info["returned_episode"], info["returned_episode_returns"]
            metrics = {
                "reward": traj.reward.mean(),  # every actor's reward is its env's team reward
                "episode_return": jnp.sum(returns * ended) / jnp.maximum(ended.sum(), 1),
                "agents_agree": jnp.all(returns == returns[..., :1]),
            }
            return (train_state, env_state, last_obs, last_done, hstate, key), metrics

        runner, metrics = jax.lax.scan(update_step, runner, None, config["NUM_UPDATES"])
        return runner[0], metrics

    return train, network


def make_team_reward_eval(marl, network, num_envs: int, steps: int):
    """``evaluate(params, key, uniform) -> mean team reward per step`` over ``num_envs`` worlds.

    The actors sample from the network's policy, or, with ``uniform``, from a Categorical
    with equal logits, i.e. uniformly over the n discrete actions; one compiled program
    serves both, and the same ``key`` gives both the same env randomness.
    """
    num_actors = marl.num_agents * num_envs

    def evaluate(params, key, uniform):
        k_reset, k_run = jax.random.split(key)
        obsv, state = jax.vmap(marl.reset)(jax.random.split(k_reset, num_envs))

        def body(carry, k):
            state, obsv, done, hstate = carry
            k_act, k_step = jax.random.split(k)
            obs_batch = batchify(obsv, marl.agents, num_actors)
            hstate, pi, _ = network.apply(params, hstate, (obs_batch[None], done[None]))
            logits = jnp.where(uniform, jnp.zeros_like(pi.logits), pi.logits)
            action = distrax.Categorical(logits=logits).sample(seed=k_act)
            env_act = {a: v.squeeze(-1) for a, v in unbatchify(action, marl.agents, num_envs, marl.num_agents).items()}
            obsv, state, reward, dones, _ = jax.vmap(marl.step)(jax.random.split(k_step, num_envs), state, env_act)
            return (state, obsv, batchify(dones, marl.agents, num_actors).squeeze(-1), hstate), reward[marl.agents[0]]

        carry = (state, obsv, jnp.zeros((num_actors,), bool), jnp.zeros((num_actors, network.hidden)))
        _, rewards = jax.lax.scan(body, carry, jax.random.split(k_run, steps))
        return rewards.mean()

    return jax.jit(evaluate)


def test_ippo_rnn_in_jaxmarls_idiom_learns_on_the_discrete_adapter():
    env = semjax.SemanticMEC(num_ues=2, num_channels=2, queue_len=Q)
    marl = JaxMARLMEC(env, action_space="discrete")
    train, network = make_ippo_train(IPPO, marl)
    train_state, metrics = jax.jit(train)(jax.random.key(0))
    metrics = jax.tree.map(np.asarray, metrics)
    # JaxMARL's LogWrapper on the adapter: every agent logs the same (team) return, and as an
    # update's 2Q steps are two whole episodes, the mean return is Q x the reward per step
    assert metrics["agents_agree"].all()
    np.testing.assert_allclose(metrics["episode_return"], Q * metrics["reward"], rtol=1e-4, atol=1e-4)

    evaluate = make_team_reward_eval(marl, network, num_envs=2048, steps=2 * Q)
    key = jax.random.key(1)
    initial = network.init(jax.random.key(2), jnp.zeros((1, IPPO["HIDDEN"])),
                           (jnp.zeros((1, 1, env.obs_dim)), jnp.zeros((1, 1), bool)))
    trained = float(evaluate(train_state.params, key, False))
    random = float(evaluate(train_state.params, key, True))
    untrained = float(evaluate(initial, key, False))
    # The margin: a learner that does not learn keeps its initial policy, whose logits start
    # near zero, so from the same key it samples almost the uniform policy's actions and
    # scores the random level (checked below). The trained policy must clear that level by
    # 0.4 of a team reward per step; a per-step reward is at most about 1.2 here, and the
    # random policy's mean is pulled down by rare, very costly offloads, never up.
    margin = 0.4
    assert trained > random + margin, (trained, random)
    assert untrained < random + margin, (untrained, random)
