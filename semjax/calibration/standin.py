"""The stand-in for the policies behind the paper's numbers: the per-step oracle, hard and smoothed.

The paper's numbers come from trained policies; calibration stands them in by the per-step
oracle under the matching setting (``semjax.agents.oracle``): the reward-optimal action of
every step, with the setting's QoE weights, and with mu fixed at 1 for the semantic-unaware
numbers. What calibration needs from it is how its *outcomes* (latency, energy, accuracy, QoE)
move with the constants, and there the envelope theorem is not enough:

* The oracle's *value* (the best team reward) is differentiable in the constants, and by the
  envelope theorem its gradient is the gradient of the reward with the argmax held fixed
  (``hard_value_and_envelope_grad``; tests check it against finite differences of the fully
  re-optimised value).
* Its *outcomes* are not the objective. Holding the action fixed (stop_gradient) gives their
  gradient at a fixed policy only: it misses how the argmax moves, and the discrete part of
  the argmax (local / raw / extract, which sub-channel) is piecewise constant, so the exact
  gradient of a hard outcome is zero almost everywhere and jumps in between.

So the fit differentiates a **smoothed oracle** instead (``soft_oracle_summary``): the Gibbs
policy pi(a) ~ exp(team reward(a) / T) over the oracle's own search space (every
collision-free assignment, and a grid of power x clock x mu per UE). The team reward separates
over UEs once the assignment is fixed, so this is exact nested softmaxes: per UE and mode a
softmax over its grid, whose log-partition tau * logmeanexp is that mode's soft value, then a
softmax over assignments of the summed soft values. Its outcomes are expectations under pi,
smooth in the constants, and their autodiff gradient is exact, policy response included.
The soft value's gradient is E_pi[d reward / d constant], the envelope theorem's smoothed
form; as T -> 0 pi concentrates on the grid's argmax and the soft outcomes become the hard
oracle's (up to its continuous refinement). The fit anneals T downwards and reports every
target under both the smoothed and the exact (hard) oracle.

``logmeanexp`` (not ``logsumexp``) gives every mode the same prior mass whatever its grid
size, so a three-dimensional extraction grid is not favoured over a one-dimensional one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from semjax import physics
from semjax.agents.oracle import _MU_BELOW_ONE, EXTRACT, LOCAL, RAW, OracleConfig, assignment_tables, oracle
from semjax.env import SemanticMEC
from semjax.params import EnvParams

#: The per-UE outcomes the stand-ins average (``mu_offloaded`` is mu for an offloading UE, else 0).
OUTCOMES = ("qoe", "reward", "latency", "energy", "accuracy", "offloaded", "mu_offloaded")


@dataclass(frozen=True)
class SoftOracleConfig:
    """Grids of the smoothed oracle (evenly spaced over each range, ends included) and memory.

    Coarser than the hard oracle's: the Gibbs policy averages between grid points, and its
    cost (forward and reverse mode) grows with the grid. ``batch_size`` steps are vectorised
    at a time; the rest loop, each step rematerialised in the backward pass.
    """

    local_freq_points: int = 9
    raw_power_points: int = 9
    power_points: int = 4
    freq_points: int = 3
    mu_points: int = 12
    batch_size: int = 8

    def __post_init__(self):
        for name in ("local_freq_points", "raw_power_points", "power_points", "freq_points", "mu_points", "batch_size"):
            value = getattr(self, name)
            minimum = 1 if name == "batch_size" else 2
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"soft_oracle.{name} must be an integer >= {minimum} (got {value!r})")


def _axis(points: int) -> jnp.ndarray:
    return jnp.linspace(0.0, 1.0, points, dtype=jnp.float32)


def _soft(reward: jax.Array, fields: dict[str, jax.Array], temperature) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Softmax over the last axis: (T logmeanexp(reward / T), E_pi[field] for every field)."""
    logits = reward / temperature
    weights = jax.nn.softmax(logits, axis=-1)
    value = temperature * (jax.nn.logsumexp(logits, axis=-1) - math.log(reward.shape[-1]))
    return value, {k: jnp.sum(weights * jnp.broadcast_to(f, reward.shape), axis=-1) for k, f in fields.items()}


