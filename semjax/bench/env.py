"""``semjax bench env``: env steps per second of the JAX SemanticMEC against its NumPy peers.

One *env step* is one step of one env with all its N UEs (K = N sub-channels). Measured:

* **JAX** on 1, 2, ... devices: :func:`semjax.vector.make_random_rollout`, a jitted
  ``lax.scan`` over S steps of ``vmap(env.step)`` over B envs (auto-reset), random actions
  drawn inside the scan, reward and observation reduced so the whole step stays alive, the
  env axis sharded over a mesh of the first D devices. The host is split into one CPU device
  per core first (:func:`semjax.vector.prepare_host`). Compiled ahead of time (compile time
  reported apart), warmed up, then ``--repeats`` timed repeats, each chaining enough calls to
  last ``--min-time`` seconds; the device counts of one (N, B) are interleaved repeat by
  repeat, so load drifts hit them alike. Throughput = B x S x calls / median repeat seconds.
* **batched NumPy** (:class:`semjax.bench.numpy_peer.FastBatchedNumpyMEC`): the float64 model
  written for speed, one vectorised step for all B envs; the ratios are quoted against it.
* **reference NumPy** (``semjax.reference.BatchedNumpyMEC``, full run only): the test oracle,
  written for clarity, for comparison with earlier figures.
* **per-env NumPy** (``semjax.reference.NumpyMEC``): a Python loop over envs and steps.

The peers draw their random actions with a ``numpy.random.Generator`` inside the timed loop,
as the JAX program draws its own; each peer repeat lasts about ``--peer-budget`` seconds.
``--profile`` adds the step's cost breakdown (:mod:`semjax.bench.profile`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import statistics
import time
import warnings
from typing import Any

import numpy as np

HEADLINE_B, HEADLINE_N = 16384, 4
TARGET_VS_BATCHED, TARGET_VS_PER_ENV = 5.0, 1000.0
MAX_PER_ENV_STEPS = 20_000
SCHEMA = 1


# ---------------------------------------------------------------------------- options


def int_list(text: str) -> list[int]:
    """Parses "1,64,1024" into [1, 64, 1024] (each >= 1)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="the headline only: N = 4, B in {1024, 16384}, short repeats (under a minute)")
    p.add_argument("--batch-sizes", type=int_list, default=None,
                   help="B values (default 1,64,1024,16384,65536; --quick 1024,16384)")
    p.add_argument("--num-ues", type=int_list, default=None, help="N values, K = N (default 4,16,64; --quick 4)")
    p.add_argument("--devices", type=int_list, default=None,
                   help="device counts to shard the envs over (default 1, 2, 4, ... up to every core)")
    p.add_argument("--host-devices", type=int, default=None,
                   help="CPU devices to split the host into (default: the largest of --devices, or the core count)")
    p.add_argument("--queue-len", type=int, default=20, help="Q, tasks per episode (default 20)")
    p.add_argument("--steps", type=int, default=200, help="the largest scan length S (default 200)")
    p.add_argument("--work", type=float, default=1e8,
                   help="S ~ work / (B N (N + K + Q + 10)), clamped to [1, --steps] (default 1e8)")
    p.add_argument("--max-env-ues", type=int, default=1 << 20,
                   help="skip (B, N) with B x N above this (default 2^20; 0: no limit)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (default 5; --quick 3)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds a JAX repeat lasts at least (default 0.2; --quick 0.1)")
    p.add_argument("--peer-budget", type=float, default=None,
                   help="about this many seconds per NumPy peer repeat (default 1.0; --quick 0.25)")
    p.add_argument("--no-peers", action="store_true", help="JAX only")
    p.add_argument("--no-per-env", action="store_true", help="skip the per-env NumPy peer")
    p.add_argument("--reference-peer", action=argparse.BooleanOptionalAction, default=None,
                   help="also time semjax.reference's batched NumPy (default: on, off with --quick)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="add the cost breakdown of one step, B = 16384, N = 4 (default: on, off with --quick)")
    p.add_argument("--seed", type=int, default=0, help="(default 0)")


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fills the defaults that depend on --quick and the machine; validates."""
    quick = args.quick
    if args.batch_sizes is None:
        args.batch_sizes = [1024, HEADLINE_B] if quick else [1, 64, 1024, 16384, 65536]
    if args.num_ues is None:
        args.num_ues = [HEADLINE_N] if quick else [4, 16, 64]
    cores = os.cpu_count() or 1
    if args.devices is None:
        top = args.host_devices or cores
        args.devices = sorted({1, top} | {2 ** i for i in range(1, int(math.log2(top)) + 1)})
    if args.host_devices is None:
        args.host_devices = max(args.devices)
    if max(args.devices) > args.host_devices:
        raise ValueError(f"--devices {max(args.devices)} exceeds --host-devices {args.host_devices}")
    args.repeats = args.repeats or (3 if quick else 5)
    args.min_time = args.min_time if args.min_time is not None else (0.1 if quick else 0.2)
    args.peer_budget = args.peer_budget if args.peer_budget is not None else (0.25 if quick else 1.0)
    if args.reference_peer is None:
        args.reference_peer = not quick
    if args.profile is None:
        args.profile = not quick
    for name in ("queue_len", "steps", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.min_time < 0 or args.peer_budget <= 0:
        raise ValueError("--min-time must be >= 0 and --peer-budget > 0")
    return args


def scan_length(b: int, n: int, k: int, q: int, work: float, max_steps: int) -> int:
    """S: about ``work`` element-steps per call, clamped to [1, max_steps]."""
    return int(min(max(round(work / (b * n * (n + k + q + 10))), 1), max_steps))


# ---------------------------------------------------------------------------- JAX


def _compiled_rollout(env, params, mesh, b: int, s: int, seed: int):
    """The compiled rollout, its first state and its params, all placed on the mesh."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    from semjax import vector

    params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))
    _, state = vector.reset(env, mesh, jax.random.key(seed), b, params)
    t0 = time.perf_counter()
    compiled = vector.make_random_rollout(env, mesh, b, s).lower(jax.random.key(seed), state, params).compile()
    compile_s = time.perf_counter() - t0
    return compiled, state, params, compile_s


