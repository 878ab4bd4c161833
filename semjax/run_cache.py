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

Several processes may work on one run (two workers on a machine whose single program leaves
cores idle, or jobs on machines sharing the folder). A process about to compute a program
claims its label first (``LABEL.claim``, created exclusively, naming the host and process);
the others skip a claimed program while they have other work and wait for it when they need
its result. A claim is released when its program is stored or its process stops. A claim left
by a process that died without releasing it (``kill -9``) is taken over when that process is
on this host and gone; a dead process's claim from another host must be deleted by hand (the
waiting process's log names the file).

Storage is a NumPy ``.npz`` of the leaves plus the pickled tree structure. A checkpoint
library (orbax) restores a tree without a target as plain dicts and lists, losing tuples and
Flax containers, and a target would mean tracing each training program again just to learn
its output structure; the pickled ``PyTreeDef`` restores the exact structure at no cost. The
pickle is read back only from the run's own folder.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import threading
import time
from datetime import datetime, timezone
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
    ``machines`` maps every label loaded or computed to the machine its program ran on;
    ``resumed`` lists the labels loaded that this process did not compute.
    """

    def __init__(self, folder: str | Path, fingerprint: dict, fresh: bool = False, enabled: bool = True,
                 machine: dict | None = None, across_machines: bool = False):
        self.folder = Path(folder)
        self.enabled = enabled
        self.resumed: list[str] = []
        self.computed: set[str] = set()  # by this process, so not "resumed" when read back
        self.owner = {"host": socket.gethostname(), "pid": os.getpid()}
        self.machine = json.loads(json.dumps(machine or {}, sort_keys=True, default=str))
        self.origin = self.machine
        self.machines: dict[str, dict] = {}
        if not enabled:
            return
        fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        if fresh and self.folder.exists():
            busy = [c for c in self.folder.glob("*.claim") if self._live_other(c)]
            if busy:
                raise ValueError(f"--fresh would discard {str(self.folder)!r} while another process works on it "
                                 f"({busy[0].name}: {busy[0].read_text().strip()})")
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

    @staticmethod
    def _safe(label: str) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)

    def _paths(self, label: str) -> tuple[Path, Path]:
        safe = self._safe(label)
        return self.folder / f"{safe}.npz", self.folder / f"{safe}.tree.pkl"

    def claim_path(self, label: str) -> Path:
        return self.folder / f"{self._safe(label)}.claim"

    def _owner(self, path: Path) -> dict | None:
        """The claim's owner (host, pid, since); None when gone or half-written by a process that died creating it."""
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def _mine(self, owner: dict) -> bool:
        return owner.get("host") == self.owner["host"] and owner.get("pid") == self.owner["pid"]

    def _live_other(self, path: Path) -> dict | None:
        """The owner of the claim at ``path`` if it is another process that may still be running."""
        owner = self._owner(path)
        if owner is None or self._mine(owner):
            return None
        if owner.get("host") != self.owner["host"]:
            return owner  # no way to tell from here
        try:
            os.kill(int(owner["pid"]), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, someone else's
        return owner

    def claimed_by_other(self, label: str) -> dict | None:
        """The owner (host, pid, since) of another live process's claim on ``label``, else None."""
        return self._live_other(self.claim_path(label)) if self.enabled else None

    def claim(self, label: str) -> bool:
        """Claims ``label`` for this process: False when another live process holds it.

        A stale claim (its process gone from this host) is taken over.
        """
        if not self.enabled:
            return True
        path = self.claim_path(label)
        text = json.dumps(self.owner | {"since": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._live_other(path):
                    return False
                path.unlink(missing_ok=True)  # stale or already ours: create it afresh
                continue
            with os.fdopen(fd, "w") as f:
                f.write(text)
            return True
        return not self._live_other(path)

    def release(self, label: str) -> None:
        """Removes this process's claim on ``label`` (a claim of another process is left alone)."""
        path = self.claim_path(label)
        owner = self._owner(path) if self.enabled else None
        if owner is not None and self._mine(owner):
            path.unlink(missing_ok=True)

    def release_all(self) -> None:
        """Removes every claim of this process (on exit, including an interrupted one)."""
        if self.enabled and self.folder.exists():
            for path in self.folder.glob("*.claim"):
                owner = self._owner(path)
                if owner is not None and self._mine(owner):
                    path.unlink(missing_ok=True)

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
        # one name per process and thread: two may store one label (a stale claim taken over)
        tmp = arrays.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npz")
        machine = np.str_(json.dumps(self.machine, sort_keys=True))
        np.savez(tmp, seconds=np.float64(seconds), machine=machine, **{f"leaf{i}": np.asarray(x) for i, x in enumerate(leaves)})
        tree.write_bytes(pickle.dumps(treedef))
        tmp.replace(arrays)  # the .npz appears last and whole: a half-written entry is never "done"

    def __call__(self, label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
        """``fn()``'s value and its seconds: loaded if stored under ``label``, else computed and stored."""
        if self.has(label):
            if label not in self.computed:
                self.resumed.append(label)
            return self.load(label)
        start = time.perf_counter()
        value = jax.block_until_ready(fn())
        seconds = time.perf_counter() - start
        self.store(label, value, seconds)
        self.computed.add(label)
        self.machines[label] = self.machine
        return value, seconds