def _outcomes(out: dict, offloaded: float, mu) -> dict[str, jax.Array]:
    fields = {k: out[k] for k in ("qoe", "reward", "latency", "energy", "accuracy")}
    fields["offloaded"] = jnp.full_like(out["qoe"], offloaded)
    fields["mu_offloaded"] = jnp.broadcast_to(jnp.asarray(mu, jnp.float32) * offloaded, out["qoe"].shape)
    return fields


def soft_oracle_step(env: SemanticMEC, config: SoftOracleConfig = SoftOracleConfig(), semantic: bool = True):
    """The smoothed oracle of one step: ``(params, state, temperature) -> (team soft value, {outcome: (N,)})``.

    Each outcome is its expectation per UE under the Gibbs policy (module doc).
    """
    n_ues, n_ch = env.num_ues, env.num_channels
    tables = assignment_tables(n_ues, n_ch, semantic)
    others, patterns = jnp.asarray(tables.others), jnp.asarray(tables.patterns)
    mode_a, pattern_a = jnp.asarray(tables.mode), jnp.asarray(tables.pattern)
    channel_a = jnp.maximum(jnp.asarray(tables.choice) - 1, 0)
    ue = jnp.arange(n_ues)[None, :]
    local_x = _axis(config.local_freq_points)
    raw_x = _axis(config.raw_power_points)
    mesh = jnp.meshgrid(_axis(config.power_points), _axis(config.freq_points), _axis(config.mu_points), indexing="ij")
    ext_x = [m.reshape(-1) for m in mesh]

    def step(params: EnvParams, state, temperature):
        f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
        lerp = lambda lo, hi, x: f32(lo) + (f32(hi) - f32(lo)) * x  # noqa: E731
        task = jnp.asarray(state.task_type, jnp.int32)
        gain = physics.channel_gain(params, state.distance, state.fading)  # (K, N)
        budget = f32(state.energy_budget)
        p_lo = f32(params.power_min)

        # local execution: (N, G_local) over the clock
        out = physics.ue_outcome(params, task[:, None], gain[0][:, None], False, p_lo,
                                 lerp(params.freq_min, params.freq_max, local_x)[None, :], 1.0, 0.0, budget[:, None])
        v_local, m_local = _soft(out["reward"], _outcomes(out, 0.0, 0.0), temperature)

        # server time of every (UE, own mode, pattern of the others), as in the hard oracle
        capability = physics.server_capability_gflops(params)
        work = jnp.stack([jnp.zeros((n_ues,), jnp.float32), physics.server_gflops(params, task, 1.0),
                          physics.server_gflops(params, task, 0.5)])
        others_work = jnp.sum(work[patterns[None, :, :], others[:, None, :]], axis=-1)  # (N, O)
        t_raw = (work[RAW][:, None] + others_work) / capability
        # (N, O, K, G): the pattern enters only through t_server, so everything upstream of it
        # (rate, payload, extraction time, accuracy) is computed once per (N, K, G).
        task4, budget4 = task[:, None, None, None], budget[:, None, None, None]
        gain4 = gain.T[:, None, :, None]
        out = physics.ue_outcome(params, task4, gain4, True,
                                 lerp(params.power_min, params.power_max, raw_x), f32(params.freq_min), 1.0,
                                 t_raw[:, :, None, None], budget4)
        v_raw, m_raw = _soft(out["reward"], _outcomes(out, 1.0, 1.0), temperature)  # (N, O, K)

        def table(local, raw, ext):
            t = jnp.where(mode_a == RAW, raw[ue, pattern_a, channel_a], ext[ue, pattern_a, channel_a] if ext is not None else 0.0)
            return jnp.where(mode_a == LOCAL, local[None, :], t)  # (A, N)

        if semantic:
            t_ext = (work[EXTRACT][:, None] + others_work) / capability
            mu_lo = f32(params.mu_min)
            mu = mu_lo + (jnp.maximum(f32(_MU_BELOW_ONE), mu_lo) - mu_lo) * ext_x[2]
            out = physics.ue_outcome(params, task4, gain4, True,
                                     lerp(params.power_min, params.power_max, ext_x[0]),
                                     lerp(params.freq_min, params.freq_max, ext_x[1]), mu,
                                     t_ext[:, :, None, None], budget4)
            v_ext, m_ext = _soft(out["reward"], _outcomes(out, 1.0, mu), temperature)
            v_ext = jnp.where(mu_lo < 1.0, v_ext, -jnp.inf)  # mu_min == 1 leaves nothing to extract with
        else:
            v_ext, m_ext = None, {k: None for k in OUTCOMES}

        scores = jnp.sum(table(v_local, v_raw, v_ext), axis=1)  # (A,)
        pi = jax.nn.softmax(scores / temperature)
        value = temperature * (jax.nn.logsumexp(scores / temperature) - math.log(scores.shape[0]))
        expected = {k: pi @ table(m_local[k], m_raw[k], m_ext[k]) for k in OUTCOMES}
        return value, expected

    return step


def _summary(per_ue: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Means over steps and UEs, in the units of ``semjax.evaluation`` (ms, J, fraction)."""
    offload = jnp.mean(per_ue["offloaded"])
    return {
        "qoe": jnp.mean(per_ue["qoe"]),
        "reward": jnp.mean(jnp.sum(per_ue["reward"], axis=-1)),  # team reward per step
        "latency_ms": jnp.mean(per_ue["latency"]) * 1e3,
        "energy_j": jnp.mean(per_ue["energy"]),
        "accuracy": jnp.mean(per_ue["accuracy"]),
        "offload_rate": offload,
        "mean_mu": jnp.sum(per_ue["mu_offloaded"]) / jnp.maximum(jnp.sum(per_ue["offloaded"]), 1e-12),
    }


def soft_oracle_summary(env: SemanticMEC, config: SoftOracleConfig = SoftOracleConfig(), semantic: bool = True):
    """``(params, states, temperature) -> {metric: scalar}`` of the smoothed oracle over a batch of steps.

    ``states`` is a batch of env states (leading axis B). Steps run ``config.batch_size`` at a
    time under ``lax.map``, each rematerialised in the backward pass, so memory stays that of
    one chunk whatever B is.
    """
    step = soft_oracle_step(env, config, semantic)

    def summary(params: EnvParams, states, temperature):
        one = jax.checkpoint(lambda s: step(params, s, temperature)[1])
        per_ue = jax.lax.map(one, states, batch_size=min(config.batch_size, _batch(states)))
        return _summary(per_ue)

    return summary


def _batch(states) -> int:
    return int(np.shape(states.distance)[0])


def hard_oracle_summary(env: SemanticMEC, config: OracleConfig = OracleConfig(), semantic: bool = True):
    """``(params, states) -> {metric: scalar}`` of the exact per-step oracle over a batch of steps.

    The outcomes are the env's own (``physics.step_metrics``) of the oracle's action.
    """
    policy = oracle(env, dataclasses.replace(config, semantic=semantic))

    def summary(params: EnvParams, states):
        def one(state):
            action = policy(None, state, params)
            m = physics.step_metrics(params, state.task_type, state.distance, state.fading, state.energy_budget, action)
            mu = physics.clip_action(params, action, env.num_channels).mu
            off = m.offloaded.astype(jnp.float32)
            return {"qoe": m.qoe, "reward": m.reward, "latency": m.latency, "energy": m.energy,
                    "accuracy": m.accuracy, "offloaded": off, "mu_offloaded": off * mu}

        return _summary(jax.lax.map(one, states, batch_size=min(16, _batch(states))))

    return summary


def hard_value_and_envelope_grad(env: SemanticMEC, config: OracleConfig = OracleConfig(), semantic: bool = True):
    """``(apply, z, state) -> (value, d value / d z)`` of the exact oracle on one step.

    ``apply(z) -> EnvParams`` builds the world from the fitted coordinates. The value is the
    oracle's team reward; the gradient is the envelope theorem's: the reward's gradient with
    the oracle's action held fixed (``stop_gradient``), which equals the derivative of the
    fully re-optimised value wherever the argmax is locally unique.
    """
    policy = oracle(env, dataclasses.replace(config, semantic=semantic))

    def value(apply, z, state):
        def team_reward(z):
            params = apply(z)
            action = jax.lax.stop_gradient(policy(None, state, params))
            m = physics.step_metrics(params, state.task_type, state.distance, state.fading, state.energy_budget, action)
            return jnp.sum(m.reward)

        return jax.value_and_grad(team_reward)(z)

    return value
