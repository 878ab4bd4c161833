"""``semjax bench train``: MAPPO training throughput against the machine's own matmul limit.

Per network width (Table III's 256, and 128 and 64):

* **env steps/s including learning**: ``--updates`` PPO updates of ``train(key, runner,
  updates)`` (a rollout of num_envs x rollout_len env steps, GAE, update_epochs x
  num_minibatches gradient steps each), compiled ahead of time (compile time apart), median of
  ``--repeats`` calls, each ending in ``block_until_ready``;
* **FLOPs per env step**, counted by XLA's cost analysis of the actor and the critic at one
  time step, forward and forward + backward, scaled by the update's structure: every env
  step runs both networks forward for its N agents in the rollout, and ``update_epochs``
  times forward and backward in the update (plus the bootstrap value, once per rollout).
  The env's own arithmetic (~3 kFLOP per step) is left out;
* **achieved FLOP/s** = FLOPs per env step x env steps/s, beside the FLOP/s of a large
  float32 matmul (``--matmul-size``, default 2048^3) measured in the same run on the same
  device, before every width and at the end, the best sample taken: the most this machine's
  matrix unit gives a float32 network;
* **memory per run**: XLA's memory analysis (arguments + temporaries) of the compiled
  program for one run, and of ``--vmapped-runs`` runs under ``vmap`` divided by their number
  (what a sweep packs on one device; compiled only, not run).

The process keeps semjax's default XLA settings (one device, the CPU's default threads), as
``semjax train`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="width 64 only, 2 updates, 2 repeats")
    p.add_argument("--widths", default=None, help="network widths (default 64,128,256; --quick 64)")
    p.add_argument("--num-envs", type=int, default=64, help="envs per run (default 64)")
    p.add_argument("--updates", type=int, default=None, help="PPO updates per timed call (default 5; --quick 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls (default 3; --quick 2)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n^3 float32 matmul peak (default 2048)")
    p.add_argument("--vmapped-runs", type=int, default=4,
                   help="runs under vmap for the memory-per-run figure (default 4; 0: skip)")
    p.add_argument("--seed", type=int, default=0, help="(default 0)")


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    text = args.widths or ("64" if args.quick else "64,128,256")
    try:
        args.widths = [int(w) for w in str(text).split(",") if w.strip()]
    except ValueError as err:
        raise ValueError(f"--widths must be comma-separated integers (got {text!r})") from err
    if not args.widths or min(args.widths) < 1:
        raise ValueError(f"--widths must be integers >= 1 (got {text!r})")
    args.updates = args.updates or (2 if args.quick else 5)
    args.repeats = args.repeats or (2 if args.quick else 3)
    for name in ("num_envs", "updates", "repeats", "matmul_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.vmapped_runs < 0:
        raise ValueError(f"--vmapped-runs must be >= 0 (got {args.vmapped_runs})")
    return args


# ---------------------------------------------------------------------------- FLOPs


def _flops(fn, *args) -> float:
    """XLA's flop count of ``jit(fn)(*args)``."""
    import jax

    analysis = jax.jit(fn).lower(*args).compile().cost_analysis() or {}
    if isinstance(analysis, list):  # older JAX: one dict per computation
        analysis = analysis[0] if analysis else {}
    return float(analysis.get("flops", 0.0))


def network_flops(config, env, batch: int = 256) -> dict[str, float]:
    """FLOPs per sample and time step of the actor and the critic, forward and forward +
    backward (gradient of the sum of every output with respect to the parameters)."""
    import jax
    import jax.numpy as jnp

    from semjax.agents.mappo import make_networks
    from semjax.agents.networks import RecurrentGRU

    actor, critic = make_networks(config, env)
    carry = RecurrentGRU.initial_carry(config.gru_layers, batch, config.hidden)
    starts = jnp.zeros((1, batch), bool)
    obs = jnp.ones((1, batch, env.obs_dim), jnp.float32)
    world = jnp.ones((1, batch, env.world_state_dim), jnp.float32)
    out = {}
    for name, net, x in (("actor", actor, obs), ("critic", critic, world)):
        params = net.init(jax.random.key(0), carry, x, starts)

        def forward(p, c, x, net=net):
            return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(net.apply(p, c, x, starts)))

        out[f"{name}_forward"] = _flops(forward, params, carry, x) / batch
        out[f"{name}_forward_backward"] = _flops(jax.grad(forward), params, carry, x) / batch
    return out


