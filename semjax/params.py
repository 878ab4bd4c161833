"""Environment parameters and task profiles (SPEC sections 4 and 5).

Both are ``flax.struct.dataclass`` pytrees whose leaves may be Python floats, NumPy or JAX
arrays, so they can be closed over as constants, passed traced into ``jit``, or batched on a
leading axis and ``vmap``-ped (e.g. a batch of bandwidths).

Validation runs when a user constructs or ``replace``-s a value, outside ``jit``: every
concrete field is checked (element-wise for batched arrays) and a ``ValueError`` names the
field and its accepted range. Traced fields cannot be checked and are skipped. JAX rebuilds
these pytrees many times (``tree.map``, ``grad``, ``vmap``): those rebuilds must not validate,
because a gradient or an ``in_axes`` spec is not a parameter set. A hidden static flag
(``_validated``) tells the two apart: it is False on user construction and True in every
treedef, so only user-facing construction validates.
"""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import struct

PROFILE_FIELDS = (
    "flops_local",
    "flops_extract",
    "flops_server",
    "data_bits",
    "exp_data",
    "exp_extract",
    "exp_accuracy",
    "acc_local",
    "snr_mid_db",
    "snr_width_db",
    "acc_min",
)

_INF = math.inf


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a float64 NumPy array, or None when it is traced or not numeric."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _fmt(x: np.ndarray) -> str:
    return repr(x.item()) if x.ndim == 0 else np.array2string(x, precision=6)


def _check_finite(owner: str, name: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{owner}.{name} must be finite (got {_fmt(x)})")


def _check_range(
    owner: str,
    name: str,
    x: np.ndarray,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    _check_finite(owner, name, x)
    ok = (x > lo) if lo_open else (x >= lo)
    ok &= (x < hi) if hi_open else (x <= hi)
    if not np.all(ok):
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(
            f"{owner}.{name} must be in {lb}{lo:g}, {hi:g}{rb} (got {_fmt(x)})"
        )


def _check_ordered(owner: str, lo_name: str, hi_name: str, lo: np.ndarray, hi: np.ndarray) -> None:
    if not np.all(lo <= hi):
        raise ValueError(
            f"{owner}.{lo_name} must be <= {owner}.{hi_name} "
            f"(got {lo_name}={_fmt(lo)}, {hi_name}={_fmt(hi)})"
        )


def _validating_replace(self, **updates):
    """Returns a copy with the given fields replaced; the result is validated again."""
    return dataclasses.replace(self, _validated=False, **updates)


# --------------------------------------------------------------------------------------
# Task profile
# --------------------------------------------------------------------------------------

# Accepted range of each profile field: (lo, hi, lo_open, hi_open).
_PROFILE_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "flops_local": (0.0, _INF, True, True),
    "flops_extract": (0.0, _INF, True, True),
    "flops_server": (0.0, _INF, True, True),
    "data_bits": (0.0, _INF, True, True),
    "exp_data": (0.0, _INF, True, True),
    "exp_extract": (0.0, _INF, False, True),
    "exp_accuracy": (0.0, _INF, False, True),
    "acc_local": (0.0, 1.0, True, False),
    "snr_mid_db": (-_INF, _INF, True, True),
    "snr_width_db": (0.0, _INF, True, True),
    "acc_min": (0.0, 1.0, True, False),
}


@struct.dataclass
class TaskProfile:
    """Per-task-type constants of SPEC section 5; every field has shape (M,) (or (..., M)).

    Units: FLOPs for ``flops_*`` (one multiply-add = 2 FLOPs), bits for ``data_bits``,
    fractions in [0, 1] for accuracies, dB for the channel factor. ``names`` (static) are the
    task type names, in index order.
    """

    flops_local: Any
    flops_extract: Any
    flops_server: Any
    data_bits: Any
    exp_data: Any
    exp_extract: Any
    exp_accuracy: Any
    acc_local: Any
    snr_mid_db: Any
    snr_width_db: Any
    acc_min: Any
    names: tuple[str, ...] = struct.field(pytree_node=False, default=())
    _validated: bool = struct.field(pytree_node=False, default=False, repr=False, compare=False)

    def __post_init__(self):
        if self._validated:
            return
        self._validate()
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "_validated", True)

    @property
    def num_types(self) -> int:
        return int(np.shape(self.flops_local)[-1])

    def _validate(self) -> None:
        length = None
        for name in PROFILE_FIELDS:
            x = _concrete(getattr(self, name))
            if x is None:
                continue
            if x.ndim < 1:
                raise ValueError(f"TaskProfile.{name} must be an array of shape (M,), got a scalar")
            if length is None:
                length = x.shape[-1]
                if length < 1:
                    raise ValueError(f"TaskProfile.{name} must have at least one task type")
            elif x.shape[-1] != length:
                raise ValueError(
                    f"TaskProfile.{name} has {x.shape[-1]} entries but "
                    f"TaskProfile.{PROFILE_FIELDS[0]} has {length}: every field needs one per task type"
                )
            lo, hi, lo_open, hi_open = _PROFILE_RANGES[name]
            _check_range("TaskProfile", name, x, lo, hi, lo_open=lo_open, hi_open=hi_open)
        if self.names and length is not None and len(self.names) != length:
            raise ValueError(
                f"TaskProfile.names has {len(self.names)} entries but the profile has {length} task types"
            )


