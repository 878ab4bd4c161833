"""The experiment engine: methods x configs x seeds as compiled, sharded programs.

A sweep file names the methods (:mod:`semjax.experiments.methods`), a base config, the configs
to run (``grid``, ``zip``), evaluation-only worlds (``evaluate_under``), exclusions, seeds and
chunking; ``docs/sweeps.md`` documents every key. :func:`load_sweep` checks it all before
anything compiles; :func:`run_sweep` runs what is not yet on disk:

* Runs are grouped by what changes shapes or the program (the method, ``env``, the method's
  config section, ``eval``); ``params.*`` are traced, so a group is one compiled program,
  vmapped over its runs. N and K are not padded with agent masks: collisions and the
  centralised critic depend on which UEs exist, so a masked world would be another model.
* Each run trains from its key (:mod:`semjax.seeding`), then is tested under every evaluation
  world in the same program; a learned run's policy and curve are kept (``policies/``, keyed by
  what decides the training alone), so a later evaluation of the same run does not retrain.
* A group's runs are cut into equal chunks, each one program call written to ``parts/`` when it
  returns: a rerun resumes per run. The run axis lies on a mesh of every device ("runs"); a
  leftover factor shards each MAPPO run's env batch ("envs"). Under ``jax.distributed`` every
  process runs the same chunks on its own shards; process 0 decides what is pending and writes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from omegaconf import DictConfig, OmegaConf

from semjax.config import build_env, load_config, versions
from semjax.evaluation import METRICS, rollout, summarize
from semjax.experiments import stats
from semjax.experiments.methods import MAPPO, METHODS, Method, get_method, settings
from semjax.experiments.store import load_tree, read_csv, save_tree, to_float, write_csv, write_text
from semjax.params import EnvParams
from semjax.seeding import eval_key_from, train_key

log = logging.getLogger("semjax.experiments")

DEFAULT_SEEDS = 1
DEFAULT_CHUNK_SIZE = 64
DEFAULT_PLOT_METRICS = ("qoe", "reward")


def _method_names(learned: bool) -> str:
    return ", ".join(f"`{name}`" for name, m in METHODS.items() if m.learned is learned)


#: Every key of a sweep file with what it says and its default. docs/sweeps.md's schema table
#: is rendered from this, and :func:`load_sweep` accepts these keys only.
SWEEP_SCHEMA: dict[str, tuple[str, str]] = {
    "name": ("the sweep's name (tables, plots, the default `--out runs/sweeps/NAME`)", "the file's stem"),
    "extends": ("another sweep file this one is merged onto (relative to this file): a quick budget of a full "
                "sweep, say", "none"),
    "method": (f"a method name, or a list of them: {_method_names(True)} (learned: trained, then evaluated) and "
               f"{_method_names(False)} (fixed: evaluated)", "the base config's `method`"),
    "policy": ("`{run: DIR}`: evaluate the policy of a `semjax train` run instead of a method (the run's config is "
               "the base; only `params.*` and `eval.*` may vary)", "none"),
    "base_config": ("a semjax config file (relative to the sweep file, else to the working directory)",
                    "the built-in defaults"),
    "base": ("config values merged onto it (any semjax config key)", "none"),
    "grid": ("dotted config keys, each with a list of values: the Cartesian product is swept", "none"),
    "zip": ("dotted config keys with lists of one length, walked together (one more axis of the product); an "
            "optional `_label` list names the entries", "none"),
    "evaluate_under": ("named blocks of evaluation-only worlds: each block a `grid` and/or `zip` of `params.*` keys "
                       "applied on top of each run's own params; an empty block (`own: {}`) is the run's own world",
                       "the run's own world"),
    "exclude": ("a list of partial matches of runs to leave out, by `method`, `label` or any config key: "
                "`[{method: oracle, env.num_ues: 6}]`", "none"),
    "seeds": ("a count (from the base config's `seed` on) or a list of seeds", str(DEFAULT_SEEDS)),
    "chunk_size": ("runs per program call: the unit of resume and of the progress bar", str(DEFAULT_CHUNK_SIZE)),
    "plot": ("`metrics` (any evaluation metric, `train_reward_last`, `train_qoe_last`) and `x` (a swept key, or "
             "`under.KEY` of an evaluation block)", f"`[{', '.join(DEFAULT_PLOT_METRICS)}]`, the first swept key"),
}
SWEEP_KEYS = tuple(SWEEP_SCHEMA)
SWEPT_SECTIONS = ("params", "env", "train", "d3qn", "oracle", "eval")
TRAIN_METRICS = ("train_reward_last", "train_qoe_last")
LABEL = "_label"
UNDER = "under"  # the column naming a run's evaluation block; its keys' columns are "under.KEY"


class TimeLimitReached(Exception):
    """The time limit ran out before a program started; every finished run is on disk."""

    def __init__(self, what: str):
        super().__init__(f"time limit reached before {what}; rerun the same command to resume")


# ----------------------------------------------------------------------------- the sweep file


@dataclass(frozen=True)
class Point:
    """One evaluation world of a run: ``values`` (``params.*`` overrides, and ``label``) in ``block``."""

    block: str
    values: dict


@dataclass
class Run:
    """One (method, config, seed) of a sweep, resolved and identified."""

    method: Method
    config_index: int
    seed: int
    axes: dict[str, Any]  # swept key -> value ("label" for a labelled zip)
    cfg: DictConfig
    train_id: str | None = None  # what decides the training alone (None: nothing to train)
    run_id: str = ""  # the training and the evaluation
    group: str = ""


@dataclass
class Sweep:
    name: str
    methods: list[str]
    base: DictConfig
    axes: list[dict[str, list]]  # one dict per axis: key -> values (a zip axis has several keys)
    points: list[Point]
    exclude: list[dict]
    seeds: list[int]
    chunk_size: int
    plot: dict
    policy_run: str | None = None
    source: dict = field(repr=False, default_factory=dict)

    @property
    def axis_columns(self) -> list[str]:
        return [("label" if k == LABEL else k) for axis in self.axes for k in axis]

    @property
    def under_columns(self) -> list[str]:
        if not (self.points and self.points[0].block):
            return []
        keys = _unique(("label" if k == LABEL else k) for p in self.points for k in p.values)
        return [UNDER] + [f"{UNDER}.{k}" for k in keys]

    def columns(self) -> list[str]:
        return (["sweep", "method", "config", "seed", "run_id"] + self.axis_columns + self.under_columns
                + ["task", "metric", "value"])

    def configs(self) -> list[tuple[dict[str, Any], DictConfig]]:
        """Every config of the product of the axes: (axis values, resolved config)."""
        out = []
        for values in _expand(self.axes):
            overrides = {k: v for k, v in values.items() if k != LABEL}
            cfg = _with(self.base, overrides, "sweep")
            out.append(({("label" if k == LABEL else k): v for k, v in values.items()}, cfg))
        return out

    def runs(self) -> list[Run]:
        runs = []
        for name in self.methods:
            method = get_method(name)
            for i, (values, cfg) in enumerate(self.configs()):
                cfg = _with(cfg, {"method": name}, "sweep")
                if _excluded(self.exclude, name, values, cfg):
                    continue
                for seed in self.seeds:
                    run = Run(method, i, seed, values, cfg)
                    identity = settings(cfg, method)
                    if method.learned:
                        run.train_id = _hash({"train": identity, "seed": seed})
                    run.run_id = _hash({"run": identity, "seed": seed, "policy_run": self.policy_run,
                                        "eval": OmegaConf.to_container(cfg.eval, resolve=True),
                                        "under": [[p.block, p.values] for p in self.points]})
                    # What changes shapes or the program (params.* are traced): one compilation each.
                    static = {k: v for k, v in identity.items() if k != "params"}
                    run.group = json.dumps(static | {"eval": OmegaConf.to_container(cfg.eval, resolve=True)},
                                           sort_keys=True)
                    runs.append(run)
        return runs


def _hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _expand(axes: list[dict[str, list]]) -> list[dict[str, Any]]:
    """The product over axes of each axis's entries (a zip axis walks its lists together)."""
    per_axis = [[{k: v[i] for k, v in axis.items()} for i in range(len(next(iter(axis.values()))))] for axis in axes]
    out = []
    for combo in itertools.product(*per_axis):
        values: dict[str, Any] = {}
        for part in combo:
            values |= part
        out.append(values)
    return out


