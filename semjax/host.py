"""XLA's CPU settings that semjax needs, made before JAX starts its backend.

On a 2-core machine XLA's CPU runtime wedges on vmapped training programs: in the first call
every thread parks and the call never returns (0 % CPU, forever). Measured on 2 cores with
JAX 0.10.2: MAPPO at width 64 vmapped over 2 seeds hangs (width 16 to 48 does not), and so
does the 3-seed, 64-env program of ``semjax paper``. Turning off XLA's
concurrency-optimised scheduler avoids it and costs nothing; the other cure, a thread pool of
16 (``NPROC=16``), also works but makes a single 64-env MAPPO run markedly slower on
2 cores (oversubscription), and YNNPACK, XNNPACK, oneDNN or single-threaded Eigen being off
do not help.

``import semjax`` calls :func:`configure_cpu`, so ``jax.jit(jax.vmap(make_train(...)))`` works
on small machines. It takes effect only if no JAX computation ran before the import (the
backend reads ``XLA_FLAGS`` once, when it starts); a value the user set for the flag is kept.

The flag is not a cure for every program: a vmapped program split over several host devices
wedges too when XLA's thread pool has no more threads than cores (the CPU default), because
each device's execution holds a pool thread while it waits for work queued on the same pool.
``semjax sweep`` and ``semjax paper`` therefore call :func:`widen_cpu_pool`, which gives the
pool one thread per core plus one per device. A wider pool is no safer and costs time: on 2
cores the quick paper's training programs ran markedly slower with a pool of 16 than with 4
(their ``programs.csv`` records each program's time).
The pool size changes the numbers (:func:`semjax.config.versions`), so a sweep folder written
under one ``NPROC`` resumes only under the same ``NPROC``.
"""

from __future__ import annotations

import os

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"


def configure_cpu() -> str:
    """Adds ``--xla_cpu_enable_concurrency_optimized_scheduler=false`` to ``XLA_FLAGS`` unless
    that flag is already there; returns ``XLA_FLAGS``. GPU and TPU backends ignore it."""
    flags = os.environ.get("XLA_FLAGS", "")
    if SCHEDULER_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {SCHEDULER_FLAG}=false".strip()
    return os.environ["XLA_FLAGS"]


def widen_cpu_pool(host_devices: int | None = None) -> str:
    """Sets ``NPROC`` (XLA's CPU thread-pool size) to cores + host devices (default one device
    per core) unless already set; call it before JAX starts its backend. Returns its value."""
    cores = os.cpu_count() or 1
    return os.environ.setdefault("NPROC", str(cores + (host_devices or cores)))


def prepare_host(host_devices: int | None = None) -> str:
    """Sets XLA's CPU settings for a sweep; call it before JAX starts its backend. Returns XLA_FLAGS.

    * ``NPROC`` (XLA's CPU thread-pool size) is raised to cores + devices
      (:func:`widen_cpu_pool`): with the default pool a vmapped training program split over
      host devices wedges (every thread parked, forever), even with the scheduler flag that
      ``import semjax`` sets (:mod:`semjax.host`).
    * ``--xla_cpu_multi_thread_eigen=false``: Eigen's own threads add nothing once the runs
      are spread over devices, and multi-threaded Eigen has its own reported wedges on vmapped
      CPU programs.
    * ``--xla_force_host_platform_device_count``: the CPU is split into one device per core
      (default ``os.cpu_count()``) so that the sweep's sharding spreads runs over the cores;
      a GPU backend is unaffected.

    Settings the user already made (NPROC, flags in XLA_FLAGS) are kept.
    """
    widen_cpu_pool(host_devices)
    flags = configure_cpu()
    if "xla_cpu_multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false"
    if "xla_force_host_platform_device_count" not in flags:
        flags += f" --xla_force_host_platform_device_count={host_devices or os.cpu_count() or 1}"
    os.environ["XLA_FLAGS"] = flags.strip()
    return os.environ["XLA_FLAGS"]
