"""Training and evaluating the split codecs of one task, every split point at once.

Each codec is trained end to end through the AWGN channel at an SNR drawn uniformly per
sample from ``snr_train_db`` (as deep joint source-channel coding does), so one trained
model serves the whole SNR grid. All split points of a task train at once: one ``vmap``
over split points inside one ``lax.scan`` over steps, so a task compiles once;
mini-batches are drawn with replacement from the training arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from semjax.codecs.models import SplitCodec


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 600
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    snr_train_db: tuple[float, float] = (-5.0, 20.0)

    def __post_init__(self):
        if int(self.steps) < 1:
            raise ValueError(f"TrainConfig.steps must be >= 1 (got {self.steps})")
        if int(self.batch) < 1:
            raise ValueError(f"TrainConfig.batch must be >= 1 (got {self.batch})")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0 (got {self.lr})")
        lo, hi = self.snr_train_db
        if not lo <= hi:
            raise ValueError(f"TrainConfig.snr_train_db must be (lo, hi) with lo <= hi (got {self.snr_train_db})")


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "label"}


def split_logits(model: SplitCodec, params, inputs: dict, depth, width, key, snr_db) -> jax.Array:
    """Logits of the split (``depth``, ``width``) over an AWGN channel at ``snr_db`` (inf: noiseless)."""
    return model.apply({"params": params}, inputs, depth, width, key, snr_db, method=SplitCodec.any_split)


def train_codecs(model: SplitCodec, params, depths, widths, data: dict, key: jax.Array, cfg: TrainConfig):
    """Trains one codec per split point (``depths[i]``, ``widths[i]``) under one ``vmap``.

    ``model`` is the widest codec (``SplitCodec.any_split``); every split point starts from
    the same ``params`` and sees the same batches and SNR draws (common random numbers, so
    differences in accuracy come from the split point). Returns (stacked params, losses
    of shape (splits, steps)).
    """
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    n = int(arrays["label"].shape[0])
    opt = optax.adamw(optax.cosine_decay_schedule(cfg.lr, cfg.steps), weight_decay=cfg.weight_decay)
    lo, hi = cfg.snr_train_db
    depths = jnp.asarray(depths, jnp.int32)
    widths = jnp.asarray(widths, jnp.int32)

    def loss_fn(p, depth, width, k, batch):
        k_snr, k_noise = jax.random.split(k)
        snr = jax.random.uniform(k_snr, (batch["label"].shape[0],), minval=lo, maxval=hi)
        logits = split_logits(model, p, _inputs(batch), depth, width, k_noise, snr)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

    grad_fn = jax.vmap(jax.value_and_grad(loss_fn), in_axes=(0, 0, 0, None, None))

    def step(carry, k):
        p, s = carry
        k_idx, k_loss = jax.random.split(k)
        idx = jax.random.randint(k_idx, (cfg.batch,), 0, n)
        batch = jax.tree.map(lambda a: a[idx], arrays)
        loss, g = grad_fn(p, depths, widths, k_loss, batch)
        upd, s = jax.vmap(opt.update)(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    @jax.jit
    def run(p, k):
        p = jax.tree.map(lambda a: jnp.broadcast_to(a, (depths.shape[0],) + a.shape), p)
        (p, _), losses = jax.lax.scan(step, (p, jax.vmap(opt.init)(p)), jax.random.split(k, cfg.steps))
        return p, losses.T

    return run(params, key)


def evaluate_codecs(model: SplitCodec, params, depths, widths, data: dict, key: jax.Array, snr_grid_db,
                    repeats: int = 2, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of each trained split point (stacked ``params``) on ``data``.

    Returns (noiseless accuracy (splits,), accuracy (splits, len(snr_grid_db))), each SNR's
    value the mean over ``repeats`` noise draws per test sample.
    """
    snrs = jnp.asarray(snr_grid_db, jnp.float32)
    all_snrs = jnp.concatenate([jnp.array([jnp.inf], jnp.float32), snrs])
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    depths = jnp.asarray(depths, jnp.int32)
    widths = jnp.asarray(widths, jnp.int32)

    def correct(p, depth, width, k, b, snr):
        logits = split_logits(model, p, _inputs(b), depth, width, k, snr)
        return jnp.sum(jnp.argmax(logits, -1) == b["label"])

    @jax.jit
    def chunk(p, k, b):
        keys = jax.random.split(k, (all_snrs.shape[0], repeats))
        per_split = lambda pp, d, w: jax.vmap(
            lambda s, ks: jax.vmap(lambda kk: correct(pp, d, w, kk, b, s))(ks).sum())(all_snrs, keys)
        return jax.vmap(per_split)(p, depths, widths)

    n = int(arrays["label"].shape[0])
    total = np.zeros((depths.shape[0], all_snrs.shape[0]))
    for i, start in enumerate(range(0, n, batch)):
        b = {k: a[start:start + batch] for k, a in arrays.items()}
        total += np.asarray(chunk(params, jax.random.fold_in(key, i), b), np.float64)
    acc = total / (n * repeats)
    return acc[:, 0], acc[:, 1:]