def _yaml_value(v: Any) -> str:
    if v is None:
        return "null"
    return json.dumps(v) if isinstance(v, (list, dict, str)) else repr(v) if isinstance(v, float) else str(v)


def _with(cfg: DictConfig, overrides: dict[str, Any], where: str) -> DictConfig:
    if not overrides:
        return cfg.copy()
    try:
        return OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k}={_yaml_value(v)}" for k, v in overrides.items()]))
    except Exception as exc:  # noqa: BLE001 - OmegaConf raises its own hierarchy
        raise ValueError(f"{where}: cannot set {sorted(overrides)}: {exc}") from None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _excluded(exclude: list[dict], method: str, values: dict, cfg: DictConfig) -> bool:
    for entry in exclude:
        if all(_same(method, v) if k == "method" else _same(values.get("label"), v) if k == "label"
               else _same(OmegaConf.select(cfg, k), v) for k, v in entry.items()):
            return True
    return False


def _read_spec(path: Path, seen: tuple = ()) -> dict:
    """A sweep file as a dict, merged onto the file it ``extends`` (paths made absolute)."""
    if not path.is_file():
        raise ValueError(f"sweep file {str(path)!r} does not exist")
    if path.resolve() in seen:
        raise ValueError(f"sweep file {str(path)!r}: 'extends' loops back to itself")
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(spec, dict):
        raise ValueError(f"sweep file {str(path)!r} must be a mapping")
    base_config = spec.get("base_config")
    if isinstance(base_config, str) and not Path(base_config).is_absolute() and (path.parent / base_config).is_file():
        spec["base_config"] = str((path.parent / base_config).resolve())  # relative to its own file
    parent = spec.pop("extends", None)
    if parent is None:
        return spec
    if not isinstance(parent, str):
        raise ValueError(f"sweep key 'extends' must be a path to a sweep file (got {parent!r})")
    merged = OmegaConf.merge(_read_spec(path.parent / parent, seen + (path.resolve(),)), spec)
    return OmegaConf.to_container(merged, resolve=True)


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Reads and validates a sweep file; ``overrides`` are dotted keys of the sweep file
    (``seeds=2``, ``base.train.num_updates=10``, ``"method=[mappo,greedy]"``). Every error
    names the key and is raised before anything is compiled."""
    path = Path(path)
    spec = _read_spec(path)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value (e.g. seeds=2)")
    if overrides:
        spec = OmegaConf.to_container(OmegaConf.merge(spec, OmegaConf.from_dotlist(list(overrides))), resolve=True)
    unknown = sorted(set(spec) - set(SWEEP_KEYS))
    if "mode" in unknown:
        raise ValueError("sweep key 'mode' was replaced by 'method': name a learned method to train it, a fixed "
                         "one (e.g. greedy) to evaluate it, or policy: {run: DIR} to evaluate a trained run")
    if unknown:
        raise ValueError(f"sweep key(s) {unknown} unknown; accepted: {list(SWEEP_KEYS)}")

    policy_run = _check_policy(spec.get("policy"))
    base_path = spec.get("base_config")
    if policy_run is not None:
        if "method" in spec:
            raise ValueError("sweep keys 'method' and 'policy' exclude each other (the run's config names its method)")
        base_path = str(Path(policy_run) / "config.yaml")
    if base_path is not None and not (path.parent / str(base_path)).is_file() and not Path(base_path).is_file():
        raise ValueError(f"sweep key 'base_config': config file {str(base_path)!r} does not exist")
    if base_path is not None and not Path(base_path).is_absolute() and (path.parent / base_path).is_file():
        base_path = path.parent / base_path
    base = load_config(base_path)
    if spec.get("base") is not None:
        if not isinstance(spec["base"], dict):
            raise ValueError("sweep key 'base' must be a mapping (a semjax config)")
        base = _merge(base, spec["base"], "base")

    methods = spec.get("method", str(base.method))
    methods = [methods] if isinstance(methods, str) else methods
    if not isinstance(methods, list) or not methods or len(set(methods)) != len(methods):
        raise ValueError(f"sweep key 'method' must be a method name or a list of distinct names (got {methods!r})")
    for name in methods:
        try:
            get_method(name)
        except ValueError as exc:
            raise ValueError(f"sweep key 'method': {exc}") from None

    frozen = ("env", "train", "d3qn", "oracle") if policy_run is not None else ()
    axes = _axes(spec, base, "", frozen)
    sections = {get_method(name).config_section for name in methods}
    for key in (k for axis in axes for k in axis if k != LABEL):
        section = key.split(".", 1)[0]
        if section in ("train", "d3qn", "oracle") and section not in sections:
            raise ValueError(f"sweep key {key!r}: no method of this sweep reads {section}.* (methods: {methods})")
    points = []
    under = spec.get("evaluate_under") or {}
    if not isinstance(under, dict):
        raise ValueError("sweep key 'evaluate_under' must map block names to {grid: ..., zip: ...} of params.* keys")
    for block, body in under.items():
        body = body or {}
        if not isinstance(body, dict) or set(body) - {"grid", "zip"}:
            raise ValueError(f"sweep key 'evaluate_under.{block}' must be a mapping with 'grid' and/or 'zip'")
        block_axes = _axes(body, base, f"evaluate_under.{block}.", ("env", "train", "d3qn", "oracle", "eval"))
        points += [Point(str(block), values) for values in _expand(block_axes)]

    exclude = spec.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        raise ValueError("sweep key 'exclude' must be a list of non-empty mappings (e.g. {method: oracle, env.num_ues: 6})")
    for entry in exclude:
        for key in entry:
            if key not in ("method", "label") and OmegaConf.select(base, key, default="__missing__") == "__missing__":
                raise ValueError(f"sweep key 'exclude': {key!r} is not 'method', 'label' or a semjax config key")

    seeds = _check_seeds(spec.get("seeds", DEFAULT_SEEDS), int(base.seed))
    chunk_size = spec.get("chunk_size", DEFAULT_CHUNK_SIZE)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"sweep key 'chunk_size' must be an integer >= 1 (got {chunk_size!r})")
    plot = spec.get("plot") or {}
    if not isinstance(plot, dict) or set(plot) - {"metrics", "x"}:
        raise ValueError("sweep key 'plot' must be a mapping with 'metrics' (a list) and/or 'x' (a swept key)")
    metrics = plot.get("metrics", list(DEFAULT_PLOT_METRICS))
    bad = [m for m in metrics if m not in METRICS + TRAIN_METRICS]
    if bad:
        raise ValueError(f"sweep key 'plot.metrics': unknown metric(s) {bad}; accepted: {list(METRICS + TRAIN_METRICS)}")

    sweep = Sweep(name=str(spec.get("name", path.stem)), methods=methods, base=base, axes=axes, points=points,
                  exclude=exclude, seeds=seeds, chunk_size=chunk_size,
                  plot={"metrics": list(metrics), "x": plot.get("x")}, policy_run=policy_run, source=spec)
    plottable = sweep.axis_columns + [c for c in sweep.under_columns if c != UNDER]
    if sweep.plot["x"] is not None and sweep.plot["x"] not in plottable:
        raise ValueError(f"sweep key 'plot.x' must be one of the swept keys {plottable} (got {sweep.plot['x']!r})")
    if not points:
        sweep.points = [Point("", {})]
    _validate_configs(sweep)
    return sweep


def _validate_configs(sweep: Sweep) -> None:
    """Builds every config's env, params and method settings now, outside jit: errors name the key."""
    for values, cfg in sweep.configs():
        try:
            build_env(cfg)
            for name in sweep.methods:
                get_method(name).config(cfg)
            for point in sweep.points:
                _point_params(cfg, point)
        except ValueError as exc:
            raise ValueError(f"sweep config {values}: {exc}") from None
        if int(cfg.eval.episodes) < 1:
            raise ValueError(f"sweep config {values}: eval.episodes must be >= 1 (got {cfg.eval.episodes})")


