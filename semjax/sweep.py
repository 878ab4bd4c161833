"""Sweeps: many configs x seeds trained and evaluated as one compiled, sharded program.

A sweep file (YAML, see ``configs/sweeps/``) names a ``base`` config (a normal semjax config;
``base_config`` may name a YAML file it is merged onto), the values to sweep (``grid``: the
Cartesian product of its keys; ``zip``: lists walked together, one more axis of the product,
with an optional ``_label`` list naming its entries), ``seeds`` (a count or a list), the
budgets (``base.train.num_updates``, ``base.eval.episodes``), ``mode`` (``train``: train and
evaluate each run; ``evaluate``: a fixed policy under many worlds) and ``chunk_size``.

How the runs are compiled:

* ``params.*`` keys are traced: their configs are stacked into one batched ``EnvParams`` and
  ``jax.vmap``-ped inside one jitted train-and-evaluate program.
* ``env.*``, ``train.*`` and ``eval.*`` keys change shapes or the program itself: runs are
  grouped by their values and each group compiles once. We loop over compilations rather than
  pad N or K with agent masks: masking would change the physics (collisions count the UEs on a
  sub-channel) and the network inputs, so padded and unpadded worlds would not be the same
  model.
* A group's (config x seed) runs are cut into equal chunks (the last one padded by repeating
  a run, dropped afterwards); every chunk is one call of the same compiled program, written to
  disk when done, so a rerun skips finished runs (resume) and a progress bar counts them.

Sharding: the run axis is placed on a ``jax.sharding.Mesh`` of all devices ("runs"); when a
chunk has fewer runs than devices, the remaining factor of the mesh ("envs") shards the env
batch inside training (a sharding constraint on the runner's env axes, with
``vmap(spmd_axis_name="runs")`` so both axes are named). The same code runs on one CPU, one
GPU or several devices; XLA inserts the collectives.

Every run uses ``jax.random.key(seed)`` for training and ``fold_in(key(seed), 0x7E57)`` for
its test episodes, exactly as ``semjax train`` does, so a run does not depend on the configs
it was batched with, and all configs share common random numbers.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from omegaconf import DictConfig, OmegaConf

from semjax.config import build_env, load_config, train_config, versions
from semjax.evaluation import METRICS, rollout, summarize
from semjax.host import prepare_host  # noqa: F401 - re-exported: the sweep's host setup
from semjax.run_cache import describe_differences

SWEEP_KEYS = ("name", "mode", "base_config", "base", "grid", "zip", "seeds", "chunk_size", "policy", "plot")
TRACED_SECTION = "params"
STATIC_SECTIONS = ("env", "train", "eval")
EVAL_KEY_SALT = 0x7E57  # the test-episode key of training.evaluate_policy
TRAIN_METRICS = ("train_reward_last", "train_qoe_last")
LABEL = "_label"


# ----------------------------------------------------------------------------- the sweep file


@dataclass
class Run:
    """One (config, seed) pair, with the config resolved and its identity hashed."""

    config_index: int
    seed: int
    axes: dict[str, Any]  # swept key -> value (and "label" for a labelled zip)
    cfg: DictConfig
    run_id: str = ""
    group: str = ""


@dataclass
class Sweep:
    name: str
    mode: str
    base: DictConfig
    axes: list[dict[str, list]]  # one dict per axis: key -> values (a zip axis has several keys)
    seeds: list[int]
    chunk_size: int
    policy: Any
    plot: dict
    source: dict = field(repr=False, default_factory=dict)

    @property
    def axis_columns(self) -> list[str]:
        cols = []
        for axis in self.axes:
            cols += [k if k != LABEL else "label" for k in axis]
        return cols

    def configs(self) -> list[tuple[dict[str, Any], DictConfig]]:
        """Every config of the product of the axes: (axis values, resolved config)."""
        out = []
        per_axis = [[{k: v[i] for k, v in axis.items()} for i in range(len(next(iter(axis.values()))))]
                    for axis in self.axes]
        for combo in itertools.product(*per_axis) if per_axis else [()]:
            values: dict[str, Any] = {}
            for part in combo:
                values |= part
            overrides = {k: v for k, v in values.items() if k != LABEL}
            cfg = self.base.copy()
            try:
                cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k}={_yaml_value(v)}" for k, v in overrides.items()]))
            except Exception as exc:  # noqa: BLE001 - OmegaConf raises its own hierarchy
                raise ValueError(f"sweep: cannot set {sorted(overrides)}: {exc}") from None
            named = {("label" if k == LABEL else k): v for k, v in values.items()}
            out.append((named, cfg))
        return out

    def runs(self) -> list[Run]:
        runs = []
        for i, (values, cfg) in enumerate(self.configs()):
            for seed in self.seeds:
                run = Run(i, seed, values, cfg)
                run.group = _group_key(cfg, self.mode)
                run.run_id = _run_id(self, cfg, seed)
                runs.append(run)
        return runs


def _yaml_value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (list, dict, str)) else repr(v) if isinstance(v, float) else str(v)


def _group_key(cfg: DictConfig, mode: str) -> str:
    sections = STATIC_SECTIONS if mode == "train" else ("env", "eval")
    static = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in sections}
    return json.dumps(static, sort_keys=True)


def _run_id(sweep: Sweep, cfg: DictConfig, seed: int) -> str:
    body = OmegaConf.to_container(cfg, resolve=True)
    body.pop("seed", None)
    body.pop("checkpoint_every", None)
    payload = json.dumps({"mode": sweep.mode, "policy": sweep.policy, "cfg": body, "seed": seed}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Reads and validates a sweep file; ``overrides`` are dotted keys of the sweep file
    (e.g. ``seeds=2`` or ``base.train.num_updates=10``). Errors name the key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep file {str(path)!r} does not exist")
    raw = OmegaConf.load(path)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value (e.g. seeds=2)")
    if overrides:
        raw = OmegaConf.merge(raw, OmegaConf.from_dotlist(list(overrides)))
    spec = OmegaConf.to_container(raw, resolve=True)
    if not isinstance(spec, dict):
        raise ValueError(f"sweep file {str(path)!r} must be a mapping")
    unknown = sorted(set(spec) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(f"sweep key(s) {unknown} unknown; accepted: {list(SWEEP_KEYS)}")

    mode = spec.get("mode", "train")
    if mode not in ("train", "evaluate"):
        raise ValueError(f"sweep key 'mode' must be 'train' or 'evaluate' (got {mode!r})")
    policy = spec.get("policy")
    base_path = spec.get("base_config")
    if mode == "evaluate":
        policy = _check_policy(policy)
        if isinstance(policy, dict):
            base_path = str(Path(policy["run"]) / "config.yaml")
    elif policy is not None:
        raise ValueError("sweep key 'policy' is only for mode: evaluate (mode train trains MAPPO)")
    if base_path is not None:
        base_path = Path(base_path)
        if not base_path.is_absolute() and (path.parent / base_path).is_file():
            base_path = path.parent / base_path  # relative to the sweep file first, then to the cwd
    base = load_config(base_path)
    if spec.get("base") is not None:
        if not isinstance(spec["base"], dict):
            raise ValueError("sweep key 'base' must be a mapping (a semjax config)")
        base = _merge(base, spec["base"], "base")

    axes: list[dict[str, list]] = []
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise ValueError("sweep key 'grid' must map dotted config keys to lists of values")
    for key, values in grid.items():
        _check_axis_key(base, f"grid.{key}", key, mode, policy)
        axes.append({key: _check_values(f"grid.{key}", values)})
    zipped = spec.get("zip") or {}
    if not isinstance(zipped, dict):
        raise ValueError("sweep key 'zip' must map dotted config keys to lists of equal length")
    if zipped:
        lengths = {}
        axis = {}
        for key, values in zipped.items():
            if key != LABEL:
                _check_axis_key(base, f"zip.{key}", key, mode, policy)
            axis[key] = _check_values(f"zip.{key}", values)
            lengths[key] = len(axis[key])
        if len(set(lengths.values())) != 1:
            raise ValueError(f"sweep key 'zip': every list must have the same length (got {lengths})")
        if set(axis) == {LABEL}:
            raise ValueError("sweep key 'zip' has only a _label list: add the keys it labels")
        axes.append(axis)
    duplicated = sorted(set(grid) & set(zipped))
    if duplicated:
        raise ValueError(f"sweep key(s) {duplicated} appear in both grid and zip")

    seeds = spec.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list)):
        raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers (got {seeds!r})")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers (got {seeds!r})")
        seeds = list(range(int(base.seed), int(base.seed) + seeds))
    elif not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"sweep key 'seeds' must be a count >= 1 or a list of integers >= 0 (got {seeds!r})")
    elif len(set(seeds)) != len(seeds):
        raise ValueError(f"sweep key 'seeds' has repeated seeds (got {seeds!r})")
    chunk_size = spec.get("chunk_size", 64)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"sweep key 'chunk_size' must be an integer >= 1 (got {chunk_size!r})")
    plot = spec.get("plot") or {}
    if not isinstance(plot, dict) or set(plot) - {"metrics", "x"}:
        raise ValueError("sweep key 'plot' must be a mapping with 'metrics' (a list) and/or 'x' (a swept key)")
    metrics = plot.get("metrics", ["qoe", "reward"])
    bad = [m for m in metrics if m not in METRICS + TRAIN_METRICS]
    if bad:
        raise ValueError(f"sweep key 'plot.metrics': unknown metric(s) {bad}; accepted: {list(METRICS + TRAIN_METRICS)}")

    sweep = Sweep(name=str(spec.get("name", path.stem)), mode=mode, base=base, axes=axes, seeds=seeds,
                  chunk_size=chunk_size, policy=policy, plot={"metrics": list(metrics), "x": plot.get("x")},
                  source=spec)
    if sweep.plot["x"] is not None and sweep.plot["x"] not in sweep.axis_columns:
        raise ValueError(f"sweep key 'plot.x' must be one of the swept keys {sweep.axis_columns} (got {sweep.plot['x']!r})")
    # Validate every config now, outside jit: errors name the config key and the value.
    for values, cfg in sweep.configs():
        try:
            build_env(cfg)
            if mode == "train":
                train_config(cfg)
        except ValueError as exc:
            raise ValueError(f"sweep config {values}: {exc}") from None
        if int(cfg.eval.episodes) < 1:
            raise ValueError(f"sweep config {values}: eval.episodes must be >= 1 (got {cfg.eval.episodes})")
    return sweep


def _merge(base: DictConfig, part: dict, where: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, OmegaConf.create(part))
    except Exception as exc:  # noqa: BLE001 - OmegaConf raises its own hierarchy
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
        raise ValueError(f"sweep key '{where}.{key}': not a semjax config key ({exc})") from None


def _check_policy(policy: Any) -> Any:
    from semjax.agents.heuristics import HEURISTICS

    if isinstance(policy, str) and policy in HEURISTICS:
        return policy
    if isinstance(policy, dict) and set(policy) == {"run"}:
        if not (Path(policy["run"]) / "checkpoint").is_dir():
            raise ValueError(f"sweep key 'policy.run': {policy['run']!r} is not a training run (no checkpoint/)")
        return {"run": str(policy["run"])}
    raise ValueError(f"sweep key 'policy' must be one of {sorted(HEURISTICS)} or {{run: DIR}} (got {policy!r})")


def _check_axis_key(base: DictConfig, where: str, key: str, mode: str, policy: Any) -> None:
    section = key.split(".", 1)[0]
    if section not in (TRACED_SECTION,) + STATIC_SECTIONS or "." not in key:
        raise ValueError(f"sweep key '{where}': only params.*, env.*, train.* and eval.* can be swept "
                         "(seeds have their own key)")
    if OmegaConf.select(base, key, default="__missing__") == "__missing__":
        raise ValueError(f"sweep key '{where}': {key!r} is not a semjax config key")
    if mode == "evaluate" and section == "train":
        raise ValueError(f"sweep key '{where}': train.* cannot be swept when mode is evaluate")
    if mode == "evaluate" and isinstance(policy, dict) and section == "env":
        raise ValueError(f"sweep key '{where}': env.* must match the trained policy's run")


def _check_values(where: str, values: Any) -> list:
    if not isinstance(values, list) or not values:
        raise ValueError(f"sweep key '{where}' must be a non-empty list of values (got {values!r})")
    return values


# ----------------------------------------------------------------------------- the host


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
    mesh_devices = np.array(devices).reshape(d_runs, d // d_runs)
    return Mesh(mesh_devices, ("runs", "envs"))


def _stack(trees: list) -> Any:
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x, np.float32) for x in xs]), *trees)


def _envs_constraint(runner, mesh: Mesh):
    """Shards the env axis of a runner's batched parts over the mesh's "envs" axis."""
    if mesh.shape["envs"] == 1:
        return runner
    on_envs = lambda x, axis: jax.lax.with_sharding_constraint(
        x, NamedSharding(mesh, P(*([None] * axis + ["envs"]))))
    return runner.replace(
        env_state=jax.tree.map(lambda x: on_envs(x, 0), runner.env_state),
        obs=on_envs(runner.obs, 0),
        starts=on_envs(runner.starts, 0),
        actor_carry=on_envs(runner.actor_carry, 1),
        critic_carry=on_envs(runner.critic_carry, 1),
    )


def make_program(env, episodes: int, mesh: Mesh, config=None, policy=None, initial_carry=None):
    """The jitted ``program(params, keys) -> results`` of one group, vmapped over runs.

    With ``config`` (a MAPPOConfig) each run trains MAPPO and evaluates its deterministic
    policy; with ``policy`` each run evaluates that fixed policy. Results are dicts of arrays
    with a leading run axis: the overall metrics, the per-task metrics and (training) the
    per-update learning curve.
    """
    from semjax.agents.mappo import init_runner, make_policy, make_train

    def one(params, key):
        eval_key = jax.random.fold_in(key, EVAL_KEY_SALT)
        out = {}
        if config is not None:
            runner = _envs_constraint(init_runner(config, env, params, key), mesh)
            runner, curve = make_train(config, env, params)(key, runner)
            act, carry = make_policy(config, env, runner.actor.params)
            out["curve"] = {k: curve[k] for k in ("reward", "qoe")}
        else:
            act, carry = policy, initial_carry
        rec = rollout(env, params, act, eval_key, episodes, carry)
        out["overall"], out["per_task"] = summarize(env, params, rec)
        return out

    runs = NamedSharding(mesh, P("runs"))
    return jax.jit(jax.vmap(one, spmd_axis_name="runs"), in_shardings=(runs, runs), out_shardings=runs)


def _global_array(x, sharding: NamedSharding) -> jax.Array:
    """The whole array ``x`` (the same on every process) laid out by ``sharding``.

    Each process fills only the shards of its own devices: ``jax.device_put`` onto a mesh
    that spans several processes is refused (the other hosts' devices are not addressable).
    """
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def run_chunk(program, mesh: Mesh, params_list: list, seeds: list[int]) -> dict:
    """Runs one chunk: pads to a multiple of the mesh's run axis, shards, runs, unpads."""
    n = len(params_list)
    pad = (-n) % mesh.shape["runs"]
    params_list = params_list + [params_list[-1]] * pad
    seeds = list(seeds) + [seeds[-1]] * pad
    sharding = NamedSharding(mesh, P("runs"))
    params = jax.tree.map(lambda x: _global_array(x, sharding), _stack(params_list))
    key_data = jax.random.key_data(jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32)))
    keys = jax.random.wrap_key_data(_global_array(key_data, sharding))
    out = program(params, keys)
    if jax.process_count() > 1:  # multi-host: every process gets the whole chunk's results
        from jax.experimental import multihost_utils

        out = multihost_utils.process_allgather(out, tiled=True)
    return jax.tree.map(lambda x: np.asarray(x)[:n], jax.device_get(out))