def flops_per_env_step(config, env, net: dict[str, float]) -> float:
    """Network FLOPs per env step of one MAPPO update (see the module docstring)."""
    n = env.num_ues
    rollout = n * (net["actor_forward"] + net["critic_forward"])
    bootstrap = n * net["critic_forward"] / config.rollout_len
    learn = config.update_epochs * n * (net["actor_forward_backward"] + net["critic_forward_backward"])
    return rollout + bootstrap + learn


def matmul_peak(size: int, repeats: int = 5) -> dict[str, Any]:
    """FLOP/s of an ``size``^3 float32 matmul on the default device (median of ``repeats``)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (size, size), jnp.float32)
    f = jax.jit(jnp.matmul).lower(a, b).compile()
    jax.block_until_ready(f(a, b))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a, b))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return dict(size=size, dtype="float32", device=str(jax.devices()[0].device_kind), times_s=times,
                median_s=med, flops_per_s=2.0 * size ** 3 / med)


# ---------------------------------------------------------------------------- memory


def _memory_bytes(compiled) -> int | None:
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend reports it
        return None
    if m is None:
        return None
    return int((m.argument_size_in_bytes or 0) + (m.temp_size_in_bytes or 0))


# ---------------------------------------------------------------------------- the benchmark


def measure(width: int, args, net_cache: dict | None = None) -> dict[str, Any]:
    """Throughput, FLOPs and memory of MAPPO at one width."""
    import jax

    import semjax
    from semjax.agents.mappo import MAPPOConfig, init_runner, make_train

    env = semjax.SemanticMEC()
    params = env.default_params
    config = MAPPOConfig(hidden=width, num_envs=args.num_envs, num_updates=args.updates)
    train = make_train(config, env, params)
    key = jax.random.key(args.seed)
    # Jitted: op by op, the initialisation takes longer than the compile of the whole update.
    runner = jax.jit(lambda k: init_runner(config, env, params, k))(key)
    t0 = time.perf_counter()
    compiled = jax.jit(lambda k, r: train(k, r, args.updates)).lower(key, runner).compile()
    compile_s = time.perf_counter() - t0
    runner, _ = compiled(key, runner)  # warm-up
    jax.block_until_ready(runner)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        runner, metrics = compiled(key, runner)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    env_steps = args.updates * config.rollout_len * config.num_envs
    med = statistics.median(times)
    rate = env_steps / med
    net = network_flops(config, env)
    per_step = flops_per_env_step(config, env, net)
    memory = {"single_run": _memory_bytes(compiled)}
    if args.vmapped_runs:
        r = args.vmapped_runs
        batched = jax.jit(jax.vmap(lambda k: train(k, None, 1))).lower(jax.random.split(key, r)).compile()
        total = _memory_bytes(batched)
        memory["vmapped_runs"] = r
        memory["vmapped_total"] = total
        memory["per_run"] = None if total is None else total / r
    else:
        memory["per_run"] = memory["single_run"]
    return dict(
        width=width, num_envs=config.num_envs, num_ues=env.num_ues, rollout_len=config.rollout_len,
        update_epochs=config.update_epochs, num_minibatches=config.num_minibatches, updates=args.updates,
        env_steps=env_steps, compile_s=compile_s, times_s=times, median_s=med, env_steps_per_s=rate,
        updates_per_s=args.updates / med, network_flops_per_sample=net, flops_per_env_step=per_step,
        achieved_flops_per_s=per_step * rate, memory=memory,
    )


def run(args: argparse.Namespace, progress=None) -> dict[str, Any]:
    """Runs the training benchmark; returns its JSON-ready result.

    The matmul is timed before every width and after the last, and its best sample is the peak:
    a ceiling is the most the machine gave, and on a shared machine one sample may fall in a
    busy moment and read below what the training itself reaches."""
    from semjax.bench.env import args_record, loadavg, machine_info

    total = len(args.widths) + 1
    load_before = loadavg()
    samples, rows = [], []
    for i, width in enumerate(args.widths):
        if progress is not None:
            progress(i, total, f"matmul, then MAPPO width {width}")
        samples.append(matmul_peak(args.matmul_size))
        rows.append(measure(width, args))
    if progress is not None:
        progress(len(args.widths), total, "matmul")
    samples.append(matmul_peak(args.matmul_size))
    if progress is not None:
        progress(total, total, "done")
    peak = dict(max(samples, key=lambda m: m["flops_per_s"]))
    peak["samples_flops_per_s"] = [m["flops_per_s"] for m in samples]
    return dict(benchmark="train", schema=1, machine=machine_info(), args=args_record(args),
                matmul=peak, rows=rows, load_average_before=load_before, load_average_after=loadavg())


def main(args: argparse.Namespace) -> dict[str, Any]:
    return run(resolve(args), progress=getattr(args, "progress", None))
