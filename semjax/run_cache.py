"""Finished programs of a long run, kept on disk so that an interrupted run resumes where it stopped.

``semjax paper`` is a sequence of compiled programs (one training program per method and
setting, one evaluation program per method) that takes hours at the full budget. A
:class:`RunCache` under ``DIR/cache`` stores each program's output (a pytree of arrays) under
its label as soon as it finishes; a rerun with the same output folder loads it instead of
recomputing it. Programs are seeded, so a resumed run writes the same numbers as an
uninterrupted one.

A fingerprint of everything that decides the numbers (the config, the budget, the package
versions) is written with the cache; resuming under a different fingerprint is an error
naming the differing keys, never a silent mix of two runs.

The machine (CPU model, OS) is kept apart from the fingerprint. XLA compiles for the host CPU,
so two CPU models need not give bit-identical numbers for one seed, and by default a cache
begun on one machine is not resumed on another. A run too long for one machine's time (a
preempted cluster job rescheduled elsewhere, say) may pass ``across_machines=True``: every
program records the machine it ran on, so the mix is stated rather than hidden.

Storage is a NumPy ``.npz`` of the leaves plus the pickled tree structure. A checkpoint
library (orbax) restores a tree without a target as plain dicts and lists, losing tuples and
Flax containers, and a target would mean tracing each training program again just to learn
its output structure; the pickled ``PyTreeDef`` restores the exact structure at no cost. The
pickle is read back only from the run's own folder.
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

FINGERPRINT = "fingerprint.json"
MACHINE = "machine.json"  # the machine that began the run


_MISSING = "<missing>"


def differing_keys(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) wherever two JSON-like dicts differ, sorted by key."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += differing_keys(old.get(k, _MISSING), new.get(k, _MISSING), f"{prefix}{k}.")
        return out
    return [] if old == new else [(prefix[:-1], old, new)]


def describe_differences(old: dict, new: dict, most: int = 4) -> str:
    """``differing keys: [...]`` and the first few values, there (recorded) and here (now)."""
    diff = differing_keys(old, new)

    def short(x):
        text = json.dumps(x, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    shown = "; ".join(f"{k}: {short(a)} there, {short(b)} here" for k, a, b in diff[:most])
    return f"differing keys: {[k for k, _, _ in diff]}: {shown}"


class RunCache:
    """Per-label results of one run under ``folder``; see the module docstring.

    ``fingerprint`` and ``machine`` must be JSON-serialisable. With ``fresh=True`` an existing
    cache is removed first. ``enabled=False`` computes everything and stores nothing.
    ``across_machines=True`` resumes a cache begun on another ``machine``.
    ``machines`` maps every label loaded or computed to the machine its program ran on.
    """

    def __init__(self, folder: str | Path, fingerprint: dict, fresh: bool = False, enabled: bool = True,
                 machine: dict | None = None, across_machines: bool = False):
        self.folder = Path(folder)
        self.enabled = enabled
        self.resumed: list[str] = []
        self.machine = json.loads(json.dumps(machine or {}, sort_keys=True, default=str))
        self.origin = self.machine
        self.machines: dict[str, dict] = {}
        if not enabled:
            return
        fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        if fresh and self.folder.exists():
            shutil.rmtree(self.folder)
        path = self.folder / FINGERPRINT
        if path.exists():
            old = json.loads(path.read_text())
            if old != fingerprint:
                raise ValueError(
                    f"{str(self.folder)!r} holds results of a different run ({describe_differences(old, fingerprint)}); "
                    "resume only with the same config, budget and versions, or pass --fresh to discard them "
                    "(or choose another --out)")
            origin = self.folder / MACHINE
            self.origin = json.loads(origin.read_text()) if origin.exists() else self.machine
            if self.origin != self.machine and not across_machines:
                raise ValueError(
                    f"{str(self.folder)!r} was begun on another machine ({describe_differences(self.origin, self.machine)}); "
                    "XLA compiles for the host CPU, so a seed's numbers need not match bit for bit across machines. "
                    "Pass --across-machines to resume it anyway (each program's machine is recorded), "
                    "or --fresh to discard it")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
            (self.folder / MACHINE).write_text(json.dumps(self.machine, indent=1, sort_keys=True))

    def _paths(self, label: str) -> tuple[Path, Path]:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        return self.folder / f"{safe}.npz", self.folder / f"{safe}.tree.pkl"

    def has(self, label: str) -> bool:
        return self.enabled and all(p.exists() for p in self._paths(label))

    def load(self, label: str) -> tuple[Any, float]:
        """(stored pytree with NumPy leaves, seconds the program took when it ran)."""
        arrays, tree = self._paths(label)
        with np.load(arrays) as data:
            leaves = [data[f"leaf{i}"] for i in range(sum(f.startswith("leaf") for f in data.files))]
            seconds = float(data["seconds"])
            # Entries written before machines were recorded ran on the machine that began the run.
            self.machines[label] = json.loads(str(data["machine"])) if "machine" in data.files else self.origin
        return jax.tree.unflatten(pickle.loads(tree.read_bytes()), leaves), seconds

    def store(self, label: str, value: Any, seconds: float) -> None:
        if not self.enabled:
            return
        arrays, tree = self._paths(label)
        leaves, treedef = jax.tree.flatten(jax.device_get(value))
        tmp = arrays.with_suffix(".tmp.npz")
        machine = np.str_(json.dumps(self.machine, sort_keys=True))
        np.savez(tmp, seconds=np.float64(seconds), machine=machine, **{f"leaf{i}": np.asarray(x) for i, x in enumerate(leaves)})
        tree.write_bytes(pickle.dumps(treedef))
        tmp.replace(arrays)  # the .npz appears last and whole: a half-written entry is never "done"

    def __call__(self, label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
        """``fn()``'s value and its seconds: loaded if stored under ``label``, else computed and stored."""
        if self.has(label):
            self.resumed.append(label)
            return self.load(label)
        start = time.perf_counter()
        value = jax.block_until_ready(fn())
        seconds = time.perf_counter() - start
        self.store(label, value, seconds)
        self.machines[label] = self.machine
        return value, seconds
