"""Configs: YAML files plus dotted ``key=value`` overrides, merged with OmegaConf.

The schema is the default config below; a key it does not have is an error naming the key,
and the world's values are validated by ``EnvParams`` (errors name the field).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from semjax.env import SemanticMEC
from semjax.params import EnvParams

_PARAM_FIELDS = tuple(
    f.name for f in dataclasses.fields(EnvParams) if f.name not in ("profile", "task_mix", "_validated")
)


def _default_params() -> dict[str, Any]:
    defaults = EnvParams()
    return {name: float(getattr(defaults, name)) for name in _PARAM_FIELDS} | {"task_mix": None}


#: The keys of the learners' config sections that the method decides (``method=mappo_unaware``
#: rather than ``train.semantic=false``), so that one name says which variant a run is.
METHOD_KEYS = {"train": ("action_space", "semantic"), "d3qn": ("semantic",)}


def _section(config_cls, section: str) -> dict[str, Any]:
    values = dataclasses.asdict(config_cls())
    return {k: v for k, v in values.items() if k not in METHOD_KEYS.get(section, ())}


def default_config() -> DictConfig:
    """The schema, with the paper's defaults (SPEC section 4).

    ``method`` names a method of :mod:`semjax.experiments.methods`; ``train`` is MAPPO's
    section, ``d3qn`` D3QN's, ``oracle`` the per-step oracle's search effort. A method reads
    only its own section, so a run's identity leaves the others out.
    """
    from semjax.agents.d3qn import D3QNConfig
    from semjax.agents.mappo import MAPPOConfig
    from semjax.agents.oracle import OracleConfig

    cfg = OmegaConf.create(
        {
            "seed": 0,
            "method": "mappo",
            "env": {"num_ues": 4, "num_channels": 4, "queue_len": 20, "profile": "paper"},
            "params": _default_params(),
            "eval": {"episodes": 200},
            "train": _section(MAPPOConfig, "train"),
            "d3qn": _section(D3QNConfig, "d3qn"),
            "oracle": _section(OracleConfig, "oracle"),
            "checkpoint_every": 100,
        }
    )
    OmegaConf.set_struct(cfg, True)
    return cfg


def _hint(key: str | None) -> str:
    """What to write instead of a key the method now decides."""
    section, _, name = (key or "").partition(".")
    if name not in METHOD_KEYS.get(section, ()):
        return ""
    instead = {("train", "semantic"): "method=mappo_unaware (or method=mappo)",
               ("train", "action_space"): "method=mappo_discrete (or method=mappo for the hybrid head)",
               ("d3qn", "semantic"): "method=d3qn_unaware (or method=d3qn)"}[section, name]
    return f" ({key} is decided by the method: write {instead})"


def _read(path: Path, seen: tuple = ()) -> DictConfig:
    """A config file, merged onto the file its ``extends`` key names (relative to it)."""
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    if path.resolve() in seen:
        raise ValueError(f"config file {str(path)!r}: 'extends' loops back to itself")
    values = OmegaConf.load(path)
    parent = values.pop("extends", None) if isinstance(values, DictConfig) else None
    if parent is None:
        return values
    return OmegaConf.merge(_read(path.parent / str(parent), seen + (path.resolve(),)), values)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The default config, merged with the YAML file at ``path`` (and the file it ``extends``,
    if any), then the overrides."""
    cfg = default_config()
    try:
        if path is not None:
            cfg = OmegaConf.merge(cfg, _read(Path(path)))
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"override {item!r} must look like key=value (e.g. params.bandwidth=5e6)")
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
        raise ValueError(f"config key {key!r}: {exc.msg if hasattr(exc, 'msg') else exc}{_hint(key)}") from None
    return cfg


def _number(key: str, value: Any, kind: type) -> Any:
    """``value`` as an int or float, or a ValueError naming the config key."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"config key {key!r} must be a number (got {value!r})")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"config key {key!r} must be a number (got {value!r})") from None
    if kind is int:
        if not number.is_integer():
            raise ValueError(f"config key {key!r} must be an integer (got {value!r})")
        return int(number)
    return number


def build_env(cfg: DictConfig) -> tuple[SemanticMEC, EnvParams]:
    """The env and its validated params from a config."""
    e = cfg.env
    sizes = {k: _number(f"env.{k}", e[k], int) for k in ("num_ues", "num_channels", "queue_len")}
    env = SemanticMEC(**sizes, profile=str(e.profile))
    values = OmegaConf.to_container(cfg.params, resolve=True)
    kwargs = {k: _number(f"params.{k}", v, float) for k, v in values.items() if k != "task_mix"}
    if values.get("task_mix") is not None:
        mix = values["task_mix"]
        if not isinstance(mix, (list, tuple)):
            raise ValueError(f"config key 'params.task_mix' must be a list of numbers (got {mix!r})")
        kwargs["task_mix"] = [_number("params.task_mix", x, float) for x in mix]
    try:
        params = EnvParams(profile=env.profile, **kwargs)
    except ValueError as exc:
        raise ValueError(f"config params: {exc}") from None
    return env, params


# optax (updates), distrax and the TensorFlow Probability it builds on (log-probs, entropies),
# chex, and flashbax (D3QN's replay sampling).
LEARNER_LIBRARIES = ("optax", "distrax", "tensorflow-probability", "tfp-nightly", "chex", "flashbax")


def _installed(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions of everything a result depends on, the CPU's settings included.

    XLA's CPU thread-pool size changes the numbers: the same 3-seed MAPPO program gave other
    weights after 20 updates with ``NPROC=16`` than with the 2-core default (team reward
    1.5338 against 1.5319), while ``XLA_FLAGS``' scheduler choice left them bit-identical.
    A seed reproduces its numbers on the same CPU with the same XLA settings.
    """
    import flax
    import jax
    import jaxlib
    import numpy

    import semjax

    return {
        "semjax": semjax.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "numpy": numpy.__version__,
        # the libraries of the learners' updates and distributions decide the numbers too
        **{name: _installed(name) for name in LEARNER_LIBRARIES},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "devices": ", ".join(str(d) for d in jax.devices()),
        "cpu": cpu_name(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # what XLA sizes its CPU pool by: NPROC if set, else the cores this process may use
        "xla_cpu_threads": os.environ.get("NPROC") or str(len(os.sched_getaffinity(0))
                                                          if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
