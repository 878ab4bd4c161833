#!/usr/bin/env python
"""Env throughput: the JAX ``SemanticMEC`` against its float64 NumPy peers.

Usage::

    python benchmarks/env_throughput.py            # the default sweep (several minutes on 2 cores)
    python benchmarks/env_throughput.py --quick    # a small smoke subset (B in {1, 64, 1024}, N = 4)

What is timed (one *env step* = one step of one env with all its N UEs; K = N sub-channels):

* **JAX**: ``run(key, state) -> (state, totals)`` is one jitted function: a ``jax.lax.scan``
  over S steps of ``jax.vmap(env.step)`` over B envs (with the env's auto-reset), the uniformly
  random actions drawn inside the scan with ``jax.random`` (one (B, N) draw per action part).
  ``totals`` = [sum of team rewards, sum of observations]: both reductions keep the whole step,
  observations included, alive (the NumPy peers compute observations too). It is compiled ahead
  of time (``jax.jit(run).lower(...).compile()``, timed separately), called once to warm up,
  then timed ``--repeats`` times; each repeat chains ``calls`` calls (state threaded through)
  so that a repeat lasts at least ``--min-time`` seconds, and ends with ``block_until_ready``.
  The initial state is ``jax.vmap(env.reset, in_axes=(0, None))(keys, params)``.
* **batched NumPy** (``reference.BatchedNumpyMEC``): one vectorised ``step`` per time step for
  all B envs (same-step auto-reset), actions drawn with a ``numpy.random.Generator`` in the
  loop. For very large B the peer is split into chunks of envs (``--peer-max-gb``) so that its
  float64 temporaries fit in memory; the chunks are stepped one after the other.
* **per-env NumPy** (``reference.NumpyMEC``): a Python loop over steps and envs (round robin),
  ``reset()`` on done, actions drawn per env step with the Generator.

The peers are built and reset once, outside the timings. They time a bounded number of env
steps (about ``--peer-budget`` seconds per repeat, never more work than one JAX repeat), with
``--peer-repeats`` repeats (or ``--repeats`` when a repeat is short); the JSON records how many
steps each measurement took. Throughput = env steps / median seconds.

The scan length S adapts to the size of a step: S = clamp(round(--work / (B * N * (N + K + Q
+ 10))), --min-steps, --steps), a rough per-env-step cost in elements; it is recorded per row.
Combos with B * N > --max-env-ues (default 2**20) are skipped and listed in the JSON: at N = 64,
B = 65536 one JAX step needs ~16 GB and ~17 s on 2 cores, the batched NumPy peer ~28 s.

The headline the project tracks: at B = 16384, N = K = 4 the ratios JAX / batched NumPy
(target >= 3x) and JAX / per-env NumPy (target >= 300x).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

try:
    import semjax  # noqa: F401
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp

from semjax import Action, SemanticMEC

HEADLINE_B, HEADLINE_N = 16384, 4
TARGET_VS_BATCHED, TARGET_VS_PER_ENV = 3.0, 300.0
DEFAULT_OUT = Path("benchmarks") / "results" / "env_throughput.json"
MAX_PER_ENV_STEPS = 20_000


def _log(msg: str) -> None:
    try:
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)
    except ImportError:
        print(msg, file=sys.stderr, flush=True)


def _reference():
    """semjax.reference, imported lazily (retrying once: it may be mid-edit elsewhere)."""
    try:
        from semjax import reference
    except Exception:  # noqa: BLE001
        time.sleep(2.0)
        from semjax import reference
    return reference


# ---------------------------------------------------------------------------- options


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Env steps/s of the JAX SemanticMEC (vmap + scan) against its NumPy peers.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--batch-sizes", type=_int_list, default=None,
                   help="B values (default 1,64,1024,16384,65536; --quick: 1,64,1024)")
    p.add_argument("--num-ues", type=_int_list, default=None,
                   help="N values, K = N (default 4,16,64; --quick: 4)")
    p.add_argument("--queue-len", type=int, default=20, help="Q, tasks per episode")
    p.add_argument("--steps", type=int, default=200, help="the largest scan length S")
    p.add_argument("--min-steps", type=int, default=1, help="the smallest scan length S")
    p.add_argument("--max-env-ues", type=int, default=1 << 20,
                   help="skip (B, N) combos with B * N above this (recorded as skipped; 0: no limit)")
    p.add_argument("--work", type=float, default=1e8,
                   help="S ~ work / (B * N * (N + K + Q + 10)), clamped to [--min-steps, --steps]")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats of the JAX run (median)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds a JAX repeat lasts at least (chained calls)")
    p.add_argument("--peer-budget", type=float, default=None,
                   help="about this many seconds per NumPy peer repeat (default 1.5; --quick 0.3)")
    p.add_argument("--peer-repeats", type=int, default=3,
                   help="repeats of a NumPy peer whose repeat is long (> 1 s); short ones use --repeats")
    p.add_argument("--peer-max-gb", type=float, default=4.0,
                   help="split the batched NumPy peer into chunks of envs above ~this many GB of temporaries")
    p.add_argument("--no-per-env", action="store_true", help="skip the per-env NumPy peer")
    p.add_argument("--no-batched", action="store_true", help="skip the batched NumPy peer")
    p.add_argument("--quick", action="store_true", help="a small smoke subset (B in {1,64,1024}, N = 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    p.add_argument("--plain", action="store_true", help="plain-text table even if rich is installed")
    return p


def _resolve(args: argparse.Namespace) -> argparse.Namespace:
    if args.batch_sizes is None:
        args.batch_sizes = [1, 64, 1024] if args.quick else [1, 64, 1024, 16384, 65536]
    if args.num_ues is None:
        args.num_ues = [4] if args.quick else [4, 16, 64]
    if args.peer_budget is None:
        args.peer_budget = 0.3 if args.quick else 1.5
    for name in ("queue_len", "steps", "min_steps", "repeats", "peer_repeats"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    args.min_steps = min(args.min_steps, args.steps)
    return args


def scan_length(b: int, n: int, k: int, q: int, args: argparse.Namespace) -> int:
    cost = b * n * (n + k + q + 10)
    return int(min(max(round(args.work / cost), args.min_steps), args.steps))


# ---------------------------------------------------------------------------- JAX


def make_run(env: SemanticMEC, params, num_envs: int, num_steps: int):
    """``run(key, state) -> (state, totals)``: S auto-resetting steps of B envs, random actions."""
    b, n, k = num_envs, env.num_ues, env.num_channels
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry, _):
        key, state, totals = carry
        key, k_choice, k_power, k_freq, k_mu, k_step = jax.random.split(key, 6)
        action = Action(
            choice=jax.random.randint(k_choice, (b, n), 0, k + 1),
            power=jax.random.uniform(k_power, (b, n), jnp.float32, f32(params.power_min), f32(params.power_max)),
            freq=jax.random.uniform(k_freq, (b, n), jnp.float32, f32(params.freq_min), f32(params.freq_max)),
            mu=jax.random.uniform(k_mu, (b, n), jnp.float32, f32(params.mu_min), 1.0),
        )
        obs, state, reward, _, _ = step(jax.random.split(k_step, b), state, action, params)
        totals = totals + jnp.stack([jnp.sum(reward), jnp.sum(obs)])
        return (key, state, totals), None

    def run(key, state):
        (_, state, totals), _ = jax.lax.scan(
            body, (key, state, jnp.zeros((2,), jnp.float32)), None, length=num_steps
        )
        return state, totals

    return run


def time_jax(env: SemanticMEC, params, b: int, s: int, args) -> dict[str, Any]:
    key = jax.random.key(args.seed)
    key, k_reset = jax.random.split(key)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, b), params)
    state = jax.block_until_ready(state)

    t0 = time.perf_counter()
    lowered = jax.jit(make_run(env, params, b, s), donate_argnums=(1,)).lower(key, state)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()

    def call(state, keys):
        totals = None
        for k in keys:
            state, totals = compiled(k, state)
        jax.block_until_ready((state, totals))
        return state, totals

    key, k_warm, k_cal, k_rep = jax.random.split(key, 4)
    tw = time.perf_counter()
    state, totals = call(state, [k_warm])  # warm-up (first execution: allocations, page faults)
    first_s = time.perf_counter() - tw
    tw = time.perf_counter()
    state, totals = call(state, [k_cal])  # a second call calibrates the repeat length
    per_call = time.perf_counter() - tw
    calls = max(1, math.ceil(args.min_time / max(per_call, 1e-9)))

    # One key per call, made before the timings (a fresh key array per call, no slicing inside).
    rep_keys = jax.random.split(k_rep, (args.repeats, calls))
    rep_keys = [[rep_keys[r, c] for c in range(calls)] for r in range(args.repeats)]
    times = []
    for keys in rep_keys:
        tr = time.perf_counter()
        state, totals = call(state, keys)
        times.append(time.perf_counter() - tr)
    totals = np.asarray(totals)
    if not np.all(np.isfinite(totals)):
        warnings.warn(f"non-finite JAX totals {totals} at B={b}, N={env.num_ues}", stacklevel=2)
    del state
    med = statistics.median(times)
    steps = b * s * calls
    return dict(
        trace_lower_s=t1 - t0,
        compile_s=t2 - t1,
        first_call_s=first_s,
        calls_per_repeat=calls,
        steps_per_repeat=steps,
        repeats=len(times),
        times_s=times,
        median_s=med,
        steps_per_s=steps / med,
        last_totals=[float(v) for v in totals],
    )


# ---------------------------------------------------------------------------- NumPy peers


def _action_bounds(p_np) -> tuple[float, float, float, float, float]:
    """(power_min, power_max, freq_min, freq_max, mu_min) as Python floats."""
    return tuple(float(getattr(p_np, f)) for f in ("power_min", "power_max", "freq_min", "freq_max", "mu_min"))


def _repeats_for(t_repeat: float, args) -> int:
    return args.repeats if t_repeat <= 1.0 else min(args.repeats, max(3, args.peer_repeats))


def time_per_env(env: SemanticMEC, p_np, b: int, max_steps: int, args) -> dict[str, Any]:
    """NumpyMEC: a Python loop over (step, env) pairs, round robin over the envs, reset on done."""
    ref = _reference()
    n, k, q = env.num_ues, env.num_channels, env.queue_len
    lo_p, hi_p, lo_f, hi_f, lo_m = _action_bounds(p_np)
    rng = np.random.default_rng(args.seed + 1)
    cap = max(1, min(max_steps, MAX_PER_ENV_STEPS))
    num_envs = min(b, cap)  # only the envs the bounded loop reaches
    envs = [ref.NumpyMEC(n, k, q, params=p_np, seed=args.seed + 100 + i) for i in range(num_envs)]
    for e in envs:
        e.reset()

    def loop(num_steps: int) -> float:
        total = 0.0
        integers, uniform = rng.integers, rng.uniform
        t0 = time.perf_counter()
        for i in range(num_steps):
            e = envs[i % num_envs]
            _, r, done, _ = e.step(
                integers(0, k + 1, n), uniform(lo_p, hi_p, n), uniform(lo_f, hi_f, n), uniform(lo_m, 1.0, n)
            )
            total += r
            if done:
                e.reset()
        dt = time.perf_counter() - t0
        if not math.isfinite(total):
            warnings.warn("non-finite per-env NumPy reward", stacklevel=2)
        return dt

    cal = min(cap, 100)
    dt = loop(cal)  # warm-up and calibration
    rate = cal / dt
    steps = int(min(cap, max(1, rate * args.peer_budget)))
    reps = _repeats_for(steps / rate, args)
    times = [loop(steps) for _ in range(reps)]
    med = statistics.median(times)
    return dict(num_envs=num_envs, steps_per_repeat=steps, repeats=reps, times_s=times,
                median_s=med, steps_per_s=steps / med)


def time_batched(env: SemanticMEC, p_np, b: int, max_time_steps: int, args) -> dict[str, Any]:
    """BatchedNumpyMEC: one vectorised step per time step (per chunk of envs)."""
    ref = _reference()
    n, k, q = env.num_ues, env.num_channels, env.queue_len
    lo_p, hi_p, lo_f, hi_f, lo_m = _action_bounds(p_np)
    # Peak float64 temporaries of one step are ~4 copies of the (B, N, D) observation.
    bytes_per_env = 4 * n * env.obs_dim * 8
    chunk = max(1, min(b, int(args.peer_max_gb * 1e9 // bytes_per_env)))
    sizes = [chunk] * (b // chunk) + ([b % chunk] if b % chunk else [])
    sims = [ref.BatchedNumpyMEC(sz, n, k, q, params=p_np, seed=args.seed + 200 + i) for i, sz in enumerate(sizes)]
    for sim in sims:
        sim.reset()
    rng = np.random.default_rng(args.seed + 2)

    def loop(num_steps: int) -> float:
        total = 0.0
        integers, uniform = rng.integers, rng.uniform
        t0 = time.perf_counter()
        for _ in range(num_steps):
            for sim in sims:
                shape = (sim.num_envs, n)
                _, r, _, _ = sim.step(
                    integers(0, k + 1, shape), uniform(lo_p, hi_p, shape),
                    uniform(lo_f, hi_f, shape), uniform(lo_m, 1.0, shape),
                )
                total += float(r.sum())
        dt = time.perf_counter() - t0
        if not math.isfinite(total):
            warnings.warn("non-finite batched NumPy reward", stacklevel=2)
        return dt

    t_step = loop(1)  # warm-up and calibration
    if t_step < args.peer_budget / 20:
        t_step = loop(5) / 5
    steps = int(min(max(1, max_time_steps), max(1, args.peer_budget // t_step)))
    reps = _repeats_for(steps * t_step, args)
    times = [loop(steps) for _ in range(reps)]
    med = statistics.median(times)
    sims.clear()  # free the peers before the next, larger configuration
    return dict(num_envs=b, chunks=len(sizes), chunk_size=chunk, time_steps_per_repeat=steps,
                steps_per_repeat=steps * b, repeats=reps, times_s=times, median_s=med,
                steps_per_s=steps * b / med)


# ---------------------------------------------------------------------------- report


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    import jaxlib

    devices = jax.devices()
    return dict(
        platform=platform.platform(),
        processor=platform.processor() or _cpu_model(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        jax_devices=[str(d) for d in devices],
        jax_device_kind=[getattr(d, "device_kind", "") for d in devices],
        jax_backend=jax.default_backend(),
        jax_version=jax.__version__,
        jaxlib_version=getattr(jaxlib, "__version__", "?"),
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        prng_impl=str(jax.config.jax_default_prng_impl),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
        date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )


def _fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else (f"{x / 1e3:.1f}k" if x >= 1e3 else f"{x:.0f}")


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}x"


COLUMNS = ("N", "K", "B", "S", "compile s", "JAX steps/s", "batched-NumPy steps/s",
           "per-env-NumPy steps/s", "JAX/batched", "JAX/per-env")


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        str(row["num_ues"]), str(row["num_channels"]), str(row["num_envs"]), str(row["scan_steps"]),
        f"{row['jax']['compile_s']:.2f}", _fmt_rate(row["jax"]["steps_per_s"]),
        _fmt_rate((row.get("batched") or {}).get("steps_per_s")),
        _fmt_rate((row.get("per_env") or {}).get("steps_per_s")),
        _fmt_ratio(row.get("ratio_vs_batched")), _fmt_ratio(row.get("ratio_vs_per_env")),
    ]


def print_table(rows: list[dict[str, Any]], plain: bool) -> None:
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table

            table = Table(title="SemanticMEC env throughput (env steps/s; one env step = all N UEs)")
            for c in COLUMNS:
                table.add_column(c, justify="right")
            for row in rows:
                table.add_row(*_cells(row))
            Console(width=None if sys.stdout.isatty() else 160).print(table)
            return
        except ImportError:
            pass
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    line = lambda cs: "  ".join(c.rjust(w) for c, w in zip(cs, widths))  # noqa: E731
    print("SemanticMEC env throughput (env steps/s; one env step = all N UEs)")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for c in cells[1:]:
        print(line(c))


def headline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    row = next((r for r in rows if r["num_envs"] == HEADLINE_B and r["num_ues"] == HEADLINE_N), None)
    if row is None:
        return dict(present=False, num_envs=HEADLINE_B, num_ues=HEADLINE_N)
    vb, vp = row.get("ratio_vs_batched"), row.get("ratio_vs_per_env")
    return dict(
        present=True, num_envs=HEADLINE_B, num_ues=HEADLINE_N,
        jax_steps_per_s=row["jax"]["steps_per_s"],
        ratio_vs_batched=vb, target_vs_batched=TARGET_VS_BATCHED,
        met_vs_batched=None if vb is None else vb >= TARGET_VS_BATCHED,
        ratio_vs_per_env=vp, target_vs_per_env=TARGET_VS_PER_ENV,
        met_vs_per_env=None if vp is None else vp >= TARGET_VS_PER_ENV,
    )


def print_headline(h: dict[str, Any]) -> None:
    if not h["present"]:
        print(f"headline: (B={HEADLINE_B}, N=K={HEADLINE_N}) is not in this sweep")
        return

    def part(name, ratio, target, met):
        if ratio is None:
            return f"{name}: skipped"
        return f"{name} = {ratio:.1f}x (target >= {target:g}x: {'met' if met else 'NOT met'})"

    print(
        f"headline (B={HEADLINE_B}, N=K={HEADLINE_N}, JAX {_fmt_rate(h['jax_steps_per_s'])} steps/s): "
        + part("JAX/batched-NumPy", h["ratio_vs_batched"], TARGET_VS_BATCHED, h["met_vs_batched"])
        + "; "
        + part("JAX/per-env-NumPy", h["ratio_vs_per_env"], TARGET_VS_PER_ENV, h["met_vs_per_env"])
    )


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _resolve(build_parser().parse_args(argv))
    warnings.filterwarnings("ignore", message=".*donated buffers were not usable.*")
    t_start = time.perf_counter()
    ref = None if (args.no_per_env and args.no_batched) else _reference()

    combos, skipped = [], []
    for n in args.num_ues:
        for b in args.batch_sizes:
            too_big = args.max_env_ues and b * n > args.max_env_ues
            (skipped if too_big else combos).append((n, b))
    for n, b in skipped:
        _log(f"skipping N=K={n} B={b}: B*N = {b * n} > --max-env-ues {args.max_env_ues}")
    load_before = _loadavg()
    if load_before is not None and load_before[0] > 0.5 * (os.cpu_count() or 1):
        _log(f"warning: load average {load_before[0]:.2f} on {os.cpu_count()} CPUs: other processes "
             "are running, timings will be noisy")
    try:
        from tqdm import tqdm

        progress = tqdm(combos, desc="env_throughput", file=sys.stderr, leave=False)
    except ImportError:
        progress = combos

    rows: list[dict[str, Any]] = []
    state_bytes: dict[str, int] = {}
    envs: dict[int, SemanticMEC] = {}
    for n, b in progress:
        if n not in envs:
            envs[n] = SemanticMEC(num_ues=n, num_channels=n, queue_len=args.queue_len)
            state_bytes[str(n)] = envs[n].state_bytes()
        env = envs[n]
        params = env.default_params
        s = scan_length(b, n, n, args.queue_len, args)
        _log(f"N=K={n} B={b} S={s}: JAX ...")
        row: dict[str, Any] = dict(num_ues=n, num_channels=n, queue_len=args.queue_len, num_envs=b, scan_steps=s)
        row["jax"] = time_jax(env, params, b, s, args)
        jax_rate = row["jax"]["steps_per_s"]
        steps_repeat = row["jax"]["steps_per_repeat"]
        p_np = ref.params_to_numpy(params) if ref is not None else None
        if not args.no_batched:
            _log(f"N=K={n} B={b}: batched NumPy ...")
            row["batched"] = time_batched(env, p_np, b, steps_repeat // b, args)
            row["ratio_vs_batched"] = jax_rate / row["batched"]["steps_per_s"]
        if not args.no_per_env:
            _log(f"N=K={n} B={b}: per-env NumPy ...")
            row["per_env"] = time_per_env(env, p_np, b, steps_repeat, args)
            row["ratio_vs_per_env"] = jax_rate / row["per_env"]["steps_per_s"]
        rows.append(row)
        _log("  " + "  ".join(f"{c}={v}" for c, v in zip(COLUMNS, _cells(row))))

    head = headline(rows)
    result = dict(
        benchmark="env_throughput",
        machine=machine_info(),
        argv=sys.argv[1:] if argv is None else list(argv),
        args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        state_bytes_per_env=state_bytes,
        skipped=[dict(num_ues=n, num_envs=b, reason=f"B*N > --max-env-ues {args.max_env_ues}")
                 for n, b in skipped],
        load_average_before=load_before,
        load_average_after=_loadavg(),
        notes=(
            "steps_per_s = env steps (one env, all N UEs) / median seconds of a repeat; "
            "JAX: scan over S steps of vmap(env.step) (auto-reset) over B envs, random actions in "
            "the scan, reward and obs reduced; steps_per_repeat = B*S*calls_per_repeat. Peers: "
            "steps_per_repeat env steps per repeat (bounded by --peer-budget), median of 'repeats'."
        ),
        rows=rows,
        headline=head,
        total_wall_s=time.perf_counter() - t_start,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    print_table(rows, args.plain)
    print_headline(head)
    for n, b in skipped:
        print(f"skipped N=K={n} B={b} (B*N > --max-env-ues {args.max_env_ues})")
    print(f"total wall time {result['total_wall_s']:.1f} s; load average before/after "
          f"{load_before}/{result['load_average_after']}; results in {args.out}")
    return result


if __name__ == "__main__":
    main()
