"""No hidden host round trips inside a program: a MAPPO update, an evaluation and the env
rollout run under ``jax.transfer_guard("disallow")``.

The guard rejects every implicit transfer between host and device around a call (a NumPy
array or Python scalar shipped on every call); explicit ones (``device_put``,
``device_get``) stay allowed. Inputs are placed on the device and programs compiled before
the guard, so what the guard sees is the program's own traffic. The guard does not see a
host callback *inside* a program (``jax.debug.callback``, ``pure_callback``: measured), so
each compiled program is also searched for callback custom calls and for infeed, outfeed,
send and recv, the other ways a program reaches the host.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import semjax
from semjax import vector
from semjax.agents import heuristics
from semjax.agents.mappo import MAPPOConfig, init_runner, make_policy, make_train
from semjax.evaluation import rollout, summarize

CONFIG = MAPPOConfig(hidden=16, num_envs=4, rollout_len=5, num_updates=2, update_epochs=2, num_minibatches=2)


def host_round_trips(compiled) -> list[str]:
    """The ops of a compiled program that reach the host: callback custom calls, infeed,
    outfeed, send, recv."""
    text = compiled.as_text()
    found = re.findall(r'custom_call_target="([^"]*callback[^"]*)"', text)
    found += re.findall(r"= \S+ (infeed|outfeed|send|recv)\(", text)
    return found


def _compiled(fn, *args):
    compiled = jax.jit(fn).lower(*args).compile()
    assert host_round_trips(compiled) == []
    return compiled


def test_the_checks_can_fail():
    """Controls: a callback inside a program is found; a NumPy argument trips the guard."""
    x = jax.device_put(jnp.ones(3))

    def with_callback(x):
        jax.debug.callback(lambda v: None, x)
        return x + 1

    assert host_round_trips(jax.jit(with_callback).lower(x).compile()) != []
    plain = jax.jit(lambda x: x + 1).lower(x).compile()
    with jax.transfer_guard("disallow"), pytest.raises(Exception, match="[Dd]isallowed"):
        plain(np.ones(3, np.float32))


def test_mappo_update_runs_under_the_transfer_guard():
    env = semjax.SemanticMEC()
    params = env.default_params
    train = make_train(CONFIG, env, params)
    key = jax.device_put(jax.random.key(0))
    runner = jax.device_put(init_runner(CONFIG, env, params, key))
    update = _compiled(lambda k, r: train(k, r, 2), key, runner)
    with jax.transfer_guard("disallow"):
        new_runner, metrics = update(key, runner)
        jax.block_until_ready((new_runner, metrics))
    metrics = jax.device_get(metrics)
    assert int(jax.device_get(new_runner.update)) == 2
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(metrics))


def test_evaluation_runs_under_the_transfer_guard():
    env = semjax.SemanticMEC()
    params = env.default_params
    runner = init_runner(CONFIG, env, params, jax.random.key(1))
    policy, carry = make_policy(CONFIG, env, runner.actor.params)
    key = jax.device_put(jax.random.key(2))

    def evaluate_mappo(key):
        return summarize(env, params, rollout(env, params, policy, key, 3, carry))

    def evaluate_heuristic(key):
        return summarize(env, params, rollout(env, params, heuristics.greedy(env), key, 3))

    for fn in (evaluate_mappo, evaluate_heuristic):
        program = _compiled(fn, key)
        with jax.transfer_guard("disallow"):
            overall, _ = program(key)
            jax.block_until_ready(overall)
        assert np.isfinite(float(jax.device_get(overall["qoe"])))


def test_env_rollout_runs_under_the_transfer_guard():
    env = semjax.SemanticMEC()
    params = jax.device_put(env.default_params)
    mesh = vector.env_mesh(jax.devices()[:1])
    key = jax.device_put(jax.random.key(3))
    _, state = vector.reset(env, mesh, key, 8, params)
    program = vector.make_random_rollout(env, mesh, 8, 25).lower(key, state, params).compile()
    assert host_round_trips(program) == []
    with jax.transfer_guard("disallow"):
        state, totals = program(key, state, params)
        jax.block_until_ready(totals)
    assert np.all(np.isfinite(jax.device_get(totals)))
    assert int(jax.device_get(state.t).max()) < env.queue_len