TaskProfile.replace = _validating_replace


_BUILTIN_PROFILES = ("paper", "measured")


def _profile_json(source: str | Path) -> tuple[dict, str]:
    text_source = str(source)
    if text_source in _BUILTIN_PROFILES or (
        isinstance(source, str) and "/" not in source and not source.endswith(".json")
    ):
        ref = resources.files("semjax.profiles").joinpath(f"{text_source}.json")
        if not ref.is_file():
            available = sorted(
                p.name[: -len(".json")]
                for p in resources.files("semjax.profiles").iterdir()
                if p.name.endswith(".json")
            )
            raise ValueError(
                f"profile {text_source!r} is neither a built-in profile {available} nor a path to a JSON file"
            )
        return json.loads(ref.read_text()), f"semjax/profiles/{text_source}.json"
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"profile file {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text()), str(path)
    except json.JSONDecodeError as exc:
        raise ValueError(f"profile file {str(path)!r} is not valid JSON: {exc}") from exc


def profile_from_dict(data: dict, origin: str = "<dict>") -> TaskProfile:
    """Builds a validated TaskProfile from the profile JSON schema (see profiles/paper.json).

    ``data["fields"][NAME]`` is either ``{"values": [...], ...provenance}`` or a bare list.
    """
    if not isinstance(data, dict) or "fields" not in data:
        raise ValueError(f"profile {origin}: missing key 'fields'")
    fields = data["fields"]
    missing = [f for f in PROFILE_FIELDS if f not in fields]
    if missing:
        raise ValueError(f"profile {origin}: missing field(s) {missing}")
    unknown = sorted(set(fields) - set(PROFILE_FIELDS))
    if unknown:
        raise ValueError(f"profile {origin}: unknown field(s) {unknown}; accepted: {list(PROFILE_FIELDS)}")
    values = {}
    for name in PROFILE_FIELDS:
        entry = fields[name]
        raw = entry.get("values") if isinstance(entry, dict) else entry
        if raw is None:
            raise ValueError(f"profile {origin}: field {name!r} has no 'values'")
        if not isinstance(raw, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw
        ):
            raise ValueError(f"profile {origin}: TaskProfile.{name} must be a list of numbers (got {raw!r})")
        try:
            arr = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"profile {origin}: TaskProfile.{name} must be a list of numbers ({exc})") from exc
        if arr.ndim != 1:
            raise ValueError(f"profile {origin}: TaskProfile.{name} must be a flat list, got shape {arr.shape}")
        values[name] = arr
    names = tuple(data.get("task_types", ()))
    try:
        return TaskProfile(**values, names=names)
    except ValueError as exc:
        raise ValueError(f"profile {origin}: {exc}") from None


def load_profile(source: str | Path | TaskProfile = "paper") -> TaskProfile:
    """Loads a task profile: a built-in name ("paper", "measured"), a JSON path, or a TaskProfile."""
    if isinstance(source, TaskProfile):
        return source
    data, origin = _profile_json(source)
    return profile_from_dict(data, origin)


# --------------------------------------------------------------------------------------
# Environment parameters
# --------------------------------------------------------------------------------------

_POSITIVE = (
    "bandwidth",
    "noise_power",
    "path_loss_exponent",
    "ref_distance",
    "distance_min",
    "power_min",
    "freq_min",
    "freq_ref",
    "ue_cores",
    "server_cores",
    "server_freq",
    "flops_per_cycle",
    "kappa_ue",
    "kappa_server",
    "t_max",
    "energy_budget_min",
    "slope_latency",
    "slope_energy",
    "slope_accuracy",
)
_ORDERED = (
    ("distance_min", "distance_max"),
    ("power_min", "power_max"),
    ("freq_min", "freq_max"),
    ("energy_budget_min", "energy_budget_max"),
)
_WEIGHTS = ("w_latency", "w_energy", "w_accuracy")
_SUM_TOL = 1e-5


@struct.dataclass
class EnvParams:
    """Traced parameters of the world (SPEC section 4), in SI units; defaults = the paper preset.

    Every field can be a scalar or an array with a leading batch axis for ``vmap``.
    ``profile`` holds the per-task-type constants (SPEC section 5).
    """

    bandwidth: Any = 10e6  # Hz per sub-channel (Table IV)
    noise_power: Any = 2e-3  # W (Table IV)
    path_loss_exponent: Any = 3.0  # ours
    ref_distance: Any = 50.0  # m, unit large-scale gain (ours)
    distance_min: Any = 25.0  # m (ours)
    distance_max: Any = 100.0  # m (ours)
    power_min: Any = 0.01  # W (Table IV)
    power_max: Any = 0.09  # W (Table IV)
    freq_min: Any = 1.5e9  # Hz (Table IV)
    freq_max: Any = 1.7e9  # Hz (Table IV)
    freq_ref: Any = 1.6e9  # Hz, QoE reference clock (ours, from Table V)
    ue_cores: Any = 1280.0  # CUDA cores (Table IV)
    server_cores: Any = 65536.0  # CUDA cores (Table IV)
    server_freq: Any = 2.2e9  # Hz (Table IV)
    flops_per_cycle: Any = 2.0  # FMA (Sec. III-C)
    kappa_ue: Any = 1e-26  # effective switched capacitance (Table IV)
    kappa_server: Any = 1.2e-26  # (Table IV)
    mu_min: Any = 0.1  # smallest semantic extraction factor (Table IV)
    t_max: Any = 5e-3  # s, latency bound (Table IV)
    energy_budget_min: Any = 0.05  # J per task (ours)
    energy_budget_max: Any = 0.15  # J per task (ours)
    w_latency: Any = 1.0 / 3.0  # QoE weights, sum to 1 (Sec. V-B)
    w_energy: Any = 1.0 / 3.0
    w_accuracy: Any = 1.0 / 3.0
    slope_latency: Any = 1e3  # 1/s (Table IV)
    slope_energy: Any = 10.0  # 1/J (Table IV)
    slope_accuracy: Any = 2.0  # per unit of accuracy fraction (Table IV)
    task_mix: Any = None  # (M,) distribution of task types; None -> uniform
    profile: TaskProfile = None  # None -> the built-in "paper" profile
    _validated: bool = struct.field(pytree_node=False, default=False, repr=False, compare=False)

    def __post_init__(self):
        if self._validated:
            return
        if self.profile is None:
            object.__setattr__(self, "profile", load_profile("paper"))
        elif not isinstance(self.profile, TaskProfile):
            object.__setattr__(self, "profile", load_profile(self.profile))
        if self.task_mix is None:
            m = self.profile.num_types
            object.__setattr__(self, "task_mix", np.full((m,), 1.0 / m, dtype=np.float32))
        self._validate()
        object.__setattr__(self, "_validated", True)

    @property
    def num_task_types(self) -> int:
        return self.profile.num_types

    def _validate(self) -> None:
        owner = "EnvParams"
        vals = {}
        for f in dataclasses.fields(self):
            if f.name in ("profile", "_validated"):
                continue
            x = _concrete(getattr(self, f.name))
            if x is None:
                continue
            _check_finite(owner, f.name, x)
            vals[f.name] = x
        for name in _POSITIVE:
            if name in vals:
                _check_range(owner, name, vals[name], 0.0, _INF, lo_open=True, hi_open=True)
        for lo, hi in _ORDERED:
            if lo in vals and hi in vals:
                _check_ordered(owner, lo, hi, vals[lo], vals[hi])
        if "mu_min" in vals:
            _check_range(owner, "mu_min", vals["mu_min"], 0.0, 1.0, lo_open=True)
        if all(w in vals for w in _WEIGHTS):
            for w in _WEIGHTS:
                _check_range(owner, w, vals[w], 0.0, 1.0)
            total = vals["w_latency"] + vals["w_energy"] + vals["w_accuracy"]
            if not np.all(np.abs(total - 1.0) <= _SUM_TOL):
                raise ValueError(
                    f"EnvParams.w_latency + w_energy + w_accuracy must sum to 1 (got {_fmt(total)})"
                )
        if "task_mix" in vals:
            mix = vals["task_mix"]
            m = self.profile.num_types
            if mix.ndim < 1 or mix.shape[-1] != m:
                raise ValueError(
                    f"EnvParams.task_mix must have one entry per task type ({m}), got shape {mix.shape}"
                )
            _check_range(owner, "task_mix", mix, 0.0, 1.0)
            if not np.all(np.abs(mix.sum(-1) - 1.0) <= _SUM_TOL):
                raise ValueError(f"EnvParams.task_mix must sum to 1 (a distribution), got {_fmt(mix)}")


EnvParams.replace = _validating_replace


def batch_axes(params: EnvParams, **axes: int) -> EnvParams:
    """An ``in_axes`` tree for ``jax.vmap`` over params: None everywhere but the named fields.

    ``jax.vmap(f, in_axes=(batch_axes(params, bandwidth=0), ...))(params.replace(bandwidth=bws), ...)``.
    Profile fields are named with a ``profile_`` prefix (``profile_flops_local=0``).
    Needed because ``replace`` validates its values, and an axis spec is not a parameter set.
    """
    spec = jax.tree.map(lambda _: None, params)
    profile_axes = {k[len("profile_"):]: v for k, v in axes.items() if k.startswith("profile_")}
    field_axes = {k: v for k, v in axes.items() if not k.startswith("profile_")}
    names = {f.name for f in dataclasses.fields(EnvParams)} - {"profile", "_validated"}
    unknown = sorted(set(field_axes) - names) + sorted(
        f"profile_{k}" for k in set(profile_axes) - set(PROFILE_FIELDS)
    )
    if unknown:
        raise ValueError(f"batch_axes: unknown field(s) {unknown}")
    profile = dataclasses.replace(spec.profile, _validated=True, **profile_axes)
    return dataclasses.replace(spec, _validated=True, profile=profile, **field_axes)
