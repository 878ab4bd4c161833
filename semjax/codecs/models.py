"""Split-computing semantic codecs built from transformers' Flax ViT and BERT blocks.

One :class:`SplitCodec` is an N-layer transformer cut after layer ``depth`` (L):

* device (``encode``): embeddings, layers [0, L), a linear bottleneck to ``width`` (w) values
  per token, and power normalisation (the transmitter's fixed power budget);
* channel: AWGN at SNR nu (``semjax.codecs.channel``);
* server (``decode``): a linear map back to the hidden width, layers [L, N) and the task head.

``task`` picks the backbone: "image" a ViT (``FlaxViTEmbeddings`` / ``FlaxViTLayer``),
"text" a BERT (``FlaxBertEmbeddings`` / ``FlaxBertLayer``), "vqa" both on the device (the
image and question features are sent together, power-normalised jointly) and, on the
server, fusion of the two and the answer head on the image [CLS] token. With ``joint_from``
set to J (the profile's choice), the layers from J on are BERT layers over the concatenated
image and question tokens; with None, both encoders run to the end and one fusion layer
joins them (late fusion).

Parameter names follow the transformers models so that a local checkpoint loads with
``FlaxViTModel.from_pretrained(path)`` / ``FlaxBertModel.from_pretrained(path)``
(see :func:`pretrained_params`).
"""

from __future__ import annotations

import os

# The codecs build every model from a config and never fetch: keep the Hub offline even if a
# caller passes a name instead of a local path.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import warnings

import flax.linen as nn
import jax
import jax.numpy as jnp

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from transformers import BertConfig, ViTConfig
    from transformers.models.bert.modeling_flax_bert import (
        FlaxBertEmbeddings,
        FlaxBertLayer,
    )
    from transformers.models.vit.modeling_flax_vit import (
        FlaxViTEmbeddings,
        FlaxViTLayer,
    )

from semjax.codecs.channel import power_normalise

TASKS = ("text", "image", "vqa")


class SplitCodec(nn.Module):
    task: str
    depth: int
    width: int
    num_classes: int
    vit_config: ViTConfig | None = None
    bert_config: BertConfig | None = None
    #: For VQA only. With None, ViT and BERT run all the way and one fusion layer joins them
    #: before the head (late fusion); with an int J, the first J layers run per modality and
    #: the others (BERT layers) over the image and question tokens together (the paper's
    #: cross-modal fusion at the receiver, when the device runs at most J layers).
    joint_from: int | None = None

    @property
    def num_layers(self) -> int:
        cfg = self.vit_config if self.vit_config is not None else self.bert_config
        return int(cfg.num_hidden_layers)

    def _uses(self):
        return self.task in ("image", "vqa"), self.task in ("text", "vqa")

    def setup(self):
        if self.task not in TASKS:
            raise ValueError(f"SplitCodec.task must be one of {list(TASKS)} (got {self.task!r})")
        img, txt = self._uses()
        n = self.num_layers
        if not 1 <= self.depth <= n:
            raise ValueError(f"SplitCodec.depth must be in [1, {n}] (got {self.depth})")
        if self.joint_from is not None and (self.task != "vqa" or not 1 <= self.joint_from <= n):
            raise ValueError(f"SplitCodec.joint_from must be None or, for vqa, in [1, {n}] (got {self.joint_from})")
        if img:
            self.vit_embeddings = FlaxViTEmbeddings(self.vit_config)
            self.vit_layers = [FlaxViTLayer(self.vit_config) for _ in range(self._separate_layers)]
            self.vit_down = nn.Dense(self.width)
            self.vit_up = nn.Dense(self.vit_config.hidden_size)
            self.vit_norm = nn.LayerNorm(epsilon=self.vit_config.layer_norm_eps)
        if txt:
            self.bert_embeddings = FlaxBertEmbeddings(self.bert_config)
            self.bert_layers = [FlaxBertLayer(self.bert_config) for _ in range(n)]
            self.bert_down = nn.Dense(self.width)
            self.bert_up = nn.Dense(self.bert_config.hidden_size)
        if self.task == "vqa" and self.joint_from is None:
            self.fusion = FlaxBertLayer(self.bert_config)
        self.head = nn.Dense(self.num_classes)

    @property
    def _separate_layers(self) -> int:
        return self.num_layers if self.joint_from is None else self.joint_from

    # ---- device side -------------------------------------------------------------------
    def encode(self, inputs: dict) -> jax.Array:
        """Device side: features (B, T, width), power-normalised. T = image tokens + question tokens."""
        h_img, h_txt = self._embed(inputs)
        for i in range(self.depth):
            h_img, h_txt = self._layer(i, h_img, h_txt, inputs.get("mask"))
        feats = []
        if h_img is not None:
            feats.append(self.vit_down(h_img))
        if h_txt is not None:
            feats.append(self.bert_down(h_txt))
        return power_normalise(jnp.concatenate(feats, axis=1))

    # ---- server side -------------------------------------------------------------------
    def decode(self, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        """Server side: logits (B, num_classes) from received features ``y`` (B, T, width).

        ``mask`` is the question's padding mask (B, T_text), sent alongside the features.
        """
        img, txt = self._uses()
        n_img = y.shape[1] - (mask.shape[1] if txt else 0)
        h_img = self.vit_up(y[:, :n_img]) if img else None
        h_txt = self.bert_up(y[:, n_img:]) if txt else None
        for i in range(self.depth, self.num_layers):
            h_img, h_txt = self._layer(i, h_img, h_txt, mask)
        if img:
            h_img = self.vit_norm(h_img)
        return self._task_head(h_img, h_txt, mask)

    def _task_head(self, h_img, h_txt, mask) -> jax.Array:
        """Server-side task head on the decoded features: the VQA fusion layer first if both exist."""
        if self.task == "image":
            return self.head(h_img[:, 0])
        if self.task == "text" or self.joint_from is not None:
            return self.head((h_txt if self.task == "text" else h_img)[:, 0])
        fused_mask = jnp.concatenate([jnp.ones(h_img.shape[:2], mask.dtype), mask], axis=1)
        h = self.fusion(jnp.concatenate([h_img, h_txt], axis=1), fused_mask, None, deterministic=True)[0]
        return self.head(h[:, 0])

    # ---- all split points in one graph (training and evaluation) -----------------------
    def _embed(self, inputs: dict):
        img, txt = self._uses()
        h_img = h_txt = None
        if img:
            h_img = self.vit_embeddings(inputs["pixels"], deterministic=True)
        if txt:
            ids = inputs["ids"]
            pos = jnp.broadcast_to(jnp.arange(ids.shape[-1]), ids.shape)
            h_txt = self.bert_embeddings(ids, jnp.zeros_like(ids), pos, inputs["mask"], deterministic=True)
        return h_img, h_txt

    def _layer(self, i: int, h_img, h_txt, mask):
        if i >= self._separate_layers:  # a joint layer over the image and question tokens
            n_img = h_img.shape[1]
            joint_mask = jnp.concatenate([jnp.ones(h_img.shape[:2], mask.dtype), mask], axis=1)
            h = self.bert_layers[i](jnp.concatenate([h_img, h_txt], axis=1), joint_mask, None, deterministic=True)[0]
            return h[:, :n_img], h[:, n_img:]
        if h_img is not None:
            h_img = self.vit_layers[i](h_img, deterministic=True)[0]
        if h_txt is not None:
            h_txt = self.bert_layers[i](h_txt, mask, None, deterministic=True)[0]
        return h_img, h_txt

    def _channel(self, h_img, h_txt, width, key, snr_db):
        """Bottleneck to ``width`` units (the rest masked to zero), power normalisation, AWGN at
        ``snr_db`` (per sample) and the server's linear map back to the hidden width."""
        unit = (jnp.arange(self.width) < width).astype(jnp.float32)
        feats = []
        if h_img is not None:
            feats.append(self.vit_down(h_img) * unit)
        if h_txt is not None:
            feats.append(self.bert_down(h_txt) * unit)
        z = jnp.concatenate(feats, axis=1)
        count = z.shape[1] * jnp.maximum(width, 1)
        x = z * jax.lax.rsqrt(jnp.sum(jnp.square(z), axis=(1, 2), keepdims=True) / count + 1e-12)
        snr = jnp.reshape(jnp.asarray(snr_db, jnp.float32), (-1, 1, 1))
        y = x + jnp.power(10.0, -snr / 20.0) * jax.random.normal(key, x.shape) * unit
        n_img = h_img.shape[1] if h_img is not None else 0
        return (self.vit_up(y[:, :n_img]) if h_img is not None else None,
                self.bert_up(y[:, n_img:]) if h_txt is not None else None)

    def any_split(self, inputs: dict, depth, width, key, snr_db) -> jax.Array:
        """``decode(awgn(encode(x)))`` for the split (``depth``, ``width``), both traced.

        Built with the widest bottleneck (``self.width`` = hidden size): units at and beyond
        ``width`` are masked to zero, so the codec equals the static one whose bottleneck
        weights are the first ``width`` units (:func:`static_params`). Running every split
        point through one graph lets all of them train under one ``vmap`` and one compile
        (a static split point per graph would cost one XLA compile each). ``snr_db = inf``
        is a noiseless channel; a ``depth`` beyond the last layer never cuts (the backbone
        alone, with no bottleneck and no channel).
        """
        mask = inputs.get("mask")
        h_img, h_txt = self._embed(inputs)
        n = self.num_layers
        for i in range(n + 1):
            cut_img, cut_txt = self._channel(h_img, h_txt, width, key, snr_db)
            if h_img is not None:
                h_img = jnp.where(i == depth, cut_img, h_img)
            if h_txt is not None:
                h_txt = jnp.where(i == depth, cut_txt, h_txt)
            if i < n:
                h_img, h_txt = self._layer(i, h_img, h_txt, mask)
        if h_img is not None:
            h_img = self.vit_norm(h_img)
        return self._task_head(h_img, h_txt, mask)

    def cut_features(self, inputs: dict, depth):
        """The features (image, question) after ``depth`` layers (``depth`` traced; None where
        the task has no such input)."""
        mask = inputs.get("mask")
        h_img, h_txt = self._embed(inputs)
        cut_img, cut_txt = h_img, h_txt
        for i in range(self.num_layers):
            h_img, h_txt = self._layer(i, h_img, h_txt, mask)
            if h_img is not None:
                cut_img = jnp.where(i + 1 == depth, h_img, cut_img)
            if h_txt is not None:
                cut_txt = jnp.where(i + 1 == depth, h_txt, cut_txt)
        return cut_img, cut_txt

    def reconstruction_error(self, inputs: dict, depth, width, key, snr_db) -> jax.Array:
        """Relative squared error (B,) of the cut features after the channel, ``depth`` traced.

        The features after ``depth`` layers are the target (their gradient stopped, so only
        the bottleneck learns from this loss): ``|up(awgn(down(h))) - h|^2 / |h|^2`` over the
        sample's tokens, image and question together.
        """
        cut_img, cut_txt = self.cut_features(inputs, depth)
        targets = [jax.lax.stop_gradient(h) for h in (cut_img, cut_txt) if h is not None]
        received = [r for r in self._channel(*(jax.lax.stop_gradient(h) if h is not None else None
                                               for h in (cut_img, cut_txt)), width, key, snr_db) if r is not None]
        err = sum(jnp.sum(jnp.square(r - t), axis=(1, 2)) for r, t in zip(received, targets))
        return err / sum(jnp.sum(jnp.square(t), axis=(1, 2)) for t in targets)

    def __call__(self, inputs: dict) -> jax.Array:
        """The whole codec over a noiseless channel (the local model)."""
        return self.decode(self.encode(inputs), inputs.get("mask"))


def static_params(params: dict, width: int) -> dict:
    """Widest-bottleneck ``params`` cut to the first ``width`` units (see ``SplitCodec.any_split``)."""
    out = dict(params)
    for side in ("vit", "bert"):
        if f"{side}_down" in out:
            down, up = out[f"{side}_down"], out[f"{side}_up"]
            out[f"{side}_down"] = {"kernel": down["kernel"][:, :width], "bias": down["bias"][:width]}
            out[f"{side}_up"] = {"kernel": up["kernel"][:width], "bias": up["bias"]}
    return out


def vit_config(image_size: int, channels: int, patch: int, hidden: int, layers: int, heads: int,
               intermediate: int) -> ViTConfig:
    return ViTConfig(image_size=image_size, patch_size=patch, num_channels=channels, hidden_size=hidden,
                     num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=intermediate,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def bert_config(vocab_size: int, max_len: int, hidden: int, layers: int, heads: int, intermediate: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, max_position_embeddings=max_len, hidden_size=hidden,
                      num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=intermediate,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def dummy_inputs(model: SplitCodec, batch: int = 1, image_shape=None, seq_len=None) -> dict:
    """Zero inputs of the codec's shapes (for init, shape inference and cost analysis)."""
    img, txt = model._uses()
    out = {}
    if img:
        c = model.vit_config
        shape = image_shape or (c.image_size, c.image_size, c.num_channels)
        out["pixels"] = jnp.zeros((batch, *shape), jnp.float32)
    if txt:
        t = seq_len or model.bert_config.max_position_embeddings
        out["ids"] = jnp.zeros((batch, t), jnp.int32)
        out["mask"] = jnp.ones((batch, t), jnp.int32)
    return out


def sincos_position_embeddings(grid: int, dim: int) -> jax.Array:
    """Fixed 2-D sine-cosine position embeddings (1, 1 + grid**2, dim) of a ViT's row-major
    patch grid, zero for [CLS]: a quarter of the units each for sin and cos of the row and of
    the column at frequencies 10000**(-i / (dim // 4)) (as in MAE, He et al. 2022); any
    ``dim % 4`` units left over are zero.

    The profile starts the VQA codec's ViT here instead of at small random values: where an
    object is is then in its patch's features from step 0. With it, 8000 steps reach 0.86 test
    accuracy on Sort-of-CLEVR (left/top 0.88, farthest 0.77); without, 0.74 (left/top 0.65,
    farthest 0.50). Not for the digits: their 2x2-pixel patches carry so little signal that
    the unit-amplitude sines drown it (a 2-layer codec of width 32 stayed at chance over 150 steps).
    """
    q = dim // 4
    omega = 1.0 / 10000.0 ** (jnp.arange(q, dtype=jnp.float32) / max(q, 1))
    row, col = jnp.divmod(jnp.arange(grid * grid, dtype=jnp.float32), grid)
    angles = [jnp.outer(row, omega), jnp.outer(col, omega)]
    pe = jnp.concatenate([f(a) for a in angles for f in (jnp.sin, jnp.cos)], axis=1)
    pe = jnp.pad(pe, ((1, 0), (0, dim - 4 * q)))
    return pe[None]


def init_params(model: SplitCodec, key: jax.Array, inputs: dict, positions: str = "learned"):
    """Random initial parameters. ``positions="sincos"`` starts a ViT's position embeddings at
    :func:`sincos_position_embeddings` (they stay trainable); "learned" leaves transformers'
    small random start."""
    if positions not in ("learned", "sincos"):
        raise ValueError(f"init_params: positions must be 'learned' or 'sincos' (got {positions!r})")
    params = model.init(key, inputs)["params"]
    if positions == "sincos" and model._uses()[0]:
        c = model.vit_config
        emb = dict(params["vit_embeddings"])
        emb["position_embeddings"] = sincos_position_embeddings(c.image_size // c.patch_size, c.hidden_size)
        params = {**params, "vit_embeddings": emb}
    return params


def abstract_params(model: SplitCodec, inputs: dict):
    """Parameter shapes only (no memory): enough for XLA's cost analysis at any scale."""
    return jax.eval_shape(lambda k: init_params(model, k, inputs), jax.random.key(0))


def pretrained_params(params: dict, path: str, kind: str) -> dict:
    """Copies a local transformers checkpoint's embeddings and layers into codec ``params``.

    ``kind`` is "vit" or "bert"; ``path`` a folder written by ``save_pretrained`` (read with
    ``local_files_only=True``, so a missing folder fails at once instead of downloading).
    The checkpoint's config must match the codec's (hidden size, layer count, patch size).
    """
    from pathlib import Path

    if kind not in ("vit", "bert"):
        raise ValueError(f"kind must be 'vit' or 'bert' (got {kind!r})")
    if not Path(path).is_dir():
        raise ValueError(f"pretrained {kind} checkpoint {str(path)!r} is not a local folder")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import FlaxBertModel, FlaxViTModel

        cls = FlaxViTModel if kind == "vit" else FlaxBertModel
        ckpt = cls.from_pretrained(path, local_files_only=True).params
    params = dict(params)
    params[f"{kind}_embeddings"] = ckpt["embeddings"]
    layers = ckpt["encoder"]["layer"]
    n = sum(1 for k in params if k.startswith(f"{kind}_layers_"))
    if len(layers) != n:
        raise ValueError(f"pretrained {kind} checkpoint {path!r} has {len(layers)} layers, the codec {n}")
    for i in range(n):
        ours, theirs = params[f"{kind}_layers_{i}"], layers[str(i)]
        if jax.tree.map(jnp.shape, ours) != jax.tree.map(jnp.shape, theirs):
            raise ValueError(f"pretrained {kind} checkpoint {path!r}: layer {i} shapes differ from the codec's")
        params[f"{kind}_layers_{i}"] = theirs
    return params