# ----------------------------------------------------------------------------- running a sweep


def _rows(sweep: Sweep, run: Run, names: tuple[str, ...], out: dict, i: int) -> list[dict]:
    base = {"sweep": sweep.name, "config": run.config_index, "seed": run.seed, "run_id": run.run_id}
    base |= {col: _cell(run.axes.get(col)) for col in sweep.axis_columns}
    rows = []
    for m in METRICS:
        rows.append(base | {"metric": m, "task": "all", "value": float(out["overall"][m][i])})
    for t, name in enumerate(names):
        for m in METRICS:
            rows.append(base | {"metric": m, "task": name, "value": float(out["per_task"][t][m][i])})
    if "curve" in out:
        for m, src in zip(TRAIN_METRICS, ("reward", "qoe")):
            curve = out["curve"][src][i]
            tail = curve[-max(1, len(curve) // 10):]  # last 10 % of updates
            rows.append(base | {"metric": m, "task": "all", "value": float(np.mean(tail))})
    return rows


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, (list, dict)) else v


def _columns(sweep: Sweep) -> list[str]:
    return ["sweep", "config", "seed", "run_id"] + sweep.axis_columns + ["task", "metric", "value"]


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # atomic: a killed sweep never leaves a half-written part


def read_table(path: str | Path) -> list[dict]:
    """Rows of a results CSV, with ``value`` as a float (NaN for an empty cell)."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["value"] = float(r["value"]) if r["value"] not in ("", "nan") else math.nan
        r["seed"] = int(r["seed"])
        r["config"] = int(r["config"])
    return rows


def _finished(parts: Path) -> dict[str, list[dict]]:
    done: dict[str, list[dict]] = {}
    for part in sorted(parts.glob("part-*.csv")):
        for row in read_table(part):
            done.setdefault(row["run_id"], []).append(row)
    return done


def _policy_for(sweep: Sweep, env):
    """The fixed policy of an evaluate sweep: (policy, initial_carry)."""
    if isinstance(sweep.policy, str):
        from semjax.agents.heuristics import HEURISTICS

        return HEURISTICS[sweep.policy](env), None
    from semjax.agents.mappo import make_policy
    from semjax.checkpoint import load_checkpoint

    run_dir = Path(sweep.policy["run"])
    train_cfg = load_config(run_dir / "config.yaml")
    _, train_params = build_env(train_cfg)
    config = train_config(train_cfg)
    runner, _ = load_checkpoint(run_dir / "checkpoint", config, env, train_params)
    return make_policy(config, env, runner.actor.params)


def run_sweep(sweep: Sweep, out: str | Path, devices=None, progress: bool | None = None) -> dict[str, Any]:
    """Runs every unfinished run of ``sweep`` into ``out``; returns a summary dict.

    Writes ``sweep.yaml`` (the sweep as resolved), ``versions.json``, ``parts/`` (one CSV per
    finished chunk: the resume points), ``results.csv`` (tidy: one row per run x task x
    metric), ``summary.csv`` (mean and 95 % interval over seeds) and ``plots/``.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    parts = out / "parts"
    # Multi-host: every process runs the same chunks; process 0 alone writes (shared file system).
    writer = jax.process_index() == 0
    parts.mkdir(parents=True, exist_ok=True)
    runs = sweep.runs()
    done = _finished(parts)
    current = versions()
    if done and (out / "versions.json").exists():
        # Run ids cover the configs, not the software or XLA's CPU settings, which change the
        # numbers too (semjax.config.versions): a resume under others would mix two runs.
        old, now = json.loads((out / "versions.json").read_text()), dict(current)
        old.pop("date", None), now.pop("date")
        if old != now:
            raise ValueError(
                f"{str(out)!r} holds runs made under other versions or XLA settings ({describe_differences(old, now)}); "
                "resume with the same ones, or remove its parts/ folder (or choose another --out) to run anew")
    if writer:
        (out / "sweep.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(
            sweep.source | {"base": OmegaConf.to_container(sweep.base, resolve=True), "seeds": sweep.seeds})))
        (out / "versions.json").write_text(json.dumps(current, indent=2))

    pending = [r for r in runs if r.run_id not in done]
    groups: dict[str, list[Run]] = {}
    for r in pending:
        groups.setdefault(r.group, []).append(r)

    columns = _columns(sweep)
    enabled = True if progress is None else progress
    bar = tqdm(total=len(runs), initial=len(runs) - len(pending), unit="run", desc=sweep.name, disable=not enabled)
    start = time.perf_counter()
    for group_runs in groups.values():
        cfg = group_runs[0].cfg
        env, _ = build_env(cfg)
        episodes = int(cfg.eval.episodes)
        n_chunks = math.ceil(len(group_runs) / sweep.chunk_size)
        size = math.ceil(len(group_runs) / n_chunks)
        if sweep.mode == "train":
            config = train_config(cfg)
            mesh = make_mesh(size, config.num_envs, devices)
            program = make_program(env, episodes, mesh, config=config)
        else:
            policy, carry = _policy_for(sweep, env)
            mesh = make_mesh(size, 1, devices)
            program = make_program(env, episodes, mesh, policy=policy, initial_carry=carry)
        size = math.ceil(size / mesh.shape["runs"]) * mesh.shape["runs"]
        names = env.profile.names or tuple(f"type{m}" for m in range(env.num_task_types))
        for c in range(0, len(group_runs), size):
            chunk = group_runs[c:c + size]
            params_list = [build_env(r.cfg)[1] for r in chunk]
            # Same-sized chunks reuse one compilation: pad a short last chunk to the size.
            filler = [params_list[-1]] * (size - len(chunk))
            result = run_chunk(program, mesh, params_list + filler, [r.seed for r in chunk] + [chunk[-1].seed] * len(filler))
            rows = [row for i, r in enumerate(chunk) for row in _rows(sweep, r, names, result, i)]
            if writer:
                _write_csv(parts / f"part-{chunk[0].run_id}-{len(chunk)}.csv", columns, rows)
            for r, row_group in itertools.groupby(rows, key=lambda row: row["run_id"]):
                done[r] = list(row_group)
            if "curve" in result and writer:
                np.savez(parts / f"curves-{chunk[0].run_id}-{len(chunk)}.npz",
                         **{f"{r.run_id}.{k}": result["curve"][k][i] for i, r in enumerate(chunk) for k in result["curve"]})
            bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - start

    table = []
    for r in runs:  # rows read back from a part hold strings: take the typed values from the run
        for row in done[r.run_id]:
            table.append(row | {"sweep": sweep.name, "config": r.config_index, "seed": r.seed}
                         | {c: _cell(r.axes.get(c)) for c in sweep.axis_columns})
    summary = summarize_table(sweep, table)
    plots = []
    if writer:
        _write_csv(out / "results.csv", columns, table)
        _write_csv(out / "summary.csv", list(summary[0]) if summary else ["config"], summary)
        plots = plot_sweep(sweep, summary, out / "plots")
    info = {"runs": len(runs), "ran": len(pending), "configs": len(runs) // len(sweep.seeds),
            "seeds": len(sweep.seeds), "seconds": seconds, "groups": len(groups),
            "devices": len(jax.devices() if devices is None else devices),
            "results": str(out / "results.csv"), "summary": str(out / "summary.csv"),
            "plots": [str(p) for p in plots]}
    if writer:
        (out / "sweep_info.json").write_text(json.dumps(info, indent=2))
    return info


