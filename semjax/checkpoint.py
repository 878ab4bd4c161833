"""Checkpoints of a training run with orbax-checkpoint, for every learned method.

A checkpoint directory holds ``state/`` (the learner's whole RunnerState: for MAPPO the actor
and critic params and optimiser states, value-norm statistics, the env batch, GRU carries;
for D3QN the Q-network, its target and the replay buffer; and the PRNG key and update
counter, so a resumed run continues exactly) and ``meta.json`` (the config and step).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from semjax.env import SemanticMEC
from semjax.params import EnvParams


def _to_arrays(runner):
    # Typed PRNG keys are stored as their raw uint32 data.
    return runner.replace(key=jax.random.key_data(runner.key))


def save_checkpoint(path: str | Path, runner, meta: dict[str, Any]) -> Path:
    """Writes ``runner`` and ``meta`` (JSON-serialisable) to ``path``, replacing what was there."""
    path = Path(path).absolute()
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # Closing the checkpointer joins its background threads and I/O.
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(tmp / "state", _to_arrays(runner))
        checkpointer.wait_until_finished()
    meta = dict(meta, update=int(runner.update))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    # Swap in only a complete checkpoint, so an interrupted save never leaves a broken one.
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def load_meta(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise ValueError(f"no checkpoint at {str(path)!r} (missing meta.json)")
    try:
        return json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {str(path)!r} is corrupt: meta.json is not valid JSON ({exc})") from None


def _shape_mismatch(stored, target) -> str | None:
    """The first array whose name or shape differs between the checkpoint and the target, if any.

    Checked from the metadata before restoring: a restore that fails half-way leaves orbax's
    read coroutines behind, which surface later as "Event loop is closed" errors.
    """
    have = {leaf.name: tuple(leaf.shape) for leaf in jax.tree.leaves(stored)}
    # orbax names a leaf by its key path joined with dots, as keystr's simple form writes it.
    want = {jax.tree_util.keystr(key, simple=True, separator="."): tuple(x.shape)
            for key, x in jax.tree_util.tree_flatten_with_path(target)[0]}
    for name in sorted(set(have) | set(want)):
        if have.get(name) != want.get(name):
            return f"{name} has shape {have.get(name, 'missing')} there, {want.get(name, 'missing')} here"
    return None


def load_checkpoint(path: str | Path, method, config, env: SemanticMEC, params: EnvParams) -> tuple[Any, dict[str, Any]]:
    """Restores the RunnerState saved at ``path`` for a run of the learned ``method``
    (:mod:`semjax.experiments.methods`) with settings ``config`` on ``env``."""
    path = Path(path).absolute()
    meta = load_meta(path)
    if not (path / "state").is_dir():
        raise ValueError(f"no checkpoint at {str(path)!r} (missing state/)")
    init_runner = method.algorithm.module.init_runner
    target = jax.eval_shape(lambda k: _to_arrays(init_runner(config, env, params, k)), jax.random.key(0))
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            mismatch = _shape_mismatch(checkpointer.metadata(path / "state").item_metadata, target)
            if mismatch is None:
                restored = checkpointer.restore(path / "state", target)
    except Exception as exc:  # orbax raises many types for unreadable or mismatched data
        raise ValueError(
            f"checkpoint {str(path)!r} is corrupt or does not match this config: {type(exc).__name__}: {exc}"
        ) from None
    if mismatch is not None:
        raise ValueError(f"checkpoint {str(path)!r} does not match this config: {mismatch}")
    # The target's treedef carried the static parts (apply_fn, tx) through the restore.
    return restored.replace(key=jax.random.wrap_key_data(restored.key)), meta
