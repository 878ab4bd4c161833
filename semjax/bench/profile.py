"""Where the time of one env step goes: timing ablations of the benchmark's rollout.

Each part below is the benchmark's program (a ``lax.scan`` of S steps over B envs) with
everything but that part removed, every input it reads made to change every step (a multiply
or an add per element, so XLA cannot hoist the work out of the loop; ``loop`` is that cost
alone) and its outputs reduced (so XLA cannot drop it). The parts are timed
in alternation, repeat by repeat, and reported in nanoseconds per env step beside XLA's own
count of the part's work (``cost_analysis``: flops, transcendentals, bytes) per env step.

The parts do not add up to the whole: in the whole step XLA fuses across their borders and
shares loads, and each part alone pays the loop's fixed cost (``loop``). They say which part
to make cheaper, not an exact split.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

#: Part name -> what it times; :func:`profile_step` reports them in this order.
PARTS = {
    "rollout": "the benchmark's step: random actions, per-env keys, vmap(env.step), reductions",
    "rollout_ynnpack": "the same rollout compiled with XLA's default CPU options (YNNPACK fusions on)",
    "env_step": "vmap(env.step) with fixed actions (no action draw)",
    "actions": "the random actions: 4 uniforms per UE drawn for the next step, transformed",
    "step_keys": "the per-env step keys: jax.random.split(key, B)",
    "draw": "the env's uniforms of a step: 2N + KN words of the unrolled Threefry, written once (next fading, a fresh episode)",
    "task_types": "the task types of the next step: N uniforms under fold_in(episode key, t)",
    "physics": "physics.step_metrics (SPEC section 3) of the current state",
    "observation": "env.observe of a state",
    "loop": "the scan, the input nudges of the parts and the reduction alone",
}


def _programs(env, params, b: int, s: int):
    import jax
    import jax.numpy as jnp

    from semjax import vector

    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    action0 = vector.random_actions(env, jax.random.key(3), b, params)

    def nudge(x, c):  # an input that changes every step, at the cost of one multiply
        return x * (1.0 + c * 1e-7)

    def nudge_state(state, c):  # every field the physics and the observation read
        shift = c.astype(jnp.int32)
        return state.replace(
            fading=nudge(state.fading, c), distance=nudge(state.distance, c),
            energy_budget=nudge(state.energy_budget, c),
            task_type=(state.task_type + shift) % env.num_task_types, t=(state.t + shift) % env.queue_len,
        )

    def rollout(key, state, c, u):  # as vector.make_random_rollout: action uniforms in the carry
        key, k_next, k_step = jax.random.split(key, 3)
        action = vector.actions_from_uniforms(env, u, params)
        obs, state, reward, _, _ = step(jax.random.split(k_step, b), state, action, params)
        return key, state, jnp.sum(reward) + jnp.sum(obs), vector.action_uniforms(env, k_next, b)

    def env_step(key, state, c):
        key, k_step = jax.random.split(key)
        action = action0.replace(power=nudge(action0.power, c))
        obs, state, reward, _, _ = step(jax.random.split(k_step, b), state, action, params)
        return key, state, jnp.sum(reward) + jnp.sum(obs)

    def actions(key, state, c, u):
        key, k_next = jax.random.split(key)
        a = vector.actions_from_uniforms(env, u, params)
        total = jnp.sum(a.power) + jnp.sum(a.freq) + jnp.sum(a.mu) + jnp.sum(a.choice)
        return key, state, total, vector.action_uniforms(env, k_next, b)

    def step_keys(key, state, c):
        key, k_step = jax.random.split(key)
        keys = jax.random.key_data(jax.random.split(k_step, b))
        return key, state, jnp.sum(keys).astype(jnp.float32)

    def draw(key, state, c):
        key, k_step = jax.random.split(key)
        u = jax.vmap(env._draw)(jax.random.split(k_step, b))
        return key, state, jnp.sum(u)

    def task_types(key, state, c):
        types = jax.vmap(lambda st: env._tasks_at(st.episode_key, st.t, params))(state)
        state = state.replace(t=(state.t + 1) % env.queue_len)
        return key, state, jnp.sum(types).astype(jnp.float32)

    def physics(key, state, c):
        from semjax import physics as phys

        a = action0.replace(power=nudge(action0.power, c))
        st = nudge_state(state, c)
        m = jax.vmap(lambda st, a: phys.step_metrics(params, st.task_type, st.distance, st.fading,
                                                     st.energy_budget, a))(st, a)
        return key, state, jnp.sum(m.reward)

    def observation(key, state, c):
        obs = jax.vmap(lambda st: env.observe(st, params))(nudge_state(state, c))
        return key, state, jnp.sum(obs)

    def loop(key, state, c):
        st = nudge_state(state, c)
        return key, state, jnp.sum(st.fading) + jnp.sum(st.distance) + jnp.sum(st.energy_budget) + jnp.sum(
            st.task_type + st.t[:, None]).astype(jnp.float32)

    parts = dict(rollout=rollout, env_step=env_step, actions=actions, step_keys=step_keys, draw=draw,
                 task_types=task_types, physics=physics, observation=observation, loop=loop)

    carried = {"rollout", "actions"}  # parts whose action uniforms travel in the carry

    def scanned(name, part):
        def run(key, state):
            def body(carry, _):
                key, state, total, c, u = carry
                if name in carried:
                    key, state, x, u = part(key, state, c, u)
                else:
                    key, state, x = part(key, state, c)
                return (key, state, total + x, c + 1.0, u), None

            key, k_first = jax.random.split(key)
            u = vector.action_uniforms(env, k_first, b) if name in carried else jnp.zeros(())
            init = (key, state, jnp.float32(0), jnp.float32(0), u)
            (_, state, total, _, _), _ = jax.lax.scan(body, init, None, length=s)
            return state, total

        return jax.jit(run)

    return {name: scanned(name, fn) for name, fn in parts.items()}


def profile_step(num_envs: int = 16384, num_ues: int = 4, steps: int = 50, repeats: int = 7,
                 seed: int = 0) -> dict[str, Any]:
    """Times every part of :data:`PARTS` at B = ``num_envs``, N = K = ``num_ues`` on one device."""
    import jax

    from semjax import SemanticMEC, vector
    from semjax.bench.env import loadavg

    env = SemanticMEC(num_ues=num_ues, num_channels=num_ues)
    params = env.default_params
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(seed), num_envs), params)
    # Every part under the options semjax.vector compiles env programs with; one arm without.
    options = vector.compiler_options(vector.env_mesh(jax.devices()[:1]))
    programs = _programs(env, params, num_envs, steps)
    compiled, cost = {}, {}
    for name in PARTS:
        fn = programs["rollout" if name == "rollout_ynnpack" else name]
        c = fn.lower(jax.random.key(seed), state).compile(
            compiler_options=None if name == "rollout_ynnpack" else options)
        jax.block_until_ready(c(jax.random.key(seed), state))
        compiled[name] = c
        analysis = c.cost_analysis() or {}
        if isinstance(analysis, list):  # older JAX: one dict per computation
            analysis = analysis[0] if analysis else {}
        # The analysis counts the scan's body once: per env step = per body / B.
        cost[name] = {k: float(analysis.get(src, 0.0)) / num_envs
                      for k, src in (("flops", "flops"), ("transcendentals", "transcendentals"),
                                     ("bytes", "bytes accessed"))}
    load_before = loadavg()
    times: dict[str, list[float]] = {name: [] for name in compiled}
    for r in range(repeats):
        for name, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(jax.random.key(r), state))
            times[name].append(time.perf_counter() - t0)
    full = statistics.median(times["rollout"])
    parts = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        counts = {f"{k}_per_env_step": v for k, v in cost[name].items()}
        parts[name] = dict(description=PARTS[name], ns_per_env_step=1e9 * med / (steps * num_envs),
                           share_of_rollout=med / full, times_s=ts, **counts)
    return dict(num_envs=num_envs, num_ues=num_ues, num_channels=num_ues, steps=steps, repeats=repeats,
                devices=1, load_average_before=load_before, load_average_after=loadavg(), parts=parts)
