"""Tables of the benchmarks' JSON results: pure functions, a result dict in, text out.

The same functions print the terminal tables of ``semjax bench`` and the Markdown tables of
README and ``docs/benchmarks.md``, so the numbers a user sees and the ones the docs quote
come from one place. Every table function takes the result dict a benchmark wrote and
``fmt="markdown"`` (the default: ``semjax.tables.markdown_table``, as every generated table of
the docs) or ``fmt="text"`` (aligned columns for a terminal).

Docs regions. ``docs/generate.py`` writes each table between ``<!-- table: NAME -->`` and
``<!-- /table -->``; :data:`DOCS_TABLES` says which function renders NAME from which JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from semjax.tables import markdown_table

_PEER_LABELS = {
    "numpy_batched": "batched NumPy",
    "numpy_reference": "reference NumPy",
    "numpy_per_env": "per-env NumPy",
}


# ---------------------------------------------------------------------------- formatting


def rate(x: float | None) -> str:
    """Steps/s with a unit suffix: 1.98M, 550k, 2.9k, 812."""
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.1f}x"


def size(n: float | None) -> str:
    """Bytes with a binary unit: 124 B, 3.5 KiB, 1.2 GiB."""
    if n is None:
        return "-"
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def flops(x: float | None) -> str:
    """FLOP or FLOP/s counts with an SI prefix: 8.4M, 49.0G, 1.2T."""
    if x is None:
        return "-"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


def render(header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str = "markdown",
           align: str | None = None) -> str:
    """A table as Markdown or aligned text. ``align`` (text only): one of l/r per column
    (default: the first column left, the rest right)."""
    if fmt not in ("markdown", "text"):
        raise ValueError(f"fmt must be 'markdown' or 'text' (got {fmt!r})")
    align = align or ("l" + "r" * (len(header) - 1))
    if len(align) != len(header) or any(len(r) != len(header) for r in rows):
        raise ValueError("every row and the alignment must have one entry per column")
    if fmt == "markdown":
        return markdown_table(header, rows)
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


# ---------------------------------------------------------------------------- env


def _device_counts(result: Mapping[str, Any]) -> list[int]:
    return sorted({int(d) for row in result["rows"] for d in row.get("jax", {})})


def env_table(result: Mapping[str, Any], fmt: str = "markdown") -> str:
    """Env steps/s per (N, B): JAX on each device count, the NumPy peers, and the ratios of
    the fastest JAX figure to the batched (speed-written) and per-env NumPy peers."""
    counts = _device_counts(result)
    peers = [p for p in _PEER_LABELS if any(p in row.get("peers", {}) for row in result["rows"])]
    header = ["N = K", "B"] + [f"JAX {d} dev" for d in counts] + [_PEER_LABELS[p] for p in peers]
    if "numpy_batched" in peers:
        header.append("JAX / batched")
    if "numpy_per_env" in peers:
        header.append("JAX / per-env")
    rows = []
    for row in result["rows"]:
        jax_rates = {int(d): r["steps_per_s"] for d, r in row.get("jax", {}).items()}
        best = max(jax_rates.values(), default=None)
        cells = [str(row["num_ues"]), str(row["num_envs"])]
        cells += [rate(jax_rates.get(d)) for d in counts]
        peer_rates = {p: row.get("peers", {}).get(p, {}).get("steps_per_s") for p in peers}
        cells += [rate(peer_rates[p]) for p in peers]
        for p in ("numpy_batched", "numpy_per_env"):
            if p in peers:
                cells.append(ratio(best / peer_rates[p] if best and peer_rates[p] else None))
        rows.append(cells)
    return render(header, rows, fmt, align="r" * len(header))


def env_headline(result: Mapping[str, Any]) -> str:
    """One line: the B = 16384, N = K = 4 figures against the targets."""
    h = result.get("headline") or {}
    if not h.get("present"):
        return f"headline (B={h.get('num_envs', 16384)}, N=K={h.get('num_ues', 4)}): not measured in this run"

    def part(name, value, target, met):
        if value is None:
            return f"{name}: not measured"
        return f"{name} {ratio(value)} (target >= {target:,.0f}x: {'met' if met else 'NOT met'})"

    busy = h.get("cores_busy") or {}
    cores = (" (cores busy: " + ", ".join(f"{busy[d]:.1f} on {d} device(s)" for d in sorted(busy, key=int)) + ")"
             if busy else "")
    return (f"headline (B={h['num_envs']}, N=K={h['num_ues']}): JAX {rate(h['jax_steps_per_s'])} env steps/s on "
            f"{h['jax_devices']} device(s), {rate(h.get('jax_1_device_steps_per_s'))} on 1{cores}; "
            + part("vs batched NumPy", h["ratio_vs_batched"], h["target_vs_batched"], h["met_vs_batched"]) + "; "
            + part("vs per-env NumPy", h["ratio_vs_per_env"], h["target_vs_per_env"], h["met_vs_per_env"]))


#: The GPU memory an H200 exposes to JAX, in GiB, which the memory table sizes B against.
H200_GIB = 139


def env_memory_table(result: Mapping[str, Any], fmt: str = "markdown") -> str:
    """Bytes per env: the state, one observation, and what XLA allocates for the rollout
    (arguments + temporaries of one device's program, divided by that device's envs), on one
    device; the last column is how many envs that allows in an H200's memory (:data:`H200_GIB`)."""
    header = ["N = K", "B", "state / env", "obs / env", "rollout / env", f"envs per {H200_GIB} GiB"]
    rows = []
    for row in result["rows"]:
        mem = (row.get("jax", {}).get("1") or {}).get("memory") or {}
        per_env = (mem["argument"] + mem["temp"]) / row["num_envs"] if "temp" in mem else None
        fit = f"{(H200_GIB * 2 ** 30) / per_env:.2e}" if per_env else "-"
        rows.append([str(row["num_ues"]), str(row["num_envs"]), size(row.get("state_bytes_per_env")),
                     size(row.get("obs_bytes_per_env")), size(per_env), fit])
    return render(header, rows, fmt, align="r" * len(header))


