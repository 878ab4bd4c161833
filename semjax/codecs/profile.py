"""Offline profiling: measure the split codecs on a mu grid and fit the task profile (SPEC section 8).

Per task type (text, image, vqa) and per mu of the grid, with the split rule of
``semjax.codecs.split``:

* encoder FLOPs l^SE(mu), decoder FLOPs l^S(mu) and full-model FLOPs l^U, from XLA's cost
  analysis of the compiled device / server / local functions (batch 1);
* transmitted bits s(mu) = tokens x w(mu) x ``bits_per_element`` (the features are sent
  as 8-bit values by default);
* accuracy eps(mu, nu) of the trained codec on the test split, over an SNR grid.

The profile's constants are then fitted: s(mu) = s mu^p, l^SE(mu) = l^SE / mu^q,
eps(mu, nu) = eps_t mu^a sigmoid((nu_dB - mid) / width) with eps_t the local (noiseless,
mu = 1) accuracy; l^S is the mean server cost over the grid's mu < 1 (the environment has
one l^S per task). With ``paper_scale`` the FLOPs and bits come from the paper-size models
(BERT-base, ViT-B/32 at 224 x 224, their VQA combination; random weights, cost only) cut
by the same rule, and the accuracy terms from the small trained codecs; the small codecs'
own costs stay in the provenance.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from semjax.codecs import data as codec_data
from semjax.codecs.fit import accuracy_model, fit_accuracy, fit_power_law
from semjax.codecs.flops import codec_costs, model_flops
from semjax.codecs.models import (
    SplitCodec,
    bert_config,
    dummy_inputs,
    init_params,
    pretrained_params,
    vit_config,
)
from semjax.codecs.split import check_mu_grid, split_for_mu
from semjax.codecs.train import EXTRACTIONS, TrainConfig, evaluate_codecs, train_codecs
from semjax.params import profile_from_dict

TASKS = ("text", "image", "vqa")
#: Task-training steps per task. VQA needs about five times the others, since its model first
#: has to learn to find the object a colour word names (at 1500 steps it had not, and answered
#: from per-question priors with test accuracy 0.63-0.66).
DEFAULT_STEPS = {"quick": {"text": 500, "image": 500, "vqa": 500},
                 "full": {"text": 1500, "image": 1500, "vqa": 8000}}
SPLIT_RULE = ("L(mu) = 1 + round((D - 1)(1 - mu)) layers on the device, D = max(1, round(device_share N)) "
              "of the N layers, bottleneck w(mu) = max(1, round(mu H)) per token")

# Paper-scale backbones (SPEC section 8 / the paper's Sec. V-A). The paper gives no input
# sizes: BERT-base at a 25-token SST-2 sentence ([CLS] + ~23 WordPiece tokens + [SEP]),
# ViT-B/32 at 224 x 224 (50 tokens; ViT-B/16 at 224 costs 4x more and is reported too),
# VQA = both with a 16-token question and one fusion layer, VQAv2's 3129 answers.
PAPER_SCALE = {
    "text": {"seq_len": 25, "vocab": 30522, "classes": 2},
    "image": {"image_size": 224, "patch": 32, "classes": 10},
    "vqa": {"image_size": 224, "patch": 32, "seq_len": 16, "vocab": 30522, "classes": 3129},
}
BASE = {"hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072}


EXTRACTION_NOTE = {
    "distill": ("the task model trained whole and noiseless (the local model); each split point's bottleneck "
                "then trained, the model frozen, to reconstruct the cut features through the channel"),
    "end_to_end": "every split point's codec trained end to end on the task loss through the channel",
}


@dataclass
class ProfileConfig:
    quick: bool = False
    paper_scale: bool = False
    data_dir: str | None = None
    mu_grid: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
    snr_grid_db: tuple[float, ...] = (-20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0, 30.0)
    hidden: int = 64
    layers: int = 4
    heads: int = 4
    intermediate: int = 128
    #: Task-training steps, one int for every task, a dict of steps per task, or None for
    #: DEFAULT_STEPS (resolved to a dict per task in ``__post_init__``).
    steps: int | dict[str, int] | None = None
    batch: int = 64
    lr: float = 1e-3
    eval_repeats: int | None = None  # noise draws per test sample and SNR; None: 1 quick, 3 full
    bits_per_element: int = 8
    data_scale: float = 1.0  # shrinks the generated sets (tests)
    seed: int = 0
    tasks: tuple[str, ...] = TASKS
    vit_checkpoint: str | None = None
    bert_checkpoint: str | None = None
    acc_min: float = 0.5  # eps_min: a requirement (Table IV), not a measurement
    device_share: float = 0.25  # the device runs at most this share of the layers (at mu -> 0)
    extraction: str = "distill"  # how the split codecs are trained (semjax.codecs.train)
    bottleneck_steps: int | None = None  # distill stage; None: 300 quick, 600 full

    def __post_init__(self):
        self.mu_grid = check_mu_grid(self.mu_grid)
        if self.mu_grid[-1] != 1.0:
            raise ValueError(f"mu_grid must end at 1.0, the local / raw point (got {list(self.mu_grid)})")
        if len(self.snr_grid_db) < 3:
            raise ValueError(f"snr_grid_db needs at least three values (got {list(self.snr_grid_db)})")
        defaults = DEFAULT_STEPS["quick" if self.quick else "full"]
        if self.steps is None:
            self.steps = dict(defaults)
        elif isinstance(self.steps, dict):
            unknown = sorted(set(self.steps) - set(TASKS))
            if unknown:
                raise ValueError(f"ProfileConfig.steps keys must be tasks of {list(TASKS)} (got {unknown})")
            self.steps = {**defaults, **{t: int(v) for t, v in self.steps.items()}}
        else:
            self.steps = {t: int(self.steps) for t in TASKS}
        for t, v in self.steps.items():
            if v < 1:
                raise ValueError(f"ProfileConfig.steps must be >= 1 (got {v} for {t})")
        if self.bottleneck_steps is None:
            self.bottleneck_steps = 300 if self.quick else 600
        if not 0.0 < self.device_share <= 1.0:
            raise ValueError(f"ProfileConfig.device_share must be in (0, 1] (got {self.device_share})")
        if self.extraction not in EXTRACTIONS:
            raise ValueError(f"ProfileConfig.extraction must be one of {list(EXTRACTIONS)} (got {self.extraction!r})")
        if self.eval_repeats is None:
            self.eval_repeats = 1 if self.quick else 3
        for name in ("hidden", "layers", "heads", "intermediate", "batch", "eval_repeats", "bits_per_element"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ProfileConfig.{name} must be >= 1 (got {getattr(self, name)})")
        if self.hidden % self.heads:
            raise ValueError(f"ProfileConfig.hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        for name in ("vit_checkpoint", "bert_checkpoint", "data_dir"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_dir():
                raise ValueError(f"ProfileConfig.{name} must be a local folder (got {str(path)!r}); nothing is downloaded")
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ValueError(f"ProfileConfig.tasks must be a non-empty subset of {list(TASKS)} (got {list(self.tasks)})")

    def train(self, task: str) -> TrainConfig:
        """The training settings of ``task``'s codecs."""
        return TrainConfig(steps=self.steps[task], batch=self.batch, lr=self.lr, extraction=self.extraction,
                           bottleneck_steps=int(self.bottleneck_steps))

    def device_layers(self, num_layers: int) -> int:
        """The most layers the device runs (at mu -> 0) in a ``num_layers``-layer codec."""
        return max(1, min(num_layers, math.floor(self.device_share * num_layers + 0.5)))


def _versions() -> dict:
    import scipy
    import sklearn
    import tokenizers
    import transformers

    from semjax.config import versions

    return {**versions(), "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "scikit-learn": sklearn.__version__, "scipy": scipy.__version__}


def load_task_data(cfg: ProfileConfig) -> dict[str, codec_data.TaskData]:
    if cfg.data_dir is not None:
        return {t: codec_data.load_real(t, cfg.data_dir) for t in cfg.tasks}
    return codec_data.default_task_data(cfg.seed, cfg.data_scale, cfg.tasks)


def build_codec(task: str, d: codec_data.TaskData, depth: int, width: int, cfg: ProfileConfig) -> SplitCodec:
    """The small codec for the task's data shapes (or a local checkpoint's config)."""
    vc = bc = None
    if d.image_shape is not None:
        size, _, ch = d.image_shape
        # One patch per digit quadrant-row, per Sort-of-CLEVR cell, per 4x4 CIFAR block.
        patch = {8: 2, 24: 6}.get(size, 4)
        vc = vit_config(size, ch, patch, cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate)
        if cfg.vit_checkpoint:
            from transformers import ViTConfig

            vc = ViTConfig.from_pretrained(cfg.vit_checkpoint, local_files_only=True,
                                           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
            if (vc.image_size, vc.num_channels) != (size, ch):
                raise ValueError(f"--vit-checkpoint: image_size/num_channels {(vc.image_size, vc.num_channels)} "
                                 f"do not match the {task} data {(size, ch)}")
    if d.seq_len is not None:
        bc = bert_config(d.vocab_size, d.seq_len, cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate)
        if cfg.bert_checkpoint:
            from transformers import BertConfig

            bc = BertConfig.from_pretrained(cfg.bert_checkpoint, local_files_only=True,
                                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
            if bc.vocab_size < d.vocab_size or bc.max_position_embeddings < d.seq_len:
                raise ValueError("--bert-checkpoint: vocabulary or positions smaller than the data's")
    if vc is not None and bc is not None and vc.hidden_size != bc.hidden_size:
        raise ValueError(f"vqa needs equal ViT and BERT widths (got {vc.hidden_size} and {bc.hidden_size})")
    # VQA: the layers the device may run are per modality, the server's fuse image and question.
    joint = cfg.device_layers(int(bc.num_hidden_layers)) if task == "vqa" else None
    return SplitCodec(task, depth, width, d.num_classes, vc, bc, joint_from=joint)


def measure_task(task: str, d: codec_data.TaskData, cfg: ProfileConfig, key, bar=None) -> dict:
    """Trains the task's codecs at every split point of the grid, then measures them."""
    widest = build_codec(task, d, cfg.layers, cfg.hidden, cfg)
    n_layers, hidden = widest.num_layers, (widest.vit_config or widest.bert_config).hidden_size
    widest = build_codec(task, d, n_layers, hidden, cfg)
    splits = [split_for_mu(mu, n_layers, hidden, cfg.device_layers(n_layers)) for mu in cfg.mu_grid]
    k_init, k_train, k_eval = jax.random.split(key, 3)
    # VQA's questions ask where objects are: its ViT starts from sine-cosine positions.
    positions = "sincos" if task == "vqa" else "learned"
    params = init_params(widest, k_init, dummy_inputs(widest, 2, d.image_shape, d.seq_len), positions)
    if cfg.vit_checkpoint and widest.vit_config is not None:
        params = pretrained_params(params, cfg.vit_checkpoint, "vit")
    if cfg.bert_checkpoint and widest.bert_config is not None:
        params = pretrained_params(params, cfg.bert_checkpoint, "bert")
    depths, widths = [s.depth for s in splits], [s.width for s in splits]

    t0 = time.perf_counter()
    stacked, losses = train_codecs(widest, params, depths, widths, d.train, k_train, cfg.train(task))
    losses = {k: np.asarray(v) for k, v in losses.items()}
    t_train = time.perf_counter() - t0
    if bar is not None:
        bar.update(1)
    clean, acc = evaluate_codecs(widest, stacked, depths, widths, d.test, k_eval, cfg.snr_grid_db, cfg.eval_repeats)
    if cfg.extraction == "distill":
        # The local model is the whole task model, uncut (a depth past the last layer).
        first = jax.tree.map(lambda a: a[:1], stacked)
        local, _ = evaluate_codecs(widest, first, [n_layers + 1], [hidden], d.test, k_eval, (), 1)
        acc_local = float(local[0])
    else:
        acc_local = float(clean[-1])  # the mu = 1 codec over a noiseless channel
    if bar is not None:
        bar.update(1)
    # The whole-model cost (l^U) is only needed at mu = 1, the grid's last point.
    costs = [codec_costs(build_codec(task, d, s.depth, s.width, cfg), cfg.bits_per_element, full=s.mu == 1.0)
             for s in splits]
    if bar is not None:
        bar.update(1)
    return {
        "splits": [asdict(s) for s in splits],
        "encoder_flops": [c["encoder_flops"] for c in costs],
        "decoder_flops": [c["decoder_flops"] for c in costs],
        "full_flops": [c["full_flops"] for c in costs],
        "feature_shape": [c["feature_shape"] for c in costs],
        "bits": [c["bits"] for c in costs],
        "acc_clean": np.asarray(clean).tolist(),
        "acc_local": acc_local,
        "acc": np.asarray(acc).tolist(),
        # Mean of each stage's last tenth of steps, per split point.
        "final_loss": {k: v[:, -max(1, v.shape[1] // 10):].mean(axis=1).tolist() for k, v in losses.items()},
        # The task loss along training (means over 20 equal spans of steps): where it flattens.
        "task_loss_curve": [float(span.mean()) for span in np.array_split(losses["task"][0], 20)],
        "train_seconds": t_train,
        "model": {"layers": n_layers, "hidden": hidden,
                  "vit": None if widest.vit_config is None else _cfg_summary(widest.vit_config),
                  "bert": None if widest.bert_config is None else _cfg_summary(widest.bert_config)},
        "data": {"source": d.source, "train": len(d.train["label"]), "test": len(d.test["label"]),
                 "classes": d.num_classes},
    }


def _cfg_summary(c) -> dict:
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "image_size",
            "patch_size", "num_channels", "vocab_size", "max_position_embeddings")
    return {k: getattr(c, k) for k in keys if hasattr(c, k)}


def paper_scale_model(task: str, depth: int, width: int, device_layers: int | None = None) -> SplitCodec:
    """The paper-size codec; for VQA, layers past ``device_layers`` fuse image and question
    (as in the small codecs; ``None``: late fusion, one fusion layer after both encoders)."""
    spec = PAPER_SCALE[task]
    vc = bc = None
    if "image_size" in spec:
        vc = vit_config(spec["image_size"], 3, spec["patch"], **BASE)
    if "seq_len" in spec:
        bc = bert_config(spec["vocab"], spec["seq_len"], **BASE)
    joint = device_layers if task == "vqa" else None
    return SplitCodec(task, depth, width, spec["classes"], vc, bc, joint_from=joint)


def measure_paper_scale(task: str, mu_grid, bits_per_element: int = 8, device_layers: int | None = None) -> dict:
    """FLOPs and bits of the paper-size codecs on the grid (cost analysis only, no weights)."""
    splits = [split_for_mu(mu, BASE["layers"], BASE["hidden"], device_layers) for mu in mu_grid]
    costs = [codec_costs(paper_scale_model(task, s.depth, s.width, device_layers), bits_per_element, full=s.mu == 1.0)
             for s in splits]
    return {
        "config": {**PAPER_SCALE[task], **BASE, "device_layers": device_layers},
        "splits": [asdict(s) for s in splits],
        "encoder_flops": [c["encoder_flops"] for c in costs],
        "decoder_flops": [c["decoder_flops"] for c in costs],
        "full_flops": [c["full_flops"] for c in costs],
        "bits": [c["bits"] for c in costs],
    }


def paper_scale_variants() -> dict:
    """Local (full-model) FLOPs of the paper-size models at a few input sizes, for the comparison."""
    out = {}
    variants = {
        "bert_base_seq16": ("text", {"seq_len": 16}),
        "bert_base_seq25": ("text", {"seq_len": 25}),
        "bert_base_seq66": ("text", {"seq_len": 66}),
        "vit_b32_224": ("image", {"image_size": 224, "patch": 32}),
        "vit_b16_224": ("image", {"image_size": 224, "patch": 16}),
        "vit_b16_112": ("image", {"image_size": 112, "patch": 16}),
        "vit_b4_32": ("image", {"image_size": 32, "patch": 4}),
    }
    saved = {k: dict(v) for k, v in PAPER_SCALE.items()}
    try:
        for name, (task, over) in variants.items():
            PAPER_SCALE[task].update(over)
            m = paper_scale_model(task, BASE["layers"], BASE["hidden"])
            out[name] = model_flops(m)
            PAPER_SCALE[task].clear()
            PAPER_SCALE[task].update(saved[task])
    finally:
        for k, v in saved.items():
            PAPER_SCALE[k].clear()
            PAPER_SCALE[k].update(v)
    return out


def fit_task(mu_grid, meas: dict, cost_source: dict, snr_grid_db) -> dict:
    mu = np.asarray(mu_grid, np.float64)
    bits = fit_power_law(mu, np.asarray(cost_source["bits"], np.float64), exp_bounds=(1e-6, np.inf))
    enc = fit_power_law(mu, np.asarray(cost_source["encoder_flops"], np.float64), exp_bounds=(-np.inf, 0.0))
    acc_local = float(meas["acc_local"])
    acc = fit_accuracy(mu, snr_grid_db, np.asarray(meas["acc"]), acc_local)
    server = np.asarray(cost_source["decoder_flops"], np.float64)[mu < 1.0]
    return {"bits": bits, "extract": {**enc, "q": -enc["exp"]}, "accuracy": acc,
            "server": {"mean": float(server.mean()), "min": float(server.min()), "max": float(server.max())},
            "local_flops": float(cost_source["full_flops"][-1])}


def build_profile_json(cfg: ProfileConfig, measurements: dict, paper: dict | None, fits: dict,
                       seconds: float, command: str | None) -> dict:
    tasks = list(cfg.tasks)
    cost_from = "paper-scale models (BERT-base / ViT-B/32 at 224, random weights)" if paper else "the small trained codecs"

    def field_(symbol, unit, values, source):
        return {"values": [float(v) for v in values], "unit": unit, "symbol": symbol, "source": source}

    f = {t: fits[t] for t in tasks}
    fields = {
        "flops_local": field_("l^U", "FLOPs", [f[t]["local_flops"] for t in tasks],
                              f"measured: XLA cost analysis of the whole codec at mu = 1 over a noiseless channel, {cost_from}"),
        "flops_extract": field_("l^SE", "FLOPs", [f[t]["extract"]["coef"] for t in tasks],
                                f"fit: l^SE(mu) = l^SE / mu^q to the device-side encoder's XLA FLOPs on the mu grid, {cost_from}"),
        "flops_server": field_("l^S", "FLOPs", [f[t]["server"]["mean"] for t in tasks],
                               f"measured: mean XLA FLOPs of the server-side decoder over the grid's mu < 1, {cost_from}"),
        "data_bits": field_("s", "bit", [f[t]["bits"]["coef"] for t in tasks],
                            f"fit: s(mu) = s mu^p to tokens x w(mu) x {cfg.bits_per_element} bit, {cost_from}"),
        "exp_data": field_("p", "1", [f[t]["bits"]["exp"] for t in tasks], "fit: s(mu) = s mu^p"),
        "exp_extract": field_("q", "1", [max(0.0, f[t]["extract"]["q"]) for t in tasks], "fit: l^SE(mu) = l^SE / mu^q"),
        "exp_accuracy": field_("power law of eps in mu", "1", [f[t]["accuracy"]["exp_accuracy"] for t in tasks],
                               "fit: eps(mu, nu) = eps_t mu^a sigmoid((snr_db - mid) / width) to the trained codecs' test accuracy"),
        "acc_local": field_("eps^t", "fraction", [f[t]["accuracy"]["acc_local"] for t in tasks],
                            "measured: test accuracy of the local model (the whole task model, noiseless; "
                            "with end_to_end extraction the mu = 1 codec)"),
        "snr_mid_db": field_("channel factor midpoint", "dB", [f[t]["accuracy"]["snr_mid_db"] for t in tasks],
                             "fit: eps(mu, nu) form, as exp_accuracy"),
        "snr_width_db": field_("channel factor width", "dB", [f[t]["accuracy"]["snr_width_db"] for t in tasks],
                               "fit: eps(mu, nu) form, as exp_accuracy"),
        "acc_min": field_("eps_min", "fraction", [cfg.acc_min] * len(tasks),
                          "paper Table IV: minimum accuracy requirement 50 % (a requirement, not a measurement)"),
    }
    cfg_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    out = {
        "name": "measured",
        "description": ("Task profile measured from split-computing Flax codecs (SPEC section 8): "
                        f"FLOPs and bits from {cost_from}; accuracy terms from small codecs trained "
                        "through an AWGN channel on " + ("the local real data sets." if cfg.data_dir else
                                                          "bundled / generated data (digits, generated star-rated reviews, generated Sort-of-CLEVR).")),
        "task_types": tasks,
        "fields": fields,
        "provenance": {
            "command": command,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 1),
            "machine": f"{platform.machine()} {platform.processor() or ''} ({_cpu_count()} CPU cores), JAX backend {jax.default_backend()}",
            "versions": _versions(),
            "config": cfg_dict,
            "split_rule": SPLIT_RULE,
            "bits_per_element": cfg.bits_per_element,
            "channel": ("AWGN on power-normalised features (unit mean power per sample), SNR nu; trained at "
                        "SNR ~ U[{:g}, {:g}] dB".format(*TrainConfig().snr_train_db)),
            "extraction": EXTRACTION_NOTE[cfg.extraction],
            "grids": {"mu": list(cfg.mu_grid), "snr_db": list(cfg.snr_grid_db)},
            "fits": fits,
            "small_codecs": measurements,
            "paper_scale": paper,
        },
    }
    profile_from_dict(out, "measured profile")  # fails here, naming the field, if a value is out of range
    return out


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def plot_task(task: str, cfg: ProfileConfig, meas: dict, cost_source: dict, fit: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mu = np.asarray(cfg.mu_grid)
    mm = np.linspace(mu.min(), 1.0, 100)
    fig, ax = plt.subplots(1, 4, figsize=(18, 4))
    ax[0].plot(mu, cost_source["bits"], "o", label="measured")
    ax[0].plot(mm, fit["bits"]["coef"] * mm ** fit["bits"]["exp"], "-",
               label=f"s mu^p: s={fit['bits']['coef']:.3g}, p={fit['bits']['exp']:.3f}, R2={fit['bits']['r2']:.3f}")
    ax[0].set(xlabel="mu", ylabel="transmitted bits s(mu)", title=f"{task}: payload")
    e = fit["extract"]
    ax[1].plot(mu, cost_source["encoder_flops"], "o", label="encoder (XLA)")
    ax[1].plot(mm, e["coef"] * mm ** e["exp"], "-", label=f"l^SE/mu^q: q={e['q']:.3f}, R2={e['r2']:.3f}")
    ax[1].plot(mu, cost_source["decoder_flops"], "s", label="server decoder (XLA)")
    ax[1].set(xlabel="mu", ylabel="FLOPs per sample", title=f"{task}: compute")
    snr = np.asarray(cfg.snr_grid_db)
    ss = np.linspace(snr.min(), snr.max(), 200)
    a = fit["accuracy"]
    for i, m in enumerate(mu):
        line = ax[2].plot(snr, meas["acc"][i], "o", ms=4)[0]
        ax[2].plot(ss, accuracy_model(m, ss, a["acc_local"], a["exp_accuracy"], a["snr_mid_db"], a["snr_width_db"]),
                   "-", color=line.get_color(), label=f"mu={m:g}")
    ax[2].set(xlabel="SNR (dB)", ylabel="accuracy", ylim=(0, 1.02),
              title=f"{task}: eps(mu, nu), a={a['exp_accuracy']:.3f}, R2={a['r2']:.3f}")
    curve = np.asarray(meas["task_loss_curve"])
    steps = np.linspace(0, cfg.steps[task], len(curve) + 1)[1:]
    ax[3].plot(steps, curve, "o-", ms=3, label=f"local model, test accuracy {meas['acc_local']:.3f}")
    ax[3].set(xlabel="training step", ylabel="task loss (cross-entropy)", title=f"{task}: learning curve")
    for x in ax:
        x.legend(fontsize=7)
        x.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_profile(cfg: ProfileConfig, out: str | Path, figures: str | Path | None = None,
                command: str | None = None, progress: bool | None = None) -> dict:
    """Measures, fits and writes the profile JSON to ``out`` and a PNG per task to ``figures``."""
    out = Path(out)
    figures = Path(figures) if figures is not None else out.parent
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.perf_counter()
    key = jax.random.key(cfg.seed)
    data = load_task_data(cfg)
    stages = 3 * len(cfg.tasks) + (len(cfg.tasks) + 1 if cfg.paper_scale else 0)
    measurements, paper, fits = {}, ({} if cfg.paper_scale else None), {}
    with tqdm(total=stages, desc="profile", disable=not progress) as bar:
        for i, task in enumerate(cfg.tasks):
            bar.set_postfix_str(f"{task}: train / evaluate / cost")
            measurements[task] = measure_task(task, data[task], cfg, jax.random.fold_in(key, i), bar)
        if cfg.paper_scale:
            for task in cfg.tasks:
                bar.set_postfix_str(f"{task}: paper-scale FLOPs")
                paper[task] = measure_paper_scale(task, cfg.mu_grid, cfg.bits_per_element,
                                                  cfg.device_layers(BASE["layers"]))
                bar.update(1)
            bar.set_postfix_str("paper-scale variants")
            paper["variants_full_flops"] = paper_scale_variants()
            paper["paper_gflops"] = {"text": 3.72, "image": 8.43, "vqa": 8.31}
            bar.update(1)
    for task in cfg.tasks:
        source = paper[task] if cfg.paper_scale else measurements[task]
        fits[task] = fit_task(cfg.mu_grid, measurements[task], source, cfg.snr_grid_db)
    result = build_profile_json(cfg, measurements, paper, fits, time.perf_counter() - t0, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    figures.mkdir(parents=True, exist_ok=True)
    for task in cfg.tasks:
        source = paper[task] if cfg.paper_scale else measurements[task]
        plot_task(task, cfg, measurements[task], source, fits[task], figures / f"{out.stem}_{task}.png")
    return result
