"""XLA's CPU thread pool, widened before JAX starts its backend.

XLA sizes its CPU thread pool from ``NPROC`` (default: the core count). On a 2-core machine
the vmapped training programs wedge with that default: in the first call every thread parks
and the call never returns (0 % CPU, forever), as nested loops wait on work queued behind them
on a pool of 2 threads. Measured on 2 cores with JAX 0.10.2: MAPPO at width 64, vmapped over 2
seeds, hangs with the default pool and with every XLA CPU flag tried (YNNPACK, XNNPACK, oneDNN
off, single-threaded Eigen), and finishes with ``NPROC=16``; width 16 to 48 does not hang.

``import semjax`` calls :func:`widen_cpu_pool`, so ``jax.jit(jax.vmap(make_train(...)))`` works
on small machines. It takes effect only if no JAX computation ran before the import (the
backend reads ``NPROC`` once, when it starts); a value the user set is kept.
"""

from __future__ import annotations

import os

MIN_THREADS = 16


def widen_cpu_pool() -> str:
    """Sets ``NPROC`` to max(16, 2 x cores) unless already set; returns its value."""
    return os.environ.setdefault("NPROC", str(max(MIN_THREADS, 2 * (os.cpu_count() or 1))))