def _memory(compiled, envs_per_device: int) -> dict[str, Any]:
    """XLA's memory analysis of a compiled rollout, in bytes per device (a sharded program's
    analysis is of one device's part), and per env: (arguments + temporaries) / envs per device."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend reports it
        return {}
    if m is None:
        return {}
    out = {name: int(getattr(m, f"{name}_size_in_bytes", 0) or 0) for name in ("argument", "output", "temp")}
    out["envs_per_device"] = envs_per_device
    out["per_env"] = (out["argument"] + out["temp"]) / envs_per_device
    return out


def time_jax(env, params, b: int, s: int, devices: list[int], all_devices, args) -> dict[str, dict[str, Any]]:
    """Throughput of the sharded rollout on meshes of the first D devices, for each D that
    divides B; the device counts are timed in alternation."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    from semjax import vector

    runs: dict[int, dict[str, Any]] = {}
    for d in devices:
        if b % d:
            continue
        mesh = vector.env_mesh(all_devices[:d])
        compiled, state, dev_params, compile_s = _compiled_rollout(env, params, mesh, b, s, args.seed)
        # Every call's key made and placed before the timings: nothing crosses to the devices
        # inside a timed repeat but the call itself.
        keys = jax.device_put(jax.random.split(jax.random.key(args.seed + 1), 2),
                              NamedSharding(mesh, PartitionSpec()))
        t0 = time.perf_counter()
        state, totals = compiled(keys[0], state, dev_params)  # first call: allocations, page faults
        jax.block_until_ready(totals)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        state, totals = compiled(keys[1], state, dev_params)
        jax.block_until_ready(totals)
        per_call = time.perf_counter() - t0
        calls = max(1, math.ceil(args.min_time / max(per_call, 1e-9)))
        all_keys = jax.device_put(jax.random.split(jax.random.key(args.seed + 2), args.repeats * calls),
                                  NamedSharding(mesh, PartitionSpec()))
        keys = [[all_keys[r * calls + c] for c in range(calls)] for r in range(args.repeats)]
        runs[d] = dict(compiled=compiled, state=state, params=dev_params, keys=keys, compile_s=compile_s,
                       first_call_s=first_s, calls=calls, times=[], cpu_times=[], totals=totals,
                       memory=_memory(compiled, b // d))
    for r in range(args.repeats):
        for run in runs.values():
            state, totals, p = run["state"], run["totals"], run["params"]
            t0, c0 = time.perf_counter(), time.process_time()
            for k in run["keys"][r]:
                state, totals = run["compiled"](k, state, p)
            jax.block_until_ready(totals)
            run["times"].append(time.perf_counter() - t0)
            run["cpu_times"].append(time.process_time() - c0)  # every thread of the process
            run["state"], run["totals"] = state, totals
    out = {}
    for d, run in runs.items():
        totals = np.asarray(run["totals"])
        if not np.all(np.isfinite(totals)):
            warnings.warn(f"non-finite JAX totals {totals} at B={b}, N={env.num_ues}, {d} devices", stacklevel=2)
        med = statistics.median(run["times"])
        steps = b * s * run["calls"]
        out[str(d)] = dict(
            devices=d, compile_s=run["compile_s"], first_call_s=run["first_call_s"],
            calls_per_repeat=run["calls"], steps_per_repeat=steps, times_s=run["times"], median_s=med,
            steps_per_s=steps / med, memory=run["memory"],
            # Cores kept busy: the process's CPU seconds per wall second over the timed repeats
            # (XLA's CPU runtime also splits a large fused loop over its thread pool, so one
            # device can keep several cores busy).
            cpu_s=run["cpu_times"], cores_busy=sum(run["cpu_times"]) / sum(run["times"]),
        )
        run.clear()
    return out


# ---------------------------------------------------------------------------- NumPy peers


def _action_bounds(p) -> tuple[float, ...]:
    return tuple(float(getattr(p, f)) for f in ("power_min", "power_max", "freq_min", "freq_max", "mu_min"))


def _timed_loop(loop, budget: float, cap: int, repeats: int) -> dict[str, Any]:
    """Calibrates ``loop(steps) -> seconds`` to about ``budget`` seconds, then times ``repeats``."""
    cal = max(1, min(cap, 3))
    rate = cal / max(loop(cal), 1e-9)  # warm-up and calibration
    steps = int(min(cap, max(1, rate * budget)))
    times = [loop(steps) for _ in range(repeats)]
    med = statistics.median(times)
    return dict(steps_per_repeat=steps, repeats=repeats, times_s=times, median_s=med)


def time_batched_peer(make, b: int, n: int, k: int, p, args, max_steps: int) -> dict[str, Any]:
    """A batched peer (``make(num_envs, seed)``): one vectorised step per time step for all B envs."""
    lo_p, hi_p, lo_f, hi_f, lo_m = _action_bounds(p)
    sim = make(b, args.seed + 2)
    sim.reset()
    rng = np.random.default_rng(args.seed + 3)
    shape = (b, n)

    def loop(steps: int) -> float:
        total = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            out = sim.step(rng.integers(0, k + 1, shape), rng.uniform(lo_p, hi_p, shape),
                           rng.uniform(lo_f, hi_f, shape), rng.uniform(lo_m, 1.0, shape))
            total += float(out[1].sum())
        dt = time.perf_counter() - t0
        if not math.isfinite(total):
            warnings.warn("non-finite batched NumPy reward", stacklevel=2)
        return dt

    r = _timed_loop(loop, args.peer_budget, max(1, max_steps), args.repeats)
    r["num_envs"] = b
    r["steps_per_repeat"] *= b  # env steps
    r["steps_per_s"] = r["steps_per_repeat"] / r["median_s"]
    return r


def time_per_env_peer(b: int, n: int, k: int, q: int, p, args) -> dict[str, Any]:
    """``reference.NumpyMEC``: a Python loop over (step, env) pairs, round robin, reset on done."""
    from semjax import reference

    lo_p, hi_p, lo_f, hi_f, lo_m = _action_bounds(p)
    num_envs = min(b, MAX_PER_ENV_STEPS)
    envs = [reference.NumpyMEC(n, k, q, params=p, seed=args.seed + 100 + i) for i in range(num_envs)]
    for e in envs:
        e.reset()
    rng = np.random.default_rng(args.seed + 1)

    def loop(steps: int) -> float:
        total = 0.0
        integers, uniform = rng.integers, rng.uniform
        t0 = time.perf_counter()
        for i in range(steps):
            e = envs[i % num_envs]
            _, r, done, _ = e.step(integers(0, k + 1, n), uniform(lo_p, hi_p, n), uniform(lo_f, hi_f, n),
                                   uniform(lo_m, 1.0, n))
            total += r
            if done:
                e.reset()
        return time.perf_counter() - t0

    r = _timed_loop(loop, args.peer_budget, MAX_PER_ENV_STEPS, args.repeats)
    r["num_envs"] = num_envs
    r["steps_per_s"] = r["steps_per_repeat"] / r["median_s"]
    return r


# ---------------------------------------------------------------------------- machine


def args_record(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a run as JSON values (callables dropped, paths as text)."""
    out = {}
    for k, v in vars(args).items():
        if callable(v) or k in ("func", "bench"):
            continue
        out[k] = str(v) if hasattr(v, "__fspath__") else v
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    import jax
    import jaxlib

    from semjax import vector

    devices = jax.devices()
    return dict(
        cpu=_cpu_model(), cpu_count=os.cpu_count(), platform=platform.platform(),
        backend=jax.default_backend(), devices=len(devices),
        device_kind=sorted({getattr(d, "device_kind", "") for d in devices}),
        jax=jax.__version__, jaxlib=getattr(jaxlib, "__version__", "?"), numpy=np.__version__,
        python=platform.python_version(), prng_impl=str(jax.config.jax_default_prng_impl),
        threefry_partitionable=bool(jax.config.jax_threefry_partitionable),
        xla_flags=os.environ.get("XLA_FLAGS", ""), nproc=os.environ.get("NPROC", ""),
        compiler_options=vector.compiler_options(vector.env_mesh(devices[:1])),
        date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )


# ---------------------------------------------------------------------------- the benchmark


def run(args: argparse.Namespace, progress=None) -> dict[str, Any]:
    """Runs the env benchmark; returns its JSON-ready result (see ``semjax.bench.tables``).

    The caller must have called ``semjax.vector.prepare_host(args.host_devices)`` before JAX
    started its backend; ``progress(done, total, label)`` is called between measurements.
    """
    import jax

    from semjax import SemanticMEC, reference
    from semjax.bench.numpy_peer import FastBatchedNumpyMEC

    t_start = time.perf_counter()
    all_devices = jax.devices()
    devices = [d for d in args.devices if d <= len(all_devices)]
    if not devices:
        raise ValueError(f"--devices {args.devices}: only {len(all_devices)} devices exist")
    combos, skipped = [], []
    for n in args.num_ues:
        for b in args.batch_sizes:
            (skipped if args.max_env_ues and b * n > args.max_env_ues else combos).append((n, b))
    peers = 0 if args.no_peers else 1 + int(args.reference_peer) + int(not args.no_per_env)
    total = len(combos) * (1 + peers) + int(args.profile)
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, total, label)
        done += 1

    load_before = loadavg()
    rows = []
    envs: dict[int, Any] = {}
    for n, b in combos:
        if n not in envs:
            envs[n] = SemanticMEC(num_ues=n, num_channels=n, queue_len=args.queue_len)
        env = envs[n]
        params = env.default_params
        p = reference.params_to_numpy(params)
        s = scan_length(b, n, n, args.queue_len, args.work, args.steps)
        row: dict[str, Any] = dict(num_ues=n, num_channels=n, queue_len=args.queue_len, num_envs=b, scan_steps=s,
                                   state_bytes_per_env=env.state_bytes(),
                                   obs_bytes_per_env=n * env.obs_dim * 4)
        tick(f"N={n} B={b}: JAX on {devices} devices")
        row["jax"] = time_jax(env, params, b, s, devices, all_devices, args)
        most = max((r["steps_per_repeat"] for r in row["jax"].values()), default=b * s)
        row["peers"] = {}
        if not args.no_peers:
            tick(f"N={n} B={b}: batched NumPy")
            row["peers"]["numpy_batched"] = time_batched_peer(
                lambda nb, seed, n=n, p=p: FastBatchedNumpyMEC(nb, n, n, args.queue_len, params=p, seed=seed),
                b, n, n, p, args, most // b)
            if args.reference_peer:
                tick(f"N={n} B={b}: reference NumPy")
                row["peers"]["numpy_reference"] = time_batched_peer(
                    lambda nb, seed, n=n, p=p: reference.BatchedNumpyMEC(nb, n, n, args.queue_len, params=p,
                                                                         seed=seed),
                    b, n, n, p, args, most // b)
            if not args.no_per_env:
                tick(f"N={n} B={b}: per-env NumPy")
                row["peers"]["numpy_per_env"] = time_per_env_peer(b, n, n, args.queue_len, p, args)
        rows.append(row)

    result: dict[str, Any] = dict(
        benchmark="env", schema=SCHEMA, machine=machine_info(),
        args=args_record(args),
        rows=rows,
        skipped=[dict(num_ues=n, num_envs=b, reason=f"B*N > --max-env-ues {args.max_env_ues}") for n, b in skipped],
        load_average_before=load_before,
    )
    if args.profile:
        from semjax.bench import profile

        tick("profile of one step")
        result["profile"] = profile.profile_step(num_envs=HEADLINE_B, num_ues=HEADLINE_N,
                                                 repeats=max(args.repeats, 5), seed=args.seed)
    if progress is not None:
        progress(done, total, "done")
    result["load_average_after"] = loadavg()
    result["total_wall_s"] = time.perf_counter() - t_start
    result["headline"] = headline(result)
    return result


def best_jax(row: dict[str, Any]) -> tuple[int, float] | None:
    """(devices, steps/s) of the fastest JAX measurement of a row."""
    if not row.get("jax"):
        return None
    d, r = max(row["jax"].items(), key=lambda kv: kv[1]["steps_per_s"])
    return int(d), r["steps_per_s"]


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The project's tracked figure: at B = 16384, N = K = 4, JAX (every device and one)
    against the speed-written batched NumPy peer and the per-env peer."""
    row = next((r for r in result["rows"] if r["num_envs"] == HEADLINE_B and r["num_ues"] == HEADLINE_N), None)
    if row is None:
        return dict(present=False, num_envs=HEADLINE_B, num_ues=HEADLINE_N)
    best = best_jax(row)
    one = row["jax"].get("1", {}).get("steps_per_s")
    peers = row.get("peers", {})
    batched = peers.get("numpy_batched", {}).get("steps_per_s")
    per_env = peers.get("numpy_per_env", {}).get("steps_per_s")
    vb = best[1] / batched if best and batched else None
    vp = best[1] / per_env if best and per_env else None
    return dict(
        present=True, num_envs=HEADLINE_B, num_ues=HEADLINE_N,
        jax_devices=best[0] if best else None, jax_steps_per_s=best[1] if best else None, jax_1_device_steps_per_s=one,
        ratio_vs_batched=vb, target_vs_batched=TARGET_VS_BATCHED,
        met_vs_batched=None if vb is None else vb >= TARGET_VS_BATCHED,
        ratio_vs_per_env=vp, target_vs_per_env=TARGET_VS_PER_ENV,
        met_vs_per_env=None if vp is None else vp >= TARGET_VS_PER_ENV,
        cores_busy={d: r["cores_busy"] for d, r in row["jax"].items() if "cores_busy" in r},
    )


def main(args: argparse.Namespace) -> dict[str, Any]:
    """The verb: host settings first, then the benchmark (``semjax.bench`` prints and writes)."""
    from semjax import vector

    args = resolve(args)
    vector.prepare_host(args.host_devices)
    return run(args, progress=getattr(args, "progress", None))