def env_profile_table(result: Mapping[str, Any], fmt: str = "markdown") -> str:
    """The step's cost breakdown (``semjax bench env --profile``): time and XLA's work counts
    per env step for each part."""
    prof = result.get("profile")
    if not prof:
        return "(no profile in this result: run `semjax bench env --profile`)"
    header = ["part", "ns / env step", "share of rollout", "FLOPs", "transcendentals", "bytes", "what it is"]
    rows = []
    for name, part in prof["parts"].items():
        rows.append([name, f"{part['ns_per_env_step']:.1f}", f"{100 * part['share_of_rollout']:.0f} %",
                     f"{part['flops_per_env_step']:.0f}", f"{part['transcendentals_per_env_step']:.0f}",
                     f"{part['bytes_per_env_step']:.0f}", part["description"]])
    return render(header, rows, fmt, align="lrrrrrl")


# ---------------------------------------------------------------------------- train


def train_table(result: Mapping[str, Any], fmt: str = "markdown") -> str:
    """MAPPO training throughput per width, FLOPs per env step, achieved FLOP/s against the
    matmul FLOP/s measured in the same run, and memory per run."""
    peak = (result.get("matmul") or {}).get("flops_per_s")
    header = ["width", "envs", "env steps/s", "FLOP / env step", "achieved FLOP/s", "of matmul peak",
              "memory / run", "compile s"]
    rows = []
    for row in result["rows"]:
        achieved = row.get("achieved_flops_per_s")
        rows.append([str(row["width"]), str(row["num_envs"]), rate(row["env_steps_per_s"]),
                     flops(row.get("flops_per_env_step")), flops(achieved) + "/s" if achieved else "-",
                     f"{100 * achieved / peak:.0f} %" if achieved and peak else "-",
                     size((row.get("memory") or {}).get("per_run")), f"{row['compile_s']:.1f}"])
    table = render(header, rows, fmt, align="r" * len(header))
    if peak:
        m = result["matmul"]
        samples = m.get("samples_flops_per_s", [])
        listed = f": {', '.join(flops(x) for x in samples)}" if samples else ""
        table += (f"\n\nmatmul peak: {flops(peak)}FLOP/s ({m['size']}^3 {m['dtype']} on {m['device']}, "
                  f"the best of {len(samples) or 1} samples{listed})")
    return table


