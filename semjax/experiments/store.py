"""What the experiment engine keeps on disk: tables, trained policies, text.

Every write is atomic (a temporary file renamed over the target), so a run killed at any
moment leaves either the old file or the new one, never half of one: resuming trusts what it
finds.

Trained policies are arrays plus their nesting, written with Flax's msgpack serialisation
(nested dicts of NumPy arrays, numbers and strings), never Python object serialisation:
reading a store never runs code.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Writes ``text`` to ``path`` whole (atomically)."""
    _atomic(Path(path), lambda fh: fh.write(text.encode()))


def write_csv(path: str | Path, columns: list[str], rows: list[dict]) -> None:
    """Writes ``rows`` (dicts keyed by ``columns``; missing keys are empty cells) atomically."""
    import io

    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts of strings."""
    with Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def to_float(text: str) -> float:
    """A table cell as a float (NaN for an empty cell)."""
    return math.nan if text in ("", "nan", "None") else float(text)


def save_tree(path: str | Path, tree: Any) -> None:
    """Writes a pytree of arrays and strings (dicts, lists, tuples, Flax containers) as msgpack, atomically.

    Containers are written as nested dicts; :func:`load_tree` gives them back as such, which is
    what Flax's ``apply`` takes for parameters.
    """
    arrays = jax.tree.map(lambda x: x if isinstance(x, str) else np.asarray(x), jax.device_get(tree))
    state = serialization.to_state_dict(arrays)
    data = serialization.msgpack_serialize(state)
    _atomic(Path(path), lambda fh: fh.write(data))


def load_tree(path: str | Path) -> Any:
    """The nested dicts of arrays :func:`save_tree` wrote."""
    return serialization.msgpack_restore(Path(path).read_bytes())
