"""A calibration problem: targets, the constants being fitted, and the stand-in's predictions.

``CalibrationProblem`` binds a targets file to a ``FittedSet`` and an env, and turns fit
coordinates ``z`` into every setting's metrics under the smoothed oracle (differentiable) or
the exact oracle, and those into each target's model value and scaled residual.

Settings that differ only in EnvParams values (QoE weights, noise, ...) share one compiled
program: their overrides are stacked and ``vmap``-ped. Semantic-aware and semantic-unaware
settings search different spaces, so each kind is its own group. Every setting sees the same
steps: ``env.reset`` under fixed keys (common random numbers), redrawn from the fitted world,
so distances and budgets follow fitted world constants smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from semjax.agents.oracle import OracleConfig
from semjax.calibration.constants import FittedSet
from semjax.calibration.standin import SoftOracleConfig, hard_oracle_summary, soft_oracle_summary
from semjax.calibration.targets import Setting, TargetsFile
from semjax.env import SemanticMEC
from semjax.params import EnvParams, batch_axes


@dataclass(frozen=True)
class _Group:
    semantic: bool
    names: tuple[str, ...]
    overrides: dict[str, np.ndarray]  # field -> (S,) stacked over the group's settings


def _groups(settings: dict[str, Setting], base: EnvParams, fitted_world: tuple[str, ...]) -> list[_Group]:
    groups = []
    for semantic in (True, False):
        members = [s for s in settings.values() if s.semantic == semantic]
        if not members:
            continue
        fields = sorted({k for s in members for k in s.overrides()})
        clash = sorted(set(fields) & set(fitted_world))
        if clash:
            raise ValueError(f"settings override {clash}, which the calibration fits: fit it or override it, not both")
        stacked = {
            f: np.asarray([s.overrides().get(f, np.asarray(getattr(base, f), np.float64)) for s in members], np.float32)
            for f in fields
        }
        groups.append(_Group(semantic, tuple(s.name for s in members), stacked))
    return groups


class CalibrationProblem:
    """Targets + fitted constants + stand-ins, on a fixed batch of steps per call."""

    def __init__(self, targets: TargetsFile, fitted: FittedSet, env: SemanticMEC,
                 soft: SoftOracleConfig = SoftOracleConfig(), hard: OracleConfig = OracleConfig()):
        self.targets = targets
        self.fitted = fitted
        self.env = env
        self.soft_config, self.hard_config = soft, hard
        self.groups = _groups(targets.settings, fitted.base, fitted.world_constants)
        self._soft = {g.semantic: soft_oracle_summary(env, soft, g.semantic) for g in self.groups}
        self._hard = {g.semantic: hard_oracle_summary(env, hard, g.semantic) for g in self.groups}
        all_targets = targets.targets
        self.names = tuple(t.name for t in all_targets)
        self.values = np.asarray([t.value for t in all_targets], np.float32)
        self.units = np.asarray([t.unit for t in all_targets], np.float32)
        self.weights = np.asarray([t.weight for t in all_targets], np.float32)

    # ------------------------------------------------------------------ predictions

    def _per_group(self, z, keys, summary_of):
        """{setting: {metric: scalar}} with ``summary_of(group)(params, states)`` per group."""
        world = self.fitted.apply(z)
        out = {}
        for g in self.groups:
            stacked = world.replace(**{f: jnp.asarray(v) for f, v in g.overrides.items()})
            axes = batch_axes(world, **{f: 0 for f in g.overrides})
            summary = summary_of(g)

            def one(params, summary=summary):
                _, states = jax.vmap(self.env.reset, in_axes=(0, None))(keys, params)
                return summary(params, states)

            metrics = jax.vmap(one, in_axes=(axes,))(stacked)
            for i, name in enumerate(g.names):
                out[name] = {k: v[i] for k, v in metrics.items()}
        return out

    def soft_metrics(self, z, keys, temperature):
        """Every setting's metrics under the smoothed oracle at ``temperature``; differentiable in z."""
        return self._per_group(z, keys, lambda g: lambda p, s: self._soft[g.semantic](p, s, temperature))

    def hard_metrics(self, z, keys):
        """Every setting's metrics under the exact per-step oracle."""
        return self._per_group(z, keys, lambda g: self._hard[g.semantic])

    # ------------------------------------------------------------------ targets

    def model_values(self, metrics) -> jax.Array:
        """(T,) the model's value of every target, in the targets file's order."""
        values = []
        for t in self.targets.targets:
            m = metrics[t.setting]
            if t.metric == "qoe_gain":
                values.append(m["qoe"] / metrics[t.baseline]["qoe"] - 1.0)
            else:
                values.append(m[t.metric])
        return jnp.stack(values)

    def scaled_errors(self, values) -> jax.Array:
        """(model - target) / unit per target: the relative error for a target scaled by its value."""
        return (values - self.values) / self.units

    def loss(self, values) -> jax.Array:
        """Weighted mean of squared scaled errors over the fitted targets."""
        e = self.scaled_errors(values)
        return jnp.sum(self.weights * e * e) / float(np.sum(self.weights))