# ----------------------------------------------------------------------------- summaries and plots

# Student-t 0.975 quantiles for 1..30 degrees of freedom (standard tables); beyond that the
# Cornish-Fisher expansion is within 1e-4. Written out so that scipy is not a dependency.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be >= 1 (got {df})")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and the 95 % t-interval of the mean over seeds (NaNs dropped; one value: no width)."""
    x = np.asarray([v for v in values if not math.isnan(v)], np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size == 1:
        return m, m, m
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def summarize_table(sweep: Sweep, table: list[dict]) -> list[dict]:
    """One row per config x task x metric: mean and 95 % interval over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for row in table:
        groups.setdefault((row["config"], row["task"], row["metric"]), []).append(row)
    summary = []
    for (config, task, metric), rows in sorted(groups.items(), key=lambda kv: kv[0][0]):
        m, lo, hi = mean_ci([r["value"] for r in rows])
        summary.append({"config": config} | {c: rows[0][c] for c in sweep.axis_columns}
                       | {"task": task, "metric": metric, "mean": m, "ci95_low": lo, "ci95_high": hi, "n": len(rows)})
    return summary


def plot_sweep(sweep: Sweep, summary: list[dict], out: Path) -> list[Path]:
    """One figure per metric: x = the first swept key (or ``plot.x``), one line per value of
    the other keys but the last, one panel per value of the last when there are three or
    more; mean over seeds with its 95 % interval as a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = []
    for axis in sweep.axes:  # a labelled zip is plotted by its label
        axes.append("label" if LABEL in axis else next(iter(axis)))
    if not axes or not summary:
        return []
    x_key = sweep.plot["x"] if sweep.plot["x"] in axes else axes[0]
    others = [a for a in axes if a != x_key]
    panel_key = others[-1] if len(others) >= 2 else None
    line_keys = [a for a in others if a != panel_key]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric in sweep.plot["metrics"]:
        rows = [r for r in summary if r["metric"] == metric and r["task"] == "all"]
        if not rows:
            continue
        panels = _unique(r[panel_key] for r in rows) if panel_key else [None]
        fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False, sharey=True)
        for ax, panel in zip(axs[0], panels):
            sub = [r for r in rows if panel_key is None or r[panel_key] == panel]
            for line in _unique(tuple(r[k] for k in line_keys) for r in sub):
                pts = [r for r in sub if tuple(r[k] for k in line_keys) == line]
                xs = [r[x_key] for r in pts]
                numeric = all(isinstance(v, (int, float)) for v in xs)
                pos = xs if numeric else list(range(len(xs)))
                label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(line_keys, line)) or metric
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


def _unique(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen
