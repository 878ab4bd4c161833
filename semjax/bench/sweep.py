"""``semjax bench sweep``: configs trained (and evaluated) per hour, one vmapped program of the
sweep engine against a Python loop of single runs, on the same configs with the same budget.

The configs: the default world under a 4 x 4 grid of bandwidth x mu_min (``--configs 16``),
each trained by MAPPO for ``--updates`` updates of ``--num-envs`` envs (the rest of the
training config is ``configs/paper.yaml``'s) and evaluated over ``--episodes`` test episodes.

* vmapped: :func:`semjax.experiments.sweep.make_program` over all configs at once, sharded over
  all devices (the engine's own chunk runner: shard, compile, run).
* loop: the same train-and-evaluate function jitted for one config with the params passed as
  arguments, compiled once and called once per config (the fair peer: no recompilation).

Both run in one process under the XLA settings of ``semjax sweep`` (single-threaded Eigen,
``--host-devices`` CPU devices: default 1, so that neither arm gets more cores than the
other). A third arm, ``loop_default``, runs the same loop in a subprocess under JAX's default
settings (no XLA flags: one CPU device, multi-threaded Eigen), which is what a user's own loop
gets. Every arm reports compile-included and steady-state (compiled call only) figures; the
compiled calls are timed once each (a call is long), as a user runs them. The two arms train
the same runs, so their QoE must agree (``max_abs_qoe_difference``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from semjax.agents.mappo import make_policy, make_train
from semjax.config import build_env, load_config, versions
from semjax.evaluation import rollout, summarize
from semjax.experiments.methods import METHODS
from semjax.experiments.sweep import make_mesh, make_program, run_chunk, stack
from semjax.seeding import eval_key_from

PAPER_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="2 configs x 2 updates x 8 envs, 2 test episodes, no default-settings loop")
    p.add_argument("--configs", type=int, default=None, help="configs (default 16; --quick 2)")
    p.add_argument("--updates", type=int, default=None, help="PPO updates per config (default 10; --quick 2)")
    p.add_argument("--num-envs", type=int, default=None, help="envs per config (default 16; --quick 8)")
    p.add_argument("--episodes", type=int, default=None, help="test episodes per config (default 20; --quick 2)")
    p.add_argument("--host-devices", type=int, default=1,
                   help="CPU devices (XLA host platform); 1 keeps both arms on the same single device (default 1)")
    p.add_argument("--no-default-loop", action="store_true",
                   help="skip the loop arm under JAX's default settings (a subprocess)")


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    defaults = (2, 2, 8, 2) if args.quick else (16, 10, 16, 20)
    for name, default in zip(("configs", "updates", "num_envs", "episodes"), defaults):
        value = getattr(args, name) if getattr(args, name) is not None else default
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 (got {value})")
        setattr(args, name, value)
    if args.host_devices < 1:
        raise ValueError(f"--host-devices must be >= 1 (got {args.host_devices})")
    args.default_loop = not (args.quick or args.no_default_loop)
    return args


def configs(count: int, updates: int, num_envs: int, episodes: int):
    """``count`` configs of the default world: a bandwidth x mu_min grid (cycled if longer)."""
    bandwidths = (2.5e6, 5e6, 10e6, 20e6)
    mu_mins = (0.1, 0.3, 0.5, 0.7)
    grid = [(b, m) for b in bandwidths for m in mu_mins]
    out = []
    for i in range(count):
        b, m = grid[i % len(grid)]
        cfg = load_config(PAPER_CONFIG, [
            f"params.bandwidth={b}", f"params.mu_min={m}", f"train.num_updates={updates}",
            f"train.num_envs={num_envs}", f"train.num_minibatches={min(4, num_envs)}", f"eval.episodes={episodes}"])
        out.append(cfg)
    return out


def _setup(count: int, updates: int, num_envs: int, episodes: int):
    cfgs = configs(count, updates, num_envs, episodes)
    env, _ = build_env(cfgs[0])
    config = METHODS["mappo"].config(cfgs[0])
    params = [build_env(c)[1] for c in cfgs]
    return env, config, params


def measure_loop(env, config, stacked, keys, count: int, episodes: int) -> tuple[dict, list[float]]:
    """One config at a time, params as arguments, compiled once. Returns (timings, QoE per config)."""

    @jax.jit
    def one(p, key):
        runner, _ = make_train(config, env, p)(key)
        act, carry = make_policy(config, env, runner.actor.params)
        rec = rollout(env, p, act, eval_key_from(key), episodes, carry)
        return summarize(env, p, rec)[0]

    start = time.perf_counter()
    one_c = one.lower(jax.tree.map(lambda x: x[0], stacked), keys[0]).compile()
    l_compile = time.perf_counter() - start
    l_times, l_qoe = [], []
    for i in range(count):
        p = jax.tree.map(lambda x, i=i: x[i], stacked)
        start = time.perf_counter()
        out = jax.block_until_ready(one_c(p, keys[i]))
        l_times.append(time.perf_counter() - start)
        l_qoe.append(float(out["qoe"]))
    l_run = sum(l_times)
    per_hour = lambda seconds: count * 3600.0 / seconds
    return {"compile_s": l_compile, "run_s": l_run, "per_config_s": l_times,
            "configs_per_hour_steady": per_hour(l_run),
            "configs_per_hour_with_compile": per_hour(l_compile + l_run),
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "devices": len(jax.devices())}, l_qoe


def loop_only(count: int, updates: int, num_envs: int, episodes: int) -> dict:
    """The loop arm alone, on one device, under whatever XLA settings this process has."""
    env, config, params = _setup(count, updates, num_envs, episodes)
    stacked = stack(params)
    keys = jax.vmap(jax.random.key)(np.arange(count, dtype=np.uint32))
    timings, qoe = measure_loop(env, config, stacked, keys, count, episodes)
    return timings | {"qoe": qoe}


def default_loop_subprocess(count: int, updates: int, num_envs: int, episodes: int) -> dict:
    """``loop_only`` in a fresh process under JAX's defaults (the sweep's XLA flags removed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NPROC")}
    cmd = [sys.executable, "-m", "semjax.bench.sweep", str(count), str(updates), str(num_envs), str(episodes)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(count: int, updates: int, num_envs: int, episodes: int, default_loop: bool = True) -> dict:
    env, config, params = _setup(count, updates, num_envs, episodes)
    seeds = list(range(count))

    # vmapped: one program over every config (the engine's own chunk runner: shard, compile, run).
    mesh = make_mesh(count, config.num_envs)
    program = make_program(METHODS["mappo"], config, env, episodes, mesh, True)
    timings: dict[str, float] = {}
    v_out = run_chunk(program, mesh, seeds, params, [[p] for p in params], timings=timings)
    v_compile, v_run = timings["compile_s"], timings["run_s"]
    stacked = stack(params)
    keys = jax.vmap(jax.random.key)(np.asarray(seeds, np.uint32))

    # loop: one config at a time, params as arguments, compiled once.
    loop, l_qoe = measure_loop(env, config, stacked, keys, count, episodes)
    l_compile, l_run = loop["compile_s"], loop["run_s"]

    per_hour = lambda seconds: count * 3600.0 / seconds
    steps = updates * config.rollout_len * num_envs
    out = {
        "configs": count, "updates_per_config": updates, "num_envs": num_envs, "rollout_len": config.rollout_len,
        "eval_episodes": episodes, "env_steps_per_config": steps, "hidden": config.hidden,
        "devices": len(jax.devices()), "mesh": dict(mesh.shape),
        "vmapped": {"compile_s": v_compile, "run_s": v_run,
                    "configs_per_hour_steady": per_hour(v_run),
                    "configs_per_hour_with_compile": per_hour(v_compile + v_run)},
        "loop": loop,
        "ratio_steady": l_run / v_run,
        "ratio_with_compile": (l_compile + l_run) / (v_compile + v_run),
        # The two paths compute the same runs: their QoE must agree (float32, vmap batching).
        "max_abs_qoe_difference": float(np.max(np.abs(np.asarray(v_out["overall"]["qoe"])[:, 0] - np.asarray(l_qoe)))),
    }
    if default_loop:
        d = default_loop_subprocess(count, updates, num_envs, episodes)
        out["loop_default"] = {k: v for k, v in d.items() if k != "qoe"}
        out["ratio_steady_vs_default_loop"] = d["run_s"] / v_run
        out["ratio_with_compile_vs_default_loop"] = (d["compile_s"] + d["run_s"]) / (v_compile + v_run)
        out["max_abs_qoe_difference_default_loop"] = float(
            np.max(np.abs(np.asarray(v_out["overall"]["qoe"])[:, 0] - np.asarray(d["qoe"]))))
    return out


def main(args: argparse.Namespace) -> dict[str, Any]:
    """The verb: the sweep's host settings first, then both arms (``semjax.bench`` prints and writes)."""
    from semjax.host import prepare_host

    args = resolve(args)
    prepare_host(args.host_devices)  # before JAX starts its backend
    load_start = os.getloadavg()
    result = measure(args.configs, args.updates, args.num_envs, args.episodes, args.default_loop)
    result["load_average_start_end"] = [load_start[0], os.getloadavg()[0]]
    result["machine"] = {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    result["versions"] = versions()
    return result


def tables(result: dict[str, Any], fmt: str = "markdown") -> str:
    """Each arm's compile and run seconds and configs per hour, and the vmapped program's speed-up."""
    from semjax.bench.tables import render

    arms = [("vmapped (sweep engine)", result["vmapped"], None),
            ("loop of single runs", result["loop"], (result["ratio_steady"], result["ratio_with_compile"]))]
    if "loop_default" in result:
        arms.append(("loop, JAX's default settings", result["loop_default"],
                     (result["ratio_steady_vs_default_loop"], result["ratio_with_compile_vs_default_loop"])))
    header = ["arm", "compile s", "run s", "configs/h", "configs/h with compile", "vmapped is faster by"]
    rows = [[name, f"{a['compile_s']:.1f}", f"{a['run_s']:.1f}", f"{a['configs_per_hour_steady']:.0f}",
             f"{a['configs_per_hour_with_compile']:.0f}",
             "-" if r is None else f"{r[0]:.2f}x ({r[1]:.2f}x with compile)"] for name, a, r in arms]
    head = (f"{result['configs']} configs x {result['updates_per_config']} updates x {result['num_envs']} envs, "
            f"{result['devices']} device(s); QoE of the two arms differs by at most {result['max_abs_qoe_difference']:.2g}")
    return head + "\n" + render(header, rows, fmt, align="lrrrrl")


if __name__ == "__main__":  # the default-settings loop arm (default_loop_subprocess): JSON on stdout
    count, updates, num_envs, episodes = (int(a) for a in sys.argv[1:5])
    print(json.dumps(loop_only(count, updates, num_envs, episodes)))
