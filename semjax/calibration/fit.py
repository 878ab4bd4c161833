"""The fit: projected Adam on the smoothed oracle, bias-corrected to the exact one, with restarts.

Each iteration evaluates every setting on the same batch of steps (common random numbers, so
the loss surface does not move between iterations) and takes one ``optax.adam`` step on the
fit coordinates ``z``, projected back onto the unit box (the constants' bounds) with
``optax.projections.projection_box``.

The loss compares targets with **bias-corrected** predictions: the smoothed oracle's value
plus the offset ``hard - soft`` measured at the latest refresh (every ``correct_every``
steps), held constant in between (``stop_gradient``). The gradient is the smoothed oracle's
(``semjax.calibration.standin`` says why); the level is the exact oracle's, so at a converged
point the loss measures the exact oracle's miss, not the surrogate's. This is output space
mapping, written out here because it is three lines around the stand-ins.

The temperature anneals geometrically from ``temperature_start`` to ``temperature_end`` over
the first ``anneal_fraction`` of each restart's steps and then holds; Adam's step decays along
a cosine. Restart 0 starts at the base profile; the others at uniform random points of the box
within ``start_radius`` of it: starts far from the base (a payload 50 times larger, say) begin
where every target is badly missed and the smoothed oracle's gradients are tiny. The best
restart is the one whose final point has the lowest loss under the exact oracle.

Identifiability. At the best point, ``J`` is the Jacobian of the scaled errors (each target's
error in units of its ``unit``) with respect to ``z`` under the smoothed oracle. Its
Gauss-Newton matrix ``J^T W J / sum(W)`` (half the loss curvature) has eigen-directions the
targets pin (large eigenvalues) and ones they leave free (near zero). Per constant, the
report gives which targets respond to it (``|J_ij|``: the relative change of target i over
the constant's whole range) and how far it can move, the others re-adjusting, before the
targets' RMS scaled error grows by the fit tolerance: ``tolerance * sqrt(C_jj)`` in units of
its range, C the inverse of the Gauss-Newton matrix (a Laplace approximation; null directions
count as unbounded), and how far it can move alone (``tolerance / sqrt(G_jj)``). A constant
that can cross half its range with the others re-adjusting is reported free: the targets pin
only some combination of it with others (the eigen-directions say which).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from semjax.calibration.problem import CalibrationProblem

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class FitConfig:
    """Effort and schedule of the fit. The defaults are the shipped fit's."""

    steps: int = 40  # optimiser steps per restart
    restarts: int = 3
    batch: int = 128  # steps of the fit batch (common random numbers)
    eval_batch: int = 512  # fresh steps for the report's evaluations, rounded up to a multiple of batch
    lr: float = 0.08  # Adam's initial step, in units of each constant's range (cosine decay to a tenth)
    temperature_start: float = 0.03  # of the smoothed oracle, in team-reward units
    temperature_end: float = 0.003
    anneal_fraction: float = 0.7
    correct_every: int = 10  # exact-oracle bias correction period in steps; 0 never corrects
    start_radius: float = 0.3  # restarts after the first start uniformly within this box distance of the base
    tolerance: float = 0.10  # a target is met within this relative error
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "restarts", "batch", "eval_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"calibrate.{name} must be an integer >= 1 (got {value!r})")
        if isinstance(self.correct_every, bool) or not isinstance(self.correct_every, int) or self.correct_every < 0:
            raise ValueError(f"calibrate.correct_every must be an integer >= 0 (got {self.correct_every!r})")
        for name in ("lr", "temperature_start", "temperature_end", "tolerance", "start_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"calibrate.{name} must be > 0 (got {getattr(self, name)!r})")
        if self.temperature_end > self.temperature_start:
            raise ValueError(
                f"calibrate.temperature_end must be <= temperature_start (got {self.temperature_end!r} > {self.temperature_start!r})"
            )
        if not 0.0 <= self.anneal_fraction <= 1.0:
            raise ValueError(f"calibrate.anneal_fraction must be in [0, 1] (got {self.anneal_fraction!r})")

    def temperature(self, step: int) -> float:
        span = max(1, round(self.anneal_fraction * self.steps) - 1)
        frac = min(1.0, step / span) if self.anneal_fraction > 0 else 1.0
        return float(self.temperature_start * (self.temperature_end / self.temperature_start) ** frac)


@dataclass
class FitResult:
    z: np.ndarray  # the best point
    loss: float  # its loss under the exact oracle on the fit batch
    restarts: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


class Fitter:
    """Compiled loss, gradient and evaluations of one ``CalibrationProblem``.

    Every evaluation runs on batches of ``config.batch`` steps, so one compilation of each
    stand-in serves the fit batch and the report's fresh batches (``eval_chunks`` of them).
    """

    def __init__(self, problem: CalibrationProblem, config: FitConfig):
        self.problem, self.config = problem, config
        key_fit, key_eval, self.key_starts = jax.random.split(jax.random.key(config.seed), 3)
        self.fit_keys = jax.random.split(key_fit, config.batch)
        self.eval_chunks = -(-config.eval_batch // config.batch)
        self.eval_keys = jax.random.split(key_eval, self.eval_chunks * config.batch).reshape(
            self.eval_chunks, config.batch)
        p = problem

        def corrected_loss(z, temperature, offset):
            values = p.model_values(p.soft_metrics(z, self.fit_keys, temperature)) + jax.lax.stop_gradient(offset)
            return p.loss(values), values

        self._loss_and_grad = jax.jit(jax.value_and_grad(corrected_loss, has_aux=True))
        self._hard = jax.jit(lambda z, keys: p.hard_metrics(z, keys))
        self._soft = jax.jit(lambda z, keys, t: p.soft_metrics(z, keys, t))
        self._jacobian = jax.jit(jax.jacfwd(
            lambda z, t: p.scaled_errors(p.model_values(p.soft_metrics(z, self.fit_keys, t)))))

    # ------------------------------------------------------------------ evaluations

    def _metrics(self, run, keys) -> dict[str, dict[str, float]]:
        """Metrics on the fit batch (``keys`` None) or pooled over the report's fresh chunks."""
        if keys is None:
            return _floats(run(self.fit_keys))
        chunks = [_floats(run(k)) for k in keys]
        return {s: _pool([c[s] for c in chunks]) for s in chunks[0]}

    def hard_metrics(self, z, keys=None) -> dict[str, dict[str, float]]:
        """Every setting's metrics under the exact oracle (``keys``: None or ``eval_keys``)."""
        return self._metrics(lambda k: self._hard(jnp.asarray(z), k), keys)

    def soft_metrics(self, z, keys=None, temperature=None) -> dict[str, dict[str, float]]:
        t = self.config.temperature_end if temperature is None else temperature
        return self._metrics(lambda k: self._soft(jnp.asarray(z), k, t), keys)

    def values(self, metrics) -> np.ndarray:
        return np.asarray(self.problem.model_values(metrics), np.float32)

    def hard_loss(self, z) -> float:
        return float(self.problem.loss(jnp.asarray(self.values(self.hard_metrics(z)))))

    def offset(self, z, temperature) -> np.ndarray:
        """Exact minus smoothed model values at z on the fit batch: the bias correction."""
        if self.config.correct_every == 0:
            return np.zeros(len(self.problem.names), np.float32)
        return self.values(self.hard_metrics(z)) - self.values(self.soft_metrics(z, temperature=temperature))

    def jacobian(self, z) -> np.ndarray:
        """(T, d) Jacobian of the scaled errors w.r.t. z, smoothed oracle at temperature_end."""
        return np.asarray(self._jacobian(jnp.asarray(z), self.config.temperature_end))

    # ------------------------------------------------------------------ the fit

    def starts(self) -> list[np.ndarray]:
        """The base point, then uniform points of the box within ``start_radius`` of it."""
        base = self.problem.fitted.base_z()
        r = self.config.start_radius
        u = np.asarray(jax.random.uniform(self.key_starts, (max(0, self.config.restarts - 1), base.size)), np.float32)
        lo, hi = np.clip(base - r, 0.0, 1.0), np.clip(base + r, 0.0, 1.0)
        return [base] + list((lo + (hi - lo) * u).astype(np.float32))

    def run(self, progress: Progress | None = None) -> FitResult:
        cfg = self.config
        # the step size decays to a tenth by each restart's end, so the last iterates settle
        optimiser = optax.adam(optax.cosine_decay_schedule(cfg.lr, cfg.steps, alpha=0.1))
        t0 = time.perf_counter()
        result = FitResult(z=self.problem.fitted.base_z(), loss=float("inf"))
        for r, z0 in enumerate(self.starts()):
            z = jnp.asarray(z0)
            state = optimiser.init(z)
            offset = np.zeros(len(self.problem.names), np.float32)
            for step in range(cfg.steps):
                temperature = cfg.temperature(step)
                if cfg.correct_every and step % cfg.correct_every == 0:
                    offset = self.offset(z, temperature)
                (loss, _), grad = self._loss_and_grad(z, temperature, offset)
                updates, state = optimiser.update(grad, state, z)
                z = optax.projections.projection_box(optax.apply_updates(z, updates), 0.0, 1.0)
                record = {"restart": r, "step": step, "loss": float(loss), "temperature": temperature}
                result.history.append(record)
                if progress is not None:
                    progress(record)
            z_final = np.asarray(z)
            final = self.hard_loss(z_final)
            result.restarts.append({"restart": r, "start": np.asarray(z0).tolist(), "end": z_final.tolist(),
                                    "loss_exact_oracle": final})
            if progress is not None:
                progress({"restart": r, "done": True, "loss_exact_oracle": final})
            if final < result.loss:
                result.z, result.loss = z_final, final
        result.wall_s = time.perf_counter() - t0
        return result


def identifiability(jacobian: np.ndarray, weights: np.ndarray, labels, names, tolerance: float) -> dict[str, Any]:
    """Eigen-analysis of the Gauss-Newton matrix and each constant's pins (module doc).

    ``jacobian`` (T, d) is of the scaled errors of every target (fitted or not) w.r.t. z;
    ``weights`` (T,) the targets' weights (0: reported, not fitted).
    """
    w = np.asarray(weights, np.float64)
    fitted_rows = w > 0
    j = np.asarray(jacobian, np.float64)
    jw = j[fitted_rows] * np.sqrt(w[fitted_rows] / w.sum())[:, None]
    gn = jw.T @ jw  # the loss grows by dz^T gn dz near the optimum (Gauss-Newton)
    eigenvalues, eigenvectors = np.linalg.eigh(gn)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.clip(eigenvalues[order], 0.0, None), eigenvectors[:, order]
    # C = gn^-1 with null directions kept infinite-ish (a pseudo-inverse would call them pinned)
    floor = max(float(eigenvalues[0]), 1e-30) * 1e-12
    covariance = (eigenvectors / np.maximum(eigenvalues, floor)) @ eigenvectors.T
    reach = tolerance * np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    reach_alone = tolerance / np.sqrt(np.maximum(np.diag(gn), floor))
    directions = []
    for value, vector in zip(eigenvalues, eigenvectors.T):
        top = np.argsort(np.abs(vector))[::-1][:3]
        directions.append({
            "eigenvalue": float(value),
            # RMS change of the weighted scaled errors for a step of the whole box along it
            "rms_error_change_full_range": float(np.sqrt(value)),
            "pinned": bool(np.sqrt(value) >= tolerance),
            "components": {labels[i]: round(float(vector[i]), 4) for i in top},
        })
    constants = []
    for i, label in enumerate(labels):
        column = j[:, i]
        responding = {names[t]: float(column[t]) for t in np.argsort(np.abs(column))[::-1] if abs(column[t]) >= tolerance}
        constants.append({
            "coordinate": label,
            # relative change of each target (in its unit) over this constant's whole range
            "targets": responding,
            "reach_range_fraction": float(reach[i]),
            # the same with every other constant held at its fitted value
            "reach_alone_range_fraction": float(reach_alone[i]),
            "free": bool(reach[i] >= 0.5 or not any(w[names.index(n)] > 0 for n in responding)),
        })
    return {"eigen": directions, "constants": constants, "fitted_targets": int(np.sum(fitted_rows))}


def conflicts(problem: CalibrationProblem, z: np.ndarray, errors: np.ndarray, jacobian: np.ndarray,
              tolerance: float) -> list[dict[str, Any]]:
    """For every fitted target missed by more than ``tolerance``: what holds it back.

    At a (bound-constrained) optimum the weighted errors balance: moving z to shrink one
    target's error grows others', or would cross a bound. For each missed target this lists
    the constants at a bound that it pulls outward (the bound binds for it), and the targets
    whose errors grow along the direction that would fix it (``-J_i``), with their own
    sensitivity to that step.
    """
    labels = problem.fitted.labels
    out = []
    w = problem.weights
    for i, name in enumerate(problem.names):
        if w[i] <= 0 or abs(errors[i]) <= tolerance:
            continue
        # direction that reduces |error_i| fastest: -sign(e_i) J_i
        direction = -np.sign(errors[i]) * jacobian[i]
        bound = []
        for k, label in enumerate(labels):
            at_lo, at_hi = z[k] <= 1e-6, z[k] >= 1 - 1e-6
            if (at_lo and direction[k] < 0) or (at_hi and direction[k] > 0):
                bound.append({"coordinate": label, "at": "lower" if at_lo else "upper", "pull": float(direction[k])})
        free_direction = np.where([(z[k] <= 1e-6 and direction[k] < 0) or (z[k] >= 1 - 1e-6 and direction[k] > 0)
                                   for k in range(len(labels))], 0.0, direction)
        norm = np.linalg.norm(free_direction)
        against = []
        if norm > 0:
            unit = free_direction / norm
            for t, other in enumerate(problem.names):
                if t == i or w[t] <= 0:
                    continue
                change = float(jacobian[t] @ unit)  # d error_t along the fixing direction
                if change * errors[t] > 0 and abs(change) >= 0.05:
                    against.append({"target": other, "error": float(errors[t]), "d_error_per_unit_step": change})
            against.sort(key=lambda a: -abs(a["d_error_per_unit_step"]))
        out.append({"target": name, "error": float(errors[i]), "bound_by": bound,
                    "d_error_per_unit_step": float(-np.linalg.norm(free_direction) if norm > 0 else 0.0),
                    "worsens": against[:5]})
    return out


def _floats(tree) -> dict[str, dict[str, float]]:
    return {k: {m: float(v) for m, v in d.items()} for k, d in jax.device_get(tree).items()}


def _pool(chunks: list[dict[str, float]]) -> dict[str, float]:
    """Metrics of equal-sized chunks pooled exactly: means average, mean mu weights by offloads."""
    out = {k: float(np.mean([c[k] for c in chunks])) for k in chunks[0]}
    offloads = np.asarray([c["offload_rate"] for c in chunks])
    if offloads.sum() > 0:
        out["mean_mu"] = float(np.sum(offloads * np.asarray([c["mean_mu"] for c in chunks])) / offloads.sum())
    return out