def _axes(spec: dict, base: DictConfig, where: str, frozen: tuple[str, ...]) -> list[dict[str, list]]:
    axes: list[dict[str, list]] = []
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise ValueError(f"sweep key '{where}grid' must map dotted config keys to lists of values")
    for key, values in grid.items():
        _check_axis_key(base, f"{where}grid.{key}", key, frozen)
        axes.append({key: _check_values(f"{where}grid.{key}", values)})
    zipped = spec.get("zip") or {}
    if not isinstance(zipped, dict):
        raise ValueError(f"sweep key '{where}zip' must map dotted config keys to lists of equal length")
    if zipped:
        axis = {}
        for key, values in zipped.items():
            if key != LABEL:
                _check_axis_key(base, f"{where}zip.{key}", key, frozen)
            axis[key] = _check_values(f"{where}zip.{key}", values)
        lengths = {k: len(v) for k, v in axis.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"sweep key '{where}zip': every list must have the same length (got {lengths})")
        if set(axis) == {LABEL}:
            raise ValueError(f"sweep key '{where}zip' has only a _label list: add the keys it labels")
        axes.append(axis)
    duplicated = sorted(set(grid) & set(zipped))
    if duplicated:
        raise ValueError(f"sweep key(s) {duplicated} appear in both {where}grid and {where}zip")
    return axes


