"""Calibration targets: a YAML file of published numbers and the worlds that produce them.

A targets file names **settings** (the world and stand-in policy behind a number: the QoE
weights, whether the stand-in may extract semantics, and any other ``EnvParams`` values) and
**targets** (one published number each: which metric of which setting, its value and where it
comes from). It may also name the **constants** to fit (``semjax.calibration.constants``);
without that list the default set is fitted. ``configs/targets/paper.yaml`` is the paper's.

Schema::

    name: paper                       # optional, for reports
    settings:
      SETTING:
        weights: {latency: 1, energy: 0, accuracy: 0}   # default 1/3 each; must sum to 1
        semantic: true                # false: the stand-in keeps mu = 1 (semantic-unaware)
        params: {noise_power: 1.0e-2} # optional EnvParams overrides
        source: "..."                 # optional
    targets:
      - name: NAME                    # unique
        setting: SETTING
        metric: latency_ms | energy_j | accuracy | qoe | qoe_gain
        baseline: SETTING             # qoe_gain only: qoe[setting] / qoe[baseline] - 1
        value: 0.523
        scale: 0.523                  # optional, > 0: the residual's unit (default |value|)
        weight: 1.0                   # optional, >= 0; 0 reports the target without fitting it
        source: "Table V, ..."        # required: where the number is printed
    constants: [flops_extract, {name: data_bits, per_task: true}]   # optional

Every problem raises ``ValueError`` naming the file, the entry and the accepted values, before
anything is compiled.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from semjax.params import EnvParams

METRICS = ("latency_ms", "energy_j", "accuracy", "qoe", "qoe_gain")
_WEIGHT_KEYS = ("latency", "energy", "accuracy")
_SETTING_KEYS = {"weights", "semantic", "params", "source"}
_TARGET_KEYS = {"name", "setting", "metric", "baseline", "value", "scale", "weight", "source"}
_TOP_KEYS = {"name", "description", "settings", "targets", "constants"}
# Fields a setting may not override: they are the fitted world or belong to the weights entry.
_NOT_OVERRIDABLE = {"w_latency", "w_energy", "w_accuracy", "profile", "task_mix", "_validated"}
_SUM_TOL = 1e-5


@dataclass(frozen=True)
class Setting:
    """One world the stand-in is evaluated in: QoE weights, semantic or not, EnvParams overrides."""

    name: str
    weights: tuple[float, float, float] = (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0)
    semantic: bool = True
    params: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def overrides(self) -> dict[str, float]:
        """The EnvParams fields this setting sets: its weights and its ``params``."""
        w_latency, w_energy, w_accuracy = self.weights
        return {"w_latency": w_latency, "w_energy": w_energy, "w_accuracy": w_accuracy, **self.params}


@dataclass(frozen=True)
class Target:
    """One published number: ``metric`` of ``setting`` (against ``baseline`` for a gain)."""

    name: str
    setting: str
    metric: str
    value: float
    source: str
    baseline: str | None = None
    scale: float | None = None
    weight: float = 1.0

    @property
    def unit(self) -> float:
        """Unit of the residual, which is ``scale`` if given, else the value's magnitude."""
        return float(self.scale) if self.scale is not None else abs(float(self.value))


@dataclass(frozen=True)
class TargetsFile:
    """A parsed, validated targets file."""

    name: str
    path: str
    settings: dict[str, Setting]
    targets: tuple[Target, ...]
    constants: tuple[Any, ...] | None = None  # None: the default fitted set
    description: str = ""

    @property
    def fitted_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.weight > 0)


def _error(origin: str, where: str, message: str) -> ValueError:
    return ValueError(f"targets file {origin}: {where}: {message}")


def _number(origin: str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise _error(origin, where, f"must be a finite number (got {value!r})")
    return float(value)


def _unknown(origin: str, where: str, entry: dict, accepted: set[str]) -> None:
    unknown = sorted(set(entry) - accepted)
    if unknown:
        raise _error(origin, where, f"unknown key(s) {unknown}; accepted: {sorted(accepted)}")


def _parse_weights(origin: str, where: str, raw: Any) -> tuple[float, float, float]:
    if raw is None:
        return (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0)
    if not isinstance(raw, dict):
        raise _error(origin, where, f"must be a mapping {{latency, energy, accuracy}} (got {raw!r})")
    _unknown(origin, where, raw, set(_WEIGHT_KEYS))
    missing = [k for k in _WEIGHT_KEYS if k not in raw]
    if missing:
        raise _error(origin, where, f"missing weight(s) {missing}")
    values = tuple(_number(origin, f"{where}.{k}", raw[k]) for k in _WEIGHT_KEYS)
    for k, v in zip(_WEIGHT_KEYS, values):
        if not 0.0 <= v <= 1.0:
            raise _error(origin, f"{where}.{k}", f"must be in [0, 1] (got {v!r})")
    if abs(sum(values) - 1.0) > _SUM_TOL:
        raise _error(origin, where, f"must sum to 1 (got {sum(values)!r})")
    return values  # type: ignore[return-value]


def _parse_setting(origin: str, name: str, raw: Any) -> Setting:
    where = f"settings.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _error(origin, where, f"must be a mapping (got {raw!r})")
    _unknown(origin, where, raw, _SETTING_KEYS)
    semantic = raw.get("semantic", True)
    if not isinstance(semantic, bool):
        raise _error(origin, f"{where}.semantic", f"must be true or false (got {semantic!r})")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise _error(origin, f"{where}.params", f"must be a mapping of EnvParams fields (got {params!r})")
    fields = {f.name for f in dataclasses.fields(EnvParams)} - _NOT_OVERRIDABLE
    overrides = {}
    for key, value in params.items():
        if key not in fields:
            raise _error(origin, f"{where}.params.{key}", f"is not an EnvParams field one can override; accepted: {sorted(fields)}")
        overrides[key] = _number(origin, f"{where}.params.{key}", value)
    weights = _parse_weights(origin, f"{where}.weights", raw.get("weights"))
    try:  # the world must be valid on its own: EnvParams names the field and its range
        EnvParams(**dict(zip(("w_latency", "w_energy", "w_accuracy"), weights)), **overrides)
    except ValueError as exc:
        raise _error(origin, where, str(exc)) from None
    return Setting(name=name, weights=weights, semantic=semantic, params=overrides, source=str(raw.get("source", "")))


def _parse_target(origin: str, index: int, raw: Any, settings: dict[str, Setting]) -> Target:
    where = f"targets[{index}]"
    if not isinstance(raw, dict):
        raise _error(origin, where, f"must be a mapping (got {raw!r})")
    _unknown(origin, where, raw, _TARGET_KEYS)
    for key in ("name", "setting", "metric", "value", "source"):
        if key not in raw:
            raise _error(origin, where, f"missing key {key!r}")
    name = raw["name"]
    if not isinstance(name, str) or not name:
        raise _error(origin, f"{where}.name", f"must be a non-empty string (got {name!r})")
    where = f"targets[{index}] ({name})"
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        raise _error(origin, f"{where}.source", "must say where the number comes from (table, figure, section)")
    metric = raw["metric"]
    if metric not in METRICS:
        raise _error(origin, f"{where}.metric", f"must be one of {list(METRICS)} (got {metric!r})")
    setting = raw["setting"]
    if setting not in settings:
        raise _error(origin, f"{where}.setting", f"names no setting; defined: {sorted(settings)} (got {setting!r})")
    baseline = raw.get("baseline")
    if metric == "qoe_gain":
        if baseline not in settings:
            raise _error(origin, f"{where}.baseline", f"a qoe_gain needs a baseline setting; defined: {sorted(settings)} (got {baseline!r})")
        if baseline == setting:
            raise _error(origin, f"{where}.baseline", "must differ from the setting")
    elif baseline is not None:
        raise _error(origin, f"{where}.baseline", f"only a qoe_gain has a baseline (metric is {metric!r})")
    value = _number(origin, f"{where}.value", raw["value"])
    scale = raw.get("scale")
    if scale is not None:
        scale = _number(origin, f"{where}.scale", scale)
        if scale <= 0:
            raise _error(origin, f"{where}.scale", f"must be > 0 (got {scale!r})")
    elif value == 0.0:
        raise _error(origin, f"{where}.scale", "a target of 0 needs an explicit scale > 0 (the residual's unit)")
    weight = _number(origin, f"{where}.weight", raw.get("weight", 1.0))
    if weight < 0:
        raise _error(origin, f"{where}.weight", f"must be >= 0 (got {weight!r})")
    if metric == "accuracy" and not 0.0 <= value <= 1.0:
        raise _error(origin, f"{where}.value", f"an accuracy is a fraction in [0, 1] (got {value!r})")
    if metric in ("latency_ms", "energy_j") and value <= 0:
        raise _error(origin, f"{where}.value", f"a {metric} must be > 0 (got {value!r})")
    if metric == "qoe" and not 0.0 < value < 1.0:
        raise _error(origin, f"{where}.value", f"a QoE is in (0, 1) (got {value!r})")
    return Target(name=name, setting=setting, metric=metric, value=value, source=source.strip(),
                  baseline=baseline, scale=scale, weight=weight)


def parse_targets(data: Any, origin: str = "<dict>") -> TargetsFile:
    """Validates a targets mapping (the YAML's content); see the module doc for the schema."""
    if not isinstance(data, dict):
        raise _error(origin, "top level", f"must be a mapping with 'settings' and 'targets' (got {type(data).__name__})")
    _unknown(origin, "top level", data, _TOP_KEYS)
    for key in ("settings", "targets"):
        if key not in data:
            raise _error(origin, "top level", f"missing key {key!r}")
    raw_settings = data["settings"]
    if not isinstance(raw_settings, dict) or not raw_settings:
        raise _error(origin, "settings", "must be a non-empty mapping of setting names")
    settings = {str(name): _parse_setting(origin, str(name), raw) for name, raw in raw_settings.items()}
    raw_targets = data["targets"]
    if not isinstance(raw_targets, list) or not raw_targets:
        raise _error(origin, "targets", "must be a non-empty list")
    targets = tuple(_parse_target(origin, i, raw, settings) for i, raw in enumerate(raw_targets))
    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _error(origin, "targets", f"duplicate name(s) {duplicates}")
    if not any(t.weight > 0 for t in targets):
        raise _error(origin, "targets", "every weight is 0: nothing to fit")
    constants = data.get("constants")
    if constants is not None:
        if not isinstance(constants, list) or not constants:
            raise _error(origin, "constants", "must be a non-empty list of constant names or {name, per_task} entries")
        constants = tuple(constants)
    return TargetsFile(name=str(data.get("name", Path(origin).stem)), path=origin, settings=settings,
                       targets=targets, constants=constants, description=str(data.get("description", "")))


def load_targets(path: str | Path) -> TargetsFile:
    """Reads and validates a targets YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"targets file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"targets file {str(path)!r} is not valid YAML: {exc}") from None
    return parse_targets(data, str(path))
