"""What calibration may change: the constants, their bounds, and the map from fit coordinates.

Each fittable constant has bounds from physics or the paper's text (``CATALOGUE``, with the
reason). A profile field is fitted **tied** by default: one factor multiplies every task
type's value (or, for a field in dB, one shift is added), so the ratios between task types
that the base profile encodes (text smallest, VQA the least compressible, ...) are kept. The
paper's targets are averages over the task mix and cannot tell task types apart, so a
per-task fit would leave two thirds of its coordinates free; ``per_task: true`` asks for it.

The optimiser works on ``z`` in the unit box [0, 1]^d: one coordinate per tied field, per
task type of a per-task field, or per world constant. ``z`` maps to the fitted quantity
linearly or, for quantities spanning decades (FLOPs, bits, exponents), log-linearly, so equal
steps in ``z`` are equal relative steps. Projection onto the box is projection onto the bounds.

The default set is the profile's "ours" values (SPEC section 5): the fields the paper does not
publish. World constants that are "ours" in SPEC section 4 (``path_loss_exponent``,
``ref_distance``, the energy budgets, ``freq_ref``) may be named too; they are not in the
default set because a profile file carries profile fields only, so ``env.profile=fitted``
would not apply them (the fit writes them, and the ``params.*`` overrides they need, to its
report). Distances are not fittable: only ``d / ref_distance`` enters the gains, so
``ref_distance`` stands for the whole distance scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from semjax.params import EnvParams

Bound = Callable[[EnvParams], np.ndarray]


def _const(value: float) -> Bound:
    return lambda params: np.float64(value)


def _of_flops_local(factor: float) -> Bound:
    return lambda params: factor * np.asarray(params.profile.flops_local, np.float64)


@dataclass(frozen=True)
class ConstantSpec:
    """A fittable constant: where it lives, its physical bounds (per task type for profile
    fields, as functions of the base parameters), log or linear coordinates, and why."""

    name: str
    where: str  # "profile" | "world"
    lo: Bound
    hi: Bound
    log: bool
    source: str
    tie: str = "scale"  # profile fields: "scale" (one factor) or "shift" (one offset, for dB)


CATALOGUE: dict[str, ConstantSpec] = {
    spec.name: spec
    for spec in (
        ConstantSpec("flops_extract", "profile", _const(1e7), _of_flops_local(1.0), True,
                     "Sec. III-A, V-A: the device-side semantic encoder at mu = 1 is the model's first part: at most "
                     "the whole model l^U, at least 10 MFLOPs (one embedding layer)"),
        ConstantSpec("flops_server", "profile", _of_flops_local(0.05), _of_flops_local(1.0), True,
                     "Eq. (4), SPEC Decision 4: the server runs the rest of the model, at most l^U (what a raw upload "
                     "costs it), at least 5 % of l^U (a task head)"),
        ConstantSpec("data_bits", "profile", _const(1e2), _const(1e7), True,
                     "Eq. (2): a payload at mu = 1 between 100 bit (a short sentence) and 10 Mbit (a raw "
                     "224 x 224 x 3 frame at 8 bit is 1.2 Mbit)"),
        ConstantSpec("exp_data", "profile", _const(0.25), _const(4.0), True,
                     "Eq. (2): p > 0, payload a monotonic power law of mu (Sec. III-A)"),
        ConstantSpec("exp_extract", "profile", _const(0.05), _const(4.0), True,
                     "Eq. (3): q > 0, extraction cost a monotonic power law of 1/mu (Sec. III-A)"),
        ConstantSpec("exp_accuracy", "profile", _const(0.01), _const(2.0), True,
                     "Eq. (9): accuracy a power law of mu at fixed SNR, falling with compression (Sec. III-E)"),
        ConstantSpec("acc_local", "profile", lambda p: np.asarray(p.profile.acc_min, np.float64), _const(1.0), False,
                     "Table IV: a task executed locally meets eps_min; an accuracy is a fraction <= 1"),
        ConstantSpec("snr_mid_db", "profile", _const(-10.0), _const(20.0), False,
                     "Eq. (9): the SNR at which a codec keeps half its accuracy, from robust (-10 dB) to fragile "
                     "(20 dB)", tie="shift"),
        ConstantSpec("snr_width_db", "profile", _const(0.5), _const(10.0), True,
                     "Eq. (9): the dB width of the channel factor's transition, sharp (0.5 dB) to gradual (10 dB)"),
        ConstantSpec("path_loss_exponent", "world", _const(2.0), _const(5.0), False,
                     "Sec. III-B: alpha from free space (2) to dense urban (5)"),
        ConstantSpec("ref_distance", "world", _const(5.0), _const(500.0), True,
                     "SPEC Decision 1: the distance of unit large-scale gain; it sets the SNR scale"),
        ConstantSpec("energy_budget_min", "world", _const(0.005), _const(0.0682), True,
                     "Sec. III-E E_max_n, not printed: at most 0.0682 J, the all-local energy of Table V"),
        ConstantSpec("energy_budget_max", "world", _const(0.0682), _const(0.5), True,
                     "Sec. III-E E_max_n, not printed: at least 0.0682 J, the all-local energy of Table V"),
        ConstantSpec("freq_ref", "world", lambda p: np.float64(p.freq_min), lambda p: np.float64(p.freq_max), False,
                     "Sec. V-B: the fixed local clock lies in the device's range (Table IV)"),
    )
}

#: The world's "ours" values (SPEC section 4) a fit may name; the report says how each would
#: move a missed target when it is not fitted.
WORLD_OURS = ("path_loss_exponent", "ref_distance", "energy_budget_min", "energy_budget_max")

#: What the paper does not publish, i.e. the profile's "ours" values of SPEC section 5.
DEFAULT_CONSTANTS = (
    "flops_extract",
    "flops_server",
    "data_bits",
    "exp_data",
    "exp_extract",
    "exp_accuracy",
    "acc_local",
    "snr_mid_db",
    "snr_width_db",
)


@dataclass(frozen=True)
class Coordinate:
    """One coordinate of the fit: the quantity it moves and that quantity's bounds.

    ``kind``: "scale" (a factor on every task type's base value), "shift" (an offset added to
    every task type's value), "task" (one task type's value) or "world" (an EnvParams field).
    """

    label: str
    constant: str
    kind: str
    task: int | None
    lo: float
    hi: float
    log: bool
    base: float  # the quantity at the base parameters: 1 for a scale, 0 for a shift

    def quantity(self, z):
        if self.log:
            return self.lo * jnp.exp(z * float(np.log(self.hi / self.lo)))
        return self.lo + (self.hi - self.lo) * z

    def z_of(self, quantity: float) -> float:
        if self.log:
            return float(np.log(quantity / self.lo) / np.log(self.hi / self.lo))
        return float((quantity - self.lo) / (self.hi - self.lo))


def _parse_entry(entry: Any) -> tuple[str, bool]:
    if isinstance(entry, str):
        name, per_task = entry, False
    elif isinstance(entry, dict):
        unknown = sorted(set(entry) - {"name", "per_task"})
        if unknown or "name" not in entry:
            raise ValueError(f"constants: an entry is a name or {{name, per_task}} (got {entry!r})")
        name, per_task = entry["name"], entry.get("per_task", False)
        if not isinstance(per_task, bool):
            raise ValueError(f"constants.{name}.per_task must be true or false (got {per_task!r})")
    else:
        raise ValueError(f"constants: an entry is a name or {{name, per_task}} (got {entry!r})")
    if name not in CATALOGUE:
        raise ValueError(f"constants: {name!r} is not a fittable constant; accepted: {sorted(CATALOGUE)}")
    if per_task and CATALOGUE[name].where != "profile":
        raise ValueError(f"constants.{name}.per_task: only a profile field has task types")
    return name, per_task


class FittedSet:
    """The constants being fitted, around base parameters: z in [0, 1]^d <-> EnvParams."""

    def __init__(self, base: EnvParams, constants=DEFAULT_CONSTANTS):
        self.base = base
        names = [_parse_entry(e) for e in constants]
        seen = [n for n, _ in names]
        duplicates = sorted({n for n in seen if seen.count(n) > 1})
        if duplicates:
            raise ValueError(f"constants: {duplicates} named more than once")
        task_names = base.profile.names or tuple(f"type{m}" for m in range(base.profile.num_types))
        coords: list[Coordinate] = []
        for name, per_task in names:
            spec = CATALOGUE[name]
            if spec.where == "world":
                value = float(np.asarray(getattr(base, name), np.float64))
                lo, hi = float(spec.lo(base)), float(spec.hi(base))
                coords.append(self._checked(Coordinate(name, name, "world", None, lo, hi, spec.log, value), spec))
                continue
            values = np.asarray(getattr(base.profile, name), np.float64)
            lo = np.broadcast_to(spec.lo(base), values.shape)
            hi = np.broadcast_to(spec.hi(base), values.shape)
            if per_task:
                for m, task in enumerate(task_names):
                    coords.append(self._checked(
                        Coordinate(f"{name}[{task}]", name, "task", m, float(lo[m]), float(hi[m]), spec.log, float(values[m])),
                        spec))
            elif spec.tie == "shift":
                coords.append(self._checked(
                    Coordinate(name, name, "shift", None, float(np.max(lo - values)), float(np.min(hi - values)), False, 0.0),
                    spec))
            else:
                if np.any(values <= 0):
                    raise ValueError(f"constants.{name}: a tied factor needs positive base values (got {values})")
                coords.append(self._checked(
                    Coordinate(name, name, "scale", None, float(np.max(lo / values)), float(np.min(hi / values)), spec.log, 1.0),
                    spec))
        self.coords = tuple(coords)
        self.constants = tuple(n for n, _ in names)

    @staticmethod
    def _checked(coord: Coordinate, spec: ConstantSpec) -> Coordinate:
        if not coord.lo < coord.hi:
            raise ValueError(f"constants.{coord.label}: its bounds leave no room (lo {coord.lo:g} >= hi {coord.hi:g}): {spec.source}")
        if not coord.lo <= coord.base <= coord.hi:
            raise ValueError(
                f"constants.{coord.label}: the base value {coord.base:g} lies outside its bounds "
                f"[{coord.lo:g}, {coord.hi:g}] ({spec.source})"
            )
        if coord.log and coord.lo <= 0:
            raise ValueError(f"constants.{coord.label}: log coordinates need a positive lower bound (got {coord.lo:g})")
        return coord

    @property
    def dim(self) -> int:
        return len(self.coords)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.coords)

    @property
    def world_constants(self) -> tuple[str, ...]:
        return tuple(c.constant for c in self.coords if c.kind == "world")

    def base_z(self) -> np.ndarray:
        """The coordinates of the base parameters."""
        return np.asarray([c.z_of(c.base) for c in self.coords], np.float32)

    def quantities(self, z) -> list:
        return [c.quantity(z[i]) for i, c in enumerate(self.coords)]

    def apply(self, z, params: EnvParams | None = None) -> EnvParams:
        """``params`` (default: the base) with the fitted constants at ``z``; traceable."""
        params = self.base if params is None else params
        q = self.quantities(z)
        profile_updates: dict[str, Any] = {}
        world_updates: dict[str, Any] = {}
        for i, c in enumerate(self.coords):
            if c.kind == "world":
                world_updates[c.constant] = q[i]
                continue
            current = profile_updates.get(c.constant, jnp.asarray(getattr(params.profile, c.constant), jnp.float32))
            if c.kind == "scale":
                current = current * q[i]
            elif c.kind == "shift":
                current = current + q[i]
            else:
                current = current.at[c.task].set(q[i])
            profile_updates[c.constant] = current
        profile = params.profile.replace(**profile_updates) if profile_updates else params.profile
        return params.replace(profile=profile, **world_updates)

    def values(self, z) -> dict[str, Any]:
        """Physical values of every fitted constant at ``z`` (float64 NumPy; (M,) for profile fields)."""
        params = self.apply(np.asarray(z, np.float32))
        out = {}
        for name in self.constants:
            if CATALOGUE[name].where == "world":
                out[name] = float(np.asarray(getattr(params, name)))
            else:
                out[name] = np.asarray(getattr(params.profile, name), np.float64)
        return out

    def describe(self) -> list[dict[str, Any]]:
        """Each coordinate's quantity, bounds and the reason for them, for reports."""
        return [
            {"coordinate": c.label, "constant": c.constant, "kind": c.kind, "lo": c.lo, "hi": c.hi,
             "log": c.log, "base": c.base, "bounds_source": CATALOGUE[c.constant].source}
            for c in self.coords
        ]