def _merge(base: DictConfig, part: dict, where: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, OmegaConf.create(part))
    except Exception as exc:  # noqa: BLE001 - OmegaConf raises its own hierarchy
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
        raise ValueError(f"sweep key '{where}.{key}': not a semjax config key ({exc})") from None


def _check_policy(policy: Any) -> str | None:
    if policy is None:
        return None
    if isinstance(policy, dict) and set(policy) == {"run"}:
        if not (Path(policy["run"]) / "checkpoint").is_dir():
            raise ValueError(f"sweep key 'policy.run': {policy['run']!r} is not a training run (no checkpoint/)")
        return str(policy["run"])
    if isinstance(policy, str) and policy in METHODS:
        raise ValueError(f"sweep key 'policy': write method: {policy} (policy: names only a trained run, {{run: DIR}})")
    raise ValueError(f"sweep key 'policy' must be {{run: DIR}}, a directory written by semjax train (got {policy!r})")


def _check_axis_key(base: DictConfig, where: str, key: str, frozen: tuple[str, ...]) -> None:
    section = key.split(".", 1)[0]
    if key == "method":
        raise ValueError(f"sweep key '{where}': methods have their own key (method: [a, b])")
    if section not in SWEPT_SECTIONS or "." not in key:
        raise ValueError(f"sweep key '{where}': only {', '.join(s + '.*' for s in SWEPT_SECTIONS)} can be swept "
                         "(methods and seeds have their own keys)")
    if OmegaConf.select(base, key, default="__missing__") == "__missing__":
        raise ValueError(f"sweep key '{where}': {key!r} is not a semjax config key")
    if section in frozen:
        raise ValueError(f"sweep key '{where}': {section}.* cannot be swept here (it must match "
                         + ("the trained policy's run)" if "eval" not in frozen else "the trained run: evaluate_under takes params.* only)"))


def _check_values(where: str, values: Any) -> list:
    if not isinstance(values, list) or not values:
        raise ValueError(f"sweep key '{where}' must be a non-empty list of values (got {values!r})")
    return values


def _check_seeds(seeds: Any, first: int) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list)):
        raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers (got {seeds!r})")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers (got {seeds!r})")
        return list(range(first, first + seeds))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers >= 0 (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"sweep key 'seeds' has repeated seeds (got {seeds!r})")
    return list(seeds)


def _point_params(cfg: DictConfig, point: Point) -> EnvParams:
    overrides = {k: v for k, v in point.values.items() if k != LABEL}
    return build_env(_with(cfg, overrides, f"evaluate_under.{point.block}"))[1]


# ----------------------------------------------------------------------------- the compiled program


