"""Training and evaluating the split codecs of one task, every split point at once.

Two ways to train, ``TrainConfig.extraction``:

* ``"distill"`` (default): the task model is trained once, whole and noiseless (the local
  model, eps^t); then, its weights frozen, each split point's bottleneck (the device's
  linear map down to w(mu) units and the server's map back) is trained to reconstruct the
  features at the cut through the AWGN channel (feature distillation, as split computing's
  bottleneck injection does). The extraction is task-agnostic: what a narrow bottleneck or
  a noisy channel loses, the frozen server-side layers cannot win back, which is the loss of
  semantic information the paper's eps(mu, nu) describes.
* ``"end_to_end"``: every split point's whole codec is trained on the task loss through
  the channel (deep joint source-channel coding). A deep device side then learns to send
  little more than the answer, so on an easy task accuracy barely moves with mu.

The channel SNR is drawn uniformly per sample from ``snr_train_db``, so one trained model
serves the whole SNR grid. All split points of a task train at once: one ``vmap`` over
split points inside one ``lax.scan`` over steps, so a stage compiles once; mini-batches
are drawn with replacement from the training arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from semjax.codecs.models import SplitCodec


EXTRACTIONS = ("distill", "end_to_end")
#: The bottleneck's parameters, the only ones the distill stage trains.
BOTTLENECK = ("vit_down", "vit_up", "bert_down", "bert_up")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 600
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # share of the task training's steps with a linear warm-up of the rate
    snr_train_db: tuple[float, float] = (-5.0, 20.0)
    extraction: str = "distill"
    bottleneck_steps: int = 300  # distill: steps of the bottleneck stage
    bottleneck_lr: float = 3e-3

    def __post_init__(self):
        if self.extraction not in EXTRACTIONS:
            raise ValueError(f"TrainConfig.extraction must be one of {list(EXTRACTIONS)} (got {self.extraction!r})")
        if int(self.bottleneck_steps) < 1:
            raise ValueError(f"TrainConfig.bottleneck_steps must be >= 1 (got {self.bottleneck_steps})")
        if not self.bottleneck_lr > 0:
            raise ValueError(f"TrainConfig.bottleneck_lr must be > 0 (got {self.bottleneck_lr})")
        if int(self.steps) < 1:
            raise ValueError(f"TrainConfig.steps must be >= 1 (got {self.steps})")
        if int(self.batch) < 1:
            raise ValueError(f"TrainConfig.batch must be >= 1 (got {self.batch})")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0 (got {self.lr})")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"TrainConfig.warmup must be in [0, 1) (got {self.warmup})")
        lo, hi = self.snr_train_db
        if not lo <= hi:
            raise ValueError(f"TrainConfig.snr_train_db must be (lo, hi) with lo <= hi (got {self.snr_train_db})")


def _task_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW for the task loss: a linear warm-up over ``cfg.warmup`` of the steps, then cosine
    decay (the usual start for transformers trained from scratch, the post-LN BERT layers in
    particular: Adam's first steps, on second-moment estimates that are still noise, are
    small)."""
    warmup = int(cfg.warmup * cfg.steps)
    schedule = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, warmup, cfg.steps) if warmup else \
        optax.cosine_decay_schedule(cfg.lr, cfg.steps)
    return optax.adamw(schedule, weight_decay=cfg.weight_decay)


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "label"}


def split_logits(model: SplitCodec, params, inputs: dict, depth, width, key, snr_db) -> jax.Array:
    """Logits of the split (``depth``, ``width``) over an AWGN channel at ``snr_db`` (inf: noiseless)."""
    return model.apply({"params": params}, inputs, depth, width, key, snr_db, method=SplitCodec.any_split)


def _minibatches(arrays: dict, batch: int):
    n = int(arrays["label"].shape[0])

    def draw(key):
        idx = jax.random.randint(key, (batch,), 0, n)
        return jax.tree.map(lambda a: a[idx], arrays)

    return draw


def train_codecs(model: SplitCodec, params, depths, widths, data: dict, key: jax.Array, cfg: TrainConfig):
    """Trains one codec per split point (``depths[i]``, ``widths[i]``), as ``cfg.extraction`` says.

    ``model`` is the widest codec (``SplitCodec.any_split``). Returns (params stacked over
    split points, losses: a dict of per-step loss arrays, each (splits, steps)).
    """
    if cfg.extraction == "end_to_end":
        stacked, losses = train_end_to_end(model, params, depths, widths, data, key, cfg)
        return stacked, {"task": losses}
    k_task, k_bottleneck = jax.random.split(key)
    local, task_losses = train_local(model, params, data, k_task, cfg)
    stacked, rec_losses = train_bottlenecks(model, local, depths, widths, data, k_bottleneck, cfg)
    splits = len(depths)
    return stacked, {"task": np.broadcast_to(np.asarray(task_losses), (splits, cfg.steps)), "reconstruction": rec_losses}


def train_local(model: SplitCodec, params, data: dict, key: jax.Array, cfg: TrainConfig):
    """The whole task model, noiseless and uncut (the local model); returns (params, losses (steps,))."""
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    draw = _minibatches(arrays, cfg.batch)
    opt = _task_optimizer(cfg)
    uncut = model.num_layers + 1

    def loss_fn(p, batch):
        logits = split_logits(model, p, _inputs(batch), uncut, model.width, jax.random.key(0), jnp.inf)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

    def step(carry, k):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, draw(k))
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    @jax.jit
    def run(p, k):
        (p, _), losses = jax.lax.scan(step, (p, opt.init(p)), jax.random.split(k, cfg.steps))
        return p, losses

    return run(params, key)


def pca_bottleneck(model: SplitCodec, params, depth: int, width: int, inputs: dict) -> dict:
    """The bottleneck that is optimal without noise: the cut features' principal directions.

    ``down`` projects the centred features on their principal directions (largest variance
    first, so the first ``width`` units are the best ``width``-unit linear code); ``up`` maps
    back, scaled by the mean power-normalisation gain of the ``width`` units on ``inputs``
    (the normaliser's per-sample gain is not sent, so the server undoes its mean). Training
    starts here: from a random ``up`` the cut features' scale alone (1e-3 per value in a
    freshly initialised ViT) would take the optimiser hundreds of steps.
    """
    cut = jax.jit(lambda p, x: model.apply({"params": p}, x, depth, method=SplitCodec.cut_features))(params, inputs)
    out, projected = {}, []
    for side, h in zip(("vit", "bert"), cut):
        if h is None:
            continue
        z = np.asarray(h, np.float64)
        flat = z.reshape(-1, z.shape[-1])
        mean = flat.mean(axis=0)
        # Principal directions, largest variance first: a full H x H basis also when a small
        # sample has fewer tokens than H (then U is small enough to form in full).
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=flat.shape[0] < flat.shape[1])
        projected.append((z - mean) @ vt.T)
        out[side] = (mean, vt)
    p = np.concatenate(projected, axis=1)[..., :width]
    gain = float(np.mean(np.sqrt(np.mean(p**2, axis=(1, 2)))))
    result = {}
    for side, (mean, vt) in out.items():
        result[f"{side}_down"] = {"kernel": jnp.asarray(vt.T, jnp.float32), "bias": jnp.asarray(-mean @ vt.T, jnp.float32)}
        result[f"{side}_up"] = {"kernel": jnp.asarray(gain * vt, jnp.float32), "bias": jnp.asarray(mean, jnp.float32)}
    return result


def train_bottlenecks(model: SplitCodec, params, depths, widths, data: dict, key: jax.Array, cfg: TrainConfig,
                      init_samples: int = 512):
    """Each split point's bottleneck trained on the reconstruction error of the cut features
    through the channel, the rest of ``params`` frozen, from :func:`pca_bottleneck` on the
    first ``init_samples`` training examples; returns (stacked params, losses (splits, steps))."""
    sample = {k: jnp.asarray(v[:init_samples]) for k, v in _inputs(data).items()}
    starts = [pca_bottleneck(model, params, int(d), int(w), sample) for d, w in zip(depths, widths)]
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    draw = _minibatches(arrays, cfg.batch)
    opt = optax.adam(optax.cosine_decay_schedule(cfg.bottleneck_lr, cfg.bottleneck_steps))
    frozen = {k: v for k, v in params.items() if k not in BOTTLENECK}
    trainable = jax.tree.map(lambda *a: jnp.stack(a), *starts)

    def reconstruction(t, depth, width, k, snr, batch):
        return model.apply({"params": {**frozen, **t}}, _inputs(batch), depth, width, k, snr,
                           method=SplitCodec.reconstruction_error).mean()

    t, losses = _train_per_split(reconstruction, opt, trainable, depths, widths, draw, key,
                                 cfg.bottleneck_steps, cfg.snr_train_db)
    stacked = {**jax.tree.map(lambda a: jnp.broadcast_to(a, (len(depths),) + a.shape), frozen), **t}
    return stacked, losses


def train_end_to_end(model: SplitCodec, params, depths, widths, data: dict, key: jax.Array, cfg: TrainConfig):
    """Trains one codec per split point (``depths[i]``, ``widths[i]``) under one ``vmap``.

    ``model`` is the widest codec (``SplitCodec.any_split``); every split point starts from
    the same ``params`` and sees the same batches and SNR draws (common random numbers, so
    differences in accuracy come from the split point). Returns (stacked params, losses
    of shape (splits, steps)).
    """
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    draw = _minibatches(arrays, cfg.batch)
    opt = _task_optimizer(cfg)

    def task_loss(p, depth, width, k, snr, batch):
        logits = split_logits(model, p, _inputs(batch), depth, width, k, snr)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

    stacked = jax.tree.map(lambda a: jnp.broadcast_to(a, (len(depths),) + a.shape), params)
    return _train_per_split(task_loss, opt, stacked, depths, widths, draw, key, cfg.steps, cfg.snr_train_db)


def _train_per_split(loss_of_split, opt, stacked, depths, widths, draw, key: jax.Array, steps: int, snr_train_db):
    """``steps`` optimiser steps of every split point at once: one ``vmap`` over the split
    points (``stacked`` params, ``depths``, ``widths``) inside one ``lax.scan``. Each split's
    loss is ``loss_of_split(params, depth, width, key, snr_db, batch)`` at an SNR per sample
    drawn uniformly from ``snr_train_db``; all splits see the same batches and draws. Returns
    (params, losses (splits, steps))."""
    lo, hi = snr_train_db
    depths = jnp.asarray(depths, jnp.int32)
    widths = jnp.asarray(widths, jnp.int32)

    def loss_fn(p, depth, width, k, batch):
        k_snr, k_noise = jax.random.split(k)
        snr = jax.random.uniform(k_snr, (batch["label"].shape[0],), minval=lo, maxval=hi)
        return loss_of_split(p, depth, width, k_noise, snr, batch)

    grad_fn = jax.vmap(jax.value_and_grad(loss_fn), in_axes=(0, 0, 0, None, None))

    def step(carry, k):
        p, s = carry
        k_idx, k_loss = jax.random.split(k)
        loss, g = grad_fn(p, depths, widths, k_loss, draw(k_idx))
        upd, s = jax.vmap(opt.update)(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    @jax.jit
    def run(p, k):
        (p, _), losses = jax.lax.scan(step, (p, jax.vmap(opt.init)(p)), jax.random.split(k, steps))
        return p, losses.T

    return run(stacked, key)


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