def readme_speed(env_result: Mapping[str, Any], train_result: Mapping[str, Any]) -> str:
    """README's one table of speed: the env at the headline size against both NumPy peers, on
    each device count, and MAPPO training at each width; the machine named under it."""
    h = env_result.get("headline") or {}
    row = next((r for r in env_result["rows"]
                if r["num_envs"] == h.get("num_envs") and r["num_ues"] == h.get("num_ues")), None)
    rows = []
    if row is not None:
        peers = row.get("peers", {})
        for d, r in sorted(row.get("jax", {}).items(), key=lambda kv: int(kv[0])):
            rows.append([f"env step, B = {row['num_envs']} worlds, N = K = {row['num_ues']}, {d} CPU device(s)",
                         rate(r["steps_per_s"]), rate(peers.get("numpy_batched", {}).get("steps_per_s")),
                         rate(peers.get("numpy_per_env", {}).get("steps_per_s"))])
    for r in train_result["rows"]:
        rows.append([f"MAPPO training, width {r['width']}, {r['num_envs']} envs", rate(r["env_steps_per_s"]), "-", "-"])
    table = render(["env steps per second", "semjax (JAX)", "batched NumPy, written for speed", "NumPy, per env"],
                   rows, "markdown", align="lrrr")
    m = env_result.get("machine", {})
    return table + (f"\n\nMeasured by `semjax bench env` and `semjax bench train` on {m.get('cpu', '-')} "
                    f"({m.get('cpu_count', '-')} cores, no GPU), JAX {m.get('jax', '-')}; "
                    f"[all sizes and peers](docs/benchmarks.md).")


# ---------------------------------------------------------------------------- values in prose


def docs_values(env_result: Mapping[str, Any]) -> dict[str, str]:
    """The numbers docs/benchmarks.md quotes in its prose (``<!-- value: bench.KEY -->``), from
    the env benchmark's JSON: the profiled step's work counts, the smallest world's sizes, the
    cores kept busy at the headline size and the YNNPACK arm of the profile (when measured)."""
    prof = env_result["profile"]
    rollout, env_step = prof["parts"]["rollout"], prof["parts"]["env_step"]
    smallest = min(env_result["rows"], key=lambda row: (row["num_ues"], row["num_envs"]))
    busy = (env_result.get("headline") or {}).get("cores_busy") or {}
    ynnpack = prof["parts"].get("rollout_ynnpack")
    return {
        "profile_batch": str(prof["num_envs"]),
        "profile_num_ues": str(prof["num_ues"]),
        "rollout_kflops": f"{rollout['flops_per_env_step'] / 1e3:.0f}",
        "rollout_transcendentals": f"{rollout['transcendentals_per_env_step']:.0f}",
        "rollout_kbytes": f"{rollout['bytes_per_env_step'] / 1e3:.0f}",
        "env_step_kflops": f"{env_step['flops_per_env_step'] / 1e3:.0f}",
        "state_bytes": str(smallest["state_bytes_per_env"]),
        "obs_bytes": str(smallest["obs_bytes_per_env"]),
        "smallest_num_ues": str(smallest["num_ues"]),
        "h200_gib": str(H200_GIB),
        **{f"cores_busy_{d}": f"{v:.1f}" for d, v in busy.items()},
        **({"ynnpack_slowdown": f"{ynnpack['ns_per_env_step'] / rollout['ns_per_env_step']:.2f}"} if ynnpack else {}),
    }


# ---------------------------------------------------------------------------- docs regions

#: Region NAME -> (table function, the result JSON it reads, relative to the repository root).
#: ``docs/generate.py`` registers each as ``Table(function, (json,))``.
DOCS_TABLES: dict[str, tuple[Callable[..., str], str]] = {
    "bench_env": (env_table, "benchmarks/results/env_throughput.json"),
    "bench_env_memory": (env_memory_table, "benchmarks/results/env_throughput.json"),
    "bench_env_profile": (env_profile_table, "benchmarks/results/env_throughput.json"),
    "bench_train": (train_table, "benchmarks/results/train_throughput.json"),
}
