"""semjax.vector: sharded batches of envs give the same numbers as an unsharded vmap."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import semjax
from semjax import vector


@pytest.fixture(scope="module")
def env():
    return semjax.SemanticMEC()


def test_random_actions_cover_the_action_space_uniformly(env):
    params = env.default_params
    a = vector.random_actions(env, jax.random.key(0), 20_000, params)
    # the draw is jax.random.uniform's, word (b, part, n) of one key
    np.testing.assert_array_equal(vector.action_uniforms(env, jax.random.key(0), 20_000).reshape(-1),
                                  jax.random.uniform(jax.random.key(0), (20_000 * 4 * 4,)))
    assert a.choice.shape == (20_000, env.num_ues) and a.choice.dtype == jnp.int32
    counts = np.bincount(np.asarray(a.choice).ravel(), minlength=env.num_channels + 1) / a.choice.size
    np.testing.assert_allclose(counts, 1 / (env.num_channels + 1), atol=0.005)
    for part, lo, hi in (("power", params.power_min, params.power_max), ("freq", params.freq_min, params.freq_max),
                         ("mu", params.mu_min, 1.0)):
        x = np.asarray(getattr(a, part), np.float64)
        assert x.min() >= lo and x.max() <= hi, part
        np.testing.assert_allclose(x.mean(), (lo + hi) / 2, rtol=0.01)
    # the four parts of one UE are independent words of the draw
    assert abs(np.corrcoef(np.asarray(a.power).ravel(), np.asarray(a.mu).ravel())[0, 1]) < 0.02


def test_rollout_equals_a_plain_vmap_scan(env):
    """The sharded rollout on a 1-device mesh computes what a hand-written scan computes."""
    params = env.default_params
    b, s = 16, 30
    mesh = vector.env_mesh(jax.devices()[:1])
    key = jax.random.key(7)
    _, state = vector.reset(env, mesh, key, b, params)
    _, expected_state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(key, b), params)
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(expected_state)):
        np.testing.assert_array_equal(x, y)

    def manual(key, state):
        # the rollout's key scheme: the first action draw from its own key, then each step
        # splits (next key, next action draw, the step's env keys)
        key, k_first = jax.random.split(key)
        u = vector.action_uniforms(env, k_first, b)

        def body(carry, _):
            key, u, state, totals = carry
            key, k_next, k_step = jax.random.split(key, 3)
            action = vector.actions_from_uniforms(env, u, params)
            obs, state, reward, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, b), state, action, params)
            return (key, vector.action_uniforms(env, k_next, b), state,
                    totals + jnp.stack([jnp.sum(reward), jnp.sum(obs)])), None

        (_, _, state, totals), _ = jax.lax.scan(body, (key, u, state, jnp.zeros(2)), None, length=s)
        return state, totals

    want_state, want_totals = jax.jit(manual)(key, expected_state)
    got_state, got_totals = vector.make_random_rollout(env, mesh, b, s)(key, state, params)
    for x, y in zip(jax.tree.leaves(got_state), jax.tree.leaves(want_state)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(got_totals, want_totals, rtol=1e-6)


def test_batch_must_divide_over_the_devices(env):
    mesh = vector.env_mesh(jax.devices()[:1])
    with pytest.raises(ValueError, match="multiple"):
        vector.make_random_rollout(env, mesh, 0, 5)
    with pytest.raises(ValueError, match="devices must not be empty"):
        vector.env_mesh([])


def test_cpu_programs_compile_without_ynnpack_fusions(env):
    mesh = vector.env_mesh()
    assert vector.compiler_options(mesh) == {"xla_cpu_experimental_ynn_fusion_type": ""}
    params = env.default_params
    _, state = vector.reset(env, mesh, jax.random.key(0), 8, params)
    hlo = vector.make_random_rollout(env, mesh, 8, 3).lower(jax.random.key(1), state, params).compile().as_text()
    assert "ynn_fusion" not in hlo


_TWO_DEVICES = textwrap.dedent("""
    import json, sys
    from semjax import vector
    vector.prepare_host(2)
    import jax, numpy as np
    import semjax
    env = semjax.SemanticMEC()
    params = env.default_params
    out = {"devices": len(jax.devices())}
    for d in (1, 2):
        mesh = vector.env_mesh(jax.devices()[:d])
        _, state = vector.reset(env, mesh, jax.random.key(3), 64, params)
        state, totals = vector.make_random_rollout(env, mesh, 64, 45)(jax.random.key(4), state, params)
        out[str(d)] = {"state": [np.asarray(x).tolist() for x in jax.tree.leaves(state)],
                       "totals": np.asarray(totals).tolist(),
                       "shards": len(state.distance.addressable_shards)}
    print(json.dumps(out))
""")


def test_two_devices_give_the_one_device_trajectory():
    """In a process split into 2 CPU devices, the rollout sharded over both ends in exactly the
    state of the rollout on one: the random numbers follow the global env index."""
    env_vars = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NPROC")}
    proc = subprocess.run([sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, env=env_vars,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2 and out["1"]["shards"] == 1 and out["2"]["shards"] == 2
    for x, y in zip(out["1"]["state"], out["2"]["state"]):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_allclose(out["1"]["totals"], out["2"]["totals"], rtol=1e-6)