def make_mesh(num_runs: int, num_envs: int, devices=None) -> Mesh:
    """A ("runs", "envs") mesh over ``devices`` (default: all).

    Runs take as many devices as they can fill; a leftover factor shards each run's env batch
    when it divides ``num_envs`` (otherwise every device goes to runs and the chunk is padded).
    """
    devices = list(jax.devices() if devices is None else devices)
    d = len(devices)
    d_runs = d
    if num_runs < d:
        d_runs = max(k for k in range(1, num_runs + 1) if d % k == 0)
        if num_envs % (d // d_runs):
            d_runs = d
    return Mesh(np.array(devices).reshape(d_runs, d // d_runs), ("runs", "envs"))


def stack(trees: list) -> Any:
    """One pytree whose leaves carry a leading axis over ``trees`` (NumPy; float leaves float32).

    ``EnvParams`` rebuilt this way skip validation (JAX's rebuild), so validate the members first.
    """
    def leaf(*xs):
        x = np.stack([np.asarray(v) for v in xs])
        return x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x

    return jax.tree.map(leaf, *trees)


def _shard_mappo_envs(mesh: Mesh):
    """Shards the env axis of a MAPPO runner's batched parts over the mesh's "envs" axis."""
    if mesh.shape["envs"] == 1:
        return None

    def on_envs(x, axis):
        return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(*([None] * axis + ["envs"]))))

    def shard(runner):
        return runner.replace(
            env_state=jax.tree.map(lambda x: on_envs(x, 0), runner.env_state),
            obs=on_envs(runner.obs, 0),
            starts=on_envs(runner.starts, 0),
            actor_carry=on_envs(runner.actor_carry, 1),
            critic_carry=on_envs(runner.critic_carry, 1),
        )

    return shard


def make_program(method: Method, config, env, episodes: int, mesh: Mesh, train: bool, progress=None):
    """The jitted ``program(seeds, params, points, policy) -> results`` of one group, vmapped over runs.

    Per run: ``seeds`` () uint32, ``params`` the training world, ``points`` the evaluation
    worlds stacked on a leading axis, ``policy`` the policy parameters (None when ``train``,
    or for a fixed method). With ``train`` each run trains from its key first. Results (dicts
    of arrays with a leading run axis): ``overall`` and ``per_task`` metrics with an axis over
    points, and when training ``policy`` and ``curve`` (per update).
    """
    shard = _shard_mappo_envs(mesh) if train and method.algorithm is MAPPO else None

    def one(seed, params, points, policy_params):
        key = train_key(seed)
        out = {}
        if train:
            policy_params, curve = method.train(config, env, params, key, progress=progress, shard=shard)
            out["policy"], out["curve"] = policy_params, curve
        act, carry = method.policy(config, env, policy_params)
        test_key = eval_key_from(key)

        def evaluate(p):
            return summarize(env, p, rollout(env, p, act, test_key, episodes, carry))

        out["overall"], out["per_task"] = jax.lax.map(evaluate, points)
        return out

    runs = NamedSharding(mesh, P("runs"))
    return jax.jit(jax.vmap(one, spmd_axis_name="runs"), in_shardings=runs, out_shardings=runs)


def _global_array(x, sharding: NamedSharding) -> jax.Array:
    """The whole array ``x`` (the same on every process) laid out by ``sharding``.

    Each process fills only the shards of its own devices: ``jax.device_put`` onto a mesh
    that spans several processes is refused (the other hosts' devices are not addressable).
    """
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def run_chunk(program, mesh: Mesh, seeds: list[int], params: list, points: list[list], policy=None,
              timings: dict | None = None) -> dict:
    """Runs one chunk: pads to a multiple of the mesh's run axis, shards, compiles, runs, unpads.

    ``params`` is a list of EnvParams (one per run), ``points`` a list (per run) of lists of
    EnvParams, ``policy`` a list of policy parameter trees or None. ``timings`` receives
    ``compile_s`` and ``run_s``.
    """
    n = len(seeds)
    pad = (-n) % mesh.shape["runs"]
    fill = lambda xs: list(xs) + [xs[-1]] * pad  # noqa: E731
    sharding = NamedSharding(mesh, P("runs"))
    put = lambda tree: jax.tree.map(lambda x: _global_array(x, sharding), tree)  # noqa: E731
    args = (put(np.asarray(fill(seeds), np.uint32)), put(stack(fill(params))),
            put(stack([stack(p) for p in fill(points)])), None if policy is None else put(stack(fill(policy))))
    start = time.perf_counter()
    compiled = program.lower(*args).compile()
    compiled_at = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    if jax.process_count() > 1:  # every process gets the whole chunk's results
        from jax.experimental import multihost_utils

        out = multihost_utils.process_allgather(out, tiled=True)
    out = jax.tree.map(lambda x: np.asarray(x)[:n], jax.device_get(out))
    if timings is not None:
        timings.update(compile_s=compiled_at - start, run_s=time.perf_counter() - compiled_at)
    return out


# ----------------------------------------------------------------------------- running a sweep


class _UpdatesBar:
    """A tqdm bar of training updates, fed from inside the compiled loop (terminals only).

    Under vmap and sharding the callback may run once per run or device: it shows the furthest.
    """

    def __init__(self, desc: str, total: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="upd", leave=False, dynamic_ncols=True)

    def __call__(self, update, metrics):
        self.bar.n = max(self.bar.n, int(np.max(np.asarray(update))))
        self.bar.set_postfix(reward=f"{float(np.mean(np.asarray(metrics['reward']))):.3f}", refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()


def check_versions(folder: Path, current: dict[str, Any]) -> None:
    """Refuses to add to ``folder`` when its ``versions.json`` names other versions or XLA settings.

    Run ids cover the configs, not the software or XLA's CPU settings, which change the numbers
    too (:func:`semjax.config.versions`): a resume under others would mix two runs.
    """
    path = folder / "versions.json"
    if not path.is_file():
        return
    old, now = json.loads(path.read_text()), dict(current)
    old.pop("date", None), now.pop("date", None)
    if old != now:
        diff = sorted(k for k in set(old) | set(now) if old.get(k) != now.get(k))
        shown = "; ".join(f"{k}: {old.get(k)!r} there, {now.get(k)!r} here" for k in diff[:4])
        raise ValueError(f"{str(folder)!r} holds runs made under other versions or XLA settings (differing keys "
                         f"{diff}: {shown}); resume with the same ones, or choose another output folder")


def _agree(status: np.ndarray) -> np.ndarray:
    """Process 0's view of what is pending, on every process (a no-op in one process)."""
    if jax.process_count() == 1:
        return status
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(status))


def read_table(path: str | Path) -> list[dict]:
    """Rows of a results CSV: ``value`` as a float (NaN when empty), ``seed`` and ``config`` as ints."""
    rows = read_csv(path)
    for r in rows:
        r["value"] = to_float(r["value"])
        r["seed"], r["config"] = int(r["seed"]), int(r["config"])
    return rows


def _finished(parts: Path) -> dict[str, list[dict]]:
    done: dict[str, list[dict]] = {}
    for part in sorted(parts.glob("part-*.csv")):
        for row in read_table(part):
            done.setdefault(row["run_id"], []).append(row)
    return done


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, (list, dict)) else v


def _rows(sweep: Sweep, run: Run, names: tuple[str, ...], out: dict, i: int) -> list[dict]:
    base = {"sweep": sweep.name, "method": run.method.name, "config": run.config_index, "seed": run.seed,
            "run_id": run.run_id} | {c: _cell(run.axes.get(c)) for c in sweep.axis_columns}
    rows = []
    for x, point in enumerate(sweep.points):
        at = dict(base)
        if point.block:
            at[UNDER] = point.block
            at |= {f"{UNDER}.{'label' if k == LABEL else k}": _cell(v) for k, v in point.values.items()}
        for m in METRICS:
            rows.append(at | {"task": "all", "metric": m, "value": float(out["overall"][m][i, x])})
        for t, name in enumerate(names):
            for m in METRICS:
                rows.append(at | {"task": name, "metric": m, "value": float(out["per_task"][t][m][i, x])})
    if "curve" in out:
        for m, src in zip(TRAIN_METRICS, ("reward", "qoe")):
            curve = out["curve"][src][i]
            tail = curve[-max(1, len(curve) // 10):]  # the last 10 % of updates
            rows.append(base | {"task": "all", "metric": m, "value": float(np.mean(tail))})
    return rows


def policy_path(store: Path, train_id: str) -> Path:
    return store / f"{train_id}.msgpack"


def load_kept(store: Path, train_id: str) -> dict:
    """A kept training: ``{"method", "policy", "curve"}`` (nested dicts of arrays)."""
    return load_tree(policy_path(store, train_id))


def _policy_of_run(run_dir: str, method: Method, config, env, params):
    from semjax.checkpoint import load_checkpoint

    runner, _ = load_checkpoint(Path(run_dir) / "checkpoint", method, config, env, params)
    return method.algorithm.policy_params(runner)


def _machine() -> str:
    from semjax.config import cpu_name

    return f"{cpu_name()} ({platform.node()})"


def _record_program(out: Path, row: dict) -> None:
    path = out / "programs.csv"
    rows = read_csv(path) if path.is_file() else []
    columns = ["group", "kind", "runs", "configs", "compile_s", "run_s", "devices", "machine", "finished"]
    write_csv(path, columns, rows + [row])


def _label(method: Method, cfg: DictConfig) -> str:
    e = cfg.env
    return f"{method.name} N={e.num_ues} K={e.num_channels} Q={e.queue_len}"


def run_sweep(sweep: Sweep, out: str | Path, store: str | Path | None = None, devices=None,
              progress: bool | None = None, stop_at: float | None = None) -> dict[str, Any]:
    """Runs every unfinished run of ``sweep`` into ``out``; returns a summary dict.

    ``store`` is the folder of kept policies (default ``out/policies``; sweeps that share one
    reuse each other's trainings). ``stop_at`` (a ``time.monotonic()`` deadline) starts no
    program after it and raises :class:`TimeLimitReached`. Writes what the module doc lists.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    parts = out / "parts"
    store = Path(store) if store is not None else out / "policies"
    writer = jax.process_index() == 0  # several processes: process 0 alone writes (a shared folder)
    runs = sweep.runs()
    done = _finished(parts) if parts.is_dir() else {}
    current = versions()
    if done:
        check_versions(out, current)
    kept_here = store.is_dir() and any(store.glob("*.msgpack"))
    if kept_here:
        check_versions(store, current)
    if writer:
        parts.mkdir(parents=True, exist_ok=True)
        store.mkdir(parents=True, exist_ok=True)
        write_text(out / "sweep.yaml", OmegaConf.to_yaml(OmegaConf.create(
            sweep.source | {"base": OmegaConf.to_container(sweep.base, resolve=True), "seeds": sweep.seeds})))
        write_text(out / "versions.json", json.dumps(current, indent=2))
        if not (store / "versions.json").is_file():
            write_text(store / "versions.json", json.dumps(current, indent=2))

    # 0: done; 1: train and evaluate; 2: evaluate a kept policy; 3: evaluate (fixed method or a trained run)
    status = np.asarray([0 if r.run_id in done else 1 if r.method.learned and sweep.policy_run is None
                         and not policy_path(store, r.train_id).is_file() else 2 if r.method.learned
                         and sweep.policy_run is None else 3 for r in runs], np.int32)
    status = _agree(status)
    groups: dict[tuple[str, bool], list[Run]] = {}
    queued: set[str] = set()
    for r, s in zip(runs, status):
        # Configs that differ only in a section this method does not read are one run: run it once.
        if s and r.run_id not in queued:
            queued.add(r.run_id)
            groups.setdefault((r.group, bool(s == 1)), []).append(r)

    enabled = sys.stderr.isatty() if progress is None else progress
    pending = len(queued)
    total = len({r.run_id for r in runs})
    bar = tqdm(total=total, initial=total - pending, unit="run", desc=sweep.name, disable=not enabled)
    columns = sweep.columns()
    names_cache: dict[str, tuple[str, ...]] = {}
    start = time.perf_counter()
    for (_, train), group_runs in groups.items():
        method, cfg = group_runs[0].method, group_runs[0].cfg
        env, _ = build_env(cfg)
        config = method.config(cfg)
        names = names_cache.setdefault(group_runs[0].group, env.profile.names
                                       or tuple(f"type{m}" for m in range(env.num_task_types)))
        n_chunks = math.ceil(len(group_runs) / sweep.chunk_size)
        size = math.ceil(len(group_runs) / n_chunks)
        num_envs = config.num_envs if train and method.algorithm is MAPPO else 1
        mesh = make_mesh(size, num_envs, devices)
        size = math.ceil(size / mesh.shape["runs"]) * mesh.shape["runs"]
        updates = _UpdatesBar(_label(method, cfg), config.num_updates) if train and enabled else None
        program = make_program(method, config, env, int(cfg.eval.episodes), mesh, train, progress=updates)
        fixed_policy = None
        if sweep.policy_run is not None:
            fixed_policy = _policy_of_run(sweep.policy_run, method, config, env, build_env(cfg)[1])
        for c in range(0, len(group_runs), size):
            chunk = group_runs[c:c + size]
            what = f"{_label(method, cfg)}: {'train and evaluate' if train else 'evaluate'} {len(chunk)} runs"
            if stop_at is not None and time.monotonic() >= stop_at:
                bar.close()
                raise TimeLimitReached(what)
            log.info("%s: started", what)
            params = [build_env(r.cfg)[1] for r in chunk]
            points = [[_point_params(r.cfg, p) for p in sweep.points] for r in chunk]
            policy = None
            if not train and method.learned:
                policy = ([fixed_policy] * len(chunk) if fixed_policy is not None
                          else [load_kept(store, r.train_id)["policy"] for r in chunk])
            filler = size - len(chunk)  # same-sized chunks reuse one compilation
            timings: dict[str, float] = {}
            result = run_chunk(program, mesh, [r.seed for r in chunk] + [chunk[-1].seed] * filler,
                               params + [params[-1]] * filler, points + [points[-1]] * filler,
                               None if policy is None else policy + [policy[-1]] * filler, timings)
            rows = [row for i, r in enumerate(chunk) for row in _rows(sweep, r, names, result, i)]
            if writer:
                if train:
                    for i, r in enumerate(chunk):
                        save_tree(policy_path(store, r.train_id), {
                            "method": r.method.name,
                            "policy": jax.tree.map(lambda x: x[i], result["policy"]),
                            "curve": {k: v[i] for k, v in result["curve"].items()}})
                write_csv(parts / f"part-{chunk[0].run_id}-{len(chunk)}.csv", columns, rows)
                _record_program(out, {"group": _label(method, cfg), "kind": "train" if train else "evaluate",
                                      "runs": len(chunk),
                                      "configs": " ".join(str(i) for i in dict.fromkeys(r.config_index for r in chunk)),
                                      "compile_s": f"{timings['compile_s']:.1f}",
                                      "run_s": f"{timings['run_s']:.1f}", "devices": int(mesh.devices.size),
                                      "machine": _machine(),
                                      "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            for run_id, row_group in itertools.groupby(rows, key=lambda row: row["run_id"]):
                done[run_id] = list(row_group)
            log.info("%s: %.0f s (compile %.0f s)", what, timings["compile_s"] + timings["run_s"], timings["compile_s"])
            bar.update(len(chunk))
        if updates is not None:
            updates.close()
    bar.close()
    seconds = time.perf_counter() - start

    table = []
    for r in runs:  # rows read back from a part hold strings: take the typed values from the run
        for row in done[r.run_id]:
            table.append(row | {"sweep": sweep.name, "method": r.method.name, "config": r.config_index, "seed": r.seed}
                         | {c: _cell(r.axes.get(c)) for c in sweep.axis_columns})
    summary = summarize_table(sweep, table)
    plots = []
    if writer:
        write_csv(out / "results.csv", columns, table)
        write_csv(out / "summary.csv", list(summary[0]) if summary else ["config"], summary)
        plots = plot_sweep(sweep, summary, out / "plots")
    info = {"runs": len(runs), "ran": pending, "configs": len(sweep.configs()), "methods": len(sweep.methods),
            "seeds": len(sweep.seeds), "seconds": seconds, "groups": len(groups),
            "devices": len(jax.devices() if devices is None else devices),
            "results": str(out / "results.csv"), "summary": str(out / "summary.csv"),
            "plots": [str(p) for p in plots]}
    if writer:
        write_text(out / "sweep_info.json", json.dumps(info, indent=2))
    return info


# ----------------------------------------------------------------------------- summaries and plots


def _key_columns(sweep: Sweep) -> list[str]:
    return sweep.axis_columns + sweep.under_columns


def summarize_table(sweep: Sweep, table: list[dict]) -> list[dict]:
    """One row per method x config x evaluation point x task x metric: mean and 95 % interval over seeds."""
    keys = _key_columns(sweep)
    groups: dict[tuple, list[dict]] = {}
    for row in table:
        groups.setdefault((row["method"], row["config"], row.get(UNDER, ""),
                           json.dumps([row.get(k) for k in keys]), row["task"], row["metric"]), []).append(row)
    summary = []
    for (method, config, _, _, task, metric), rows in groups.items():
        m, lo, hi = stats.mean_ci([r["value"] for r in rows])
        summary.append({"method": method, "config": config} | {c: rows[0].get(c, "") for c in keys}
                       | {"task": task, "metric": metric, "mean": m, "ci95_low": lo, "ci95_high": hi, "n": len(rows)})
    return summary


def plot_sweep(sweep: Sweep, summary: list[dict], out: Path) -> list[Path]:
    """One figure per metric: x = ``plot.x`` (or the first swept key), one line per method and
    value of the other keys but the last, one panel per value of the last when there are three
    or more; mean over seeds with its 95 % interval as a band. Evaluation blocks are plotted
    when ``plot.x`` is one of their keys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key = sweep.plot["x"]
    axes = [("label" if LABEL in axis else next(iter(axis))) for axis in sweep.axes]
    if x_key is None:
        if not axes:
            return []
        x_key = axes[0]
    rows = [r for r in summary if r["task"] == "all"]
    if x_key.startswith(f"{UNDER}."):
        rows = [r for r in rows if r.get(x_key) not in ("", None)]
    elif sweep.under_columns:
        first = sweep.points[0].block
        rows = [r for r in rows if r.get(UNDER) in (first, "")]
    others = [a for a in axes if a != x_key]
    panel_key = others[-1] if len(others) >= 2 else None
    line_keys = (["method"] if len(sweep.methods) > 1 else []) + [a for a in others if a != panel_key]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric in sweep.plot["metrics"]:
        mrows = [r for r in rows if r["metric"] == metric]
        if not mrows:
            continue
        panels = _unique(r[panel_key] for r in mrows) if panel_key else [None]
        fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False, sharey=True)
        for ax, panel in zip(axs[0], panels):
            sub = [r for r in mrows if panel_key is None or r[panel_key] == panel]
            for line in _unique(tuple(r[k] for k in line_keys) for r in sub):
                pts = [r for r in sub if tuple(r[k] for k in line_keys) == line]
                xs = [_number(r[x_key]) for r in pts]
                numeric = all(isinstance(v, (int, float)) for v in xs)
                pos = xs if numeric else list(range(len(xs)))
                label = ", ".join(f"{k.split('.')[-1]}={v}" if k != "method" else str(v)
                                  for k, v in zip(line_keys, line)) or metric
                ax.plot(pos, [r["mean"] for r in pts], marker="o", label=label)
                ax.fill_between(pos, [r["ci95_low"] for r in pts], [r["ci95_high"] for r in pts], alpha=0.2)
                if not numeric:
                    ax.set_xticks(pos, [str(v) for v in xs])
            ax.set_xlabel(x_key)
            if panel_key is not None:
                ax.set_title(f"{panel_key.split('.')[-1]} = {panel}")
            ax.grid(alpha=0.3)
        axs[0][0].set_ylabel(f"{metric} (mean, 95 % CI over {len(sweep.seeds)} seeds)")
        if line_keys:
            axs[0][-1].legend(fontsize=7)
        fig.suptitle(f"{sweep.name}: {metric}")
        fig.tight_layout()
        path = out / f"{metric}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _number(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _unique(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen
