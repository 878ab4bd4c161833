"""Task data for the codecs: generated or bundled by default, real data sets from a local folder.

Nothing here downloads. The default sets ship with a package or are generated:

* image: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes);
* text: generated star-rated movie reviews: four remarks, each with its own negation ("not",
  "never") and intensifier, rated by how many are positive (five classes, as in SST-5), so
  the label depends on word order and a bag of words cannot solve it;
* vqa: a generated Sort-of-CLEVR set: coloured squares and circles on a grid, with
  non-relational and relational questions (closest / farthest object, shape counts).

``load_real(task, data_dir)`` reads the real sets from a local folder (GLUE SST-2 TSV,
CIFAR-10 binary batches, VQAv2 JSON + COCO images) and raises a ``ValueError`` naming the
missing path when they are not there.

A task set is a :class:`TaskData`: NumPy arrays ``train`` / ``test`` dicts holding
``pixels`` (B, H, W, C) float32 in [0, 1] and/or ``ids`` / ``mask`` (B, T) int32, and
``label`` (B,) int32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


@dataclass
class TaskData:
    name: str
    train: dict
    test: dict
    num_classes: int
    source: str
    vocab_size: int = 0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        for part in ("train", "test"):
            arrays = getattr(self, part)
            sizes = {k: len(v) for k, v in arrays.items()}
            if len(set(sizes.values())) != 1:
                raise ValueError(f"TaskData {self.name}.{part}: arrays differ in length {sizes}")

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        return self.train["pixels"].shape[1:] if "pixels" in self.train else None

    @property
    def seq_len(self) -> int | None:
        return self.train["ids"].shape[1] if "ids" in self.train else None


# --------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------


def word_tokenizer(vocab: list[str], max_len: int):
    """A word-level ``tokenizers`` tokenizer over ``vocab``: lower-cased, [CLS] x [SEP], padded.

    Built locally from the vocabulary (never fetched). Ids: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    words = list(SPECIALS) + sorted(set(vocab) - set(SPECIALS))
    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.enable_padding(pad_id=0, pad_token="[PAD]", length=max_len)
    tok.enable_truncation(max_length=max_len)
    return tok


def encode_texts(tok, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    enc = tok.encode_batch(list(texts))
    ids = np.asarray([e.ids for e in enc], dtype=np.int32)
    mask = np.asarray([e.attention_mask for e in enc], dtype=np.int32)
    return ids, mask


# --------------------------------------------------------------------------------------
# Generated / bundled sets
# --------------------------------------------------------------------------------------


def digits(seed: int = 0, test_fraction: float = 0.2) -> TaskData:
    """scikit-learn's bundled digits as (B, 8, 8, 1) images in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    te, tr = order[:n_test], order[n_test:]
    return TaskData(
        "image", {"pixels": x[tr], "label": y[tr]}, {"pixels": x[te], "label": y[te]},
        num_classes=10, source="sklearn.datasets.load_digits (bundled, 1797 8x8 images)",
    )


_SUBJECTS = ("movie", "plot", "acting", "soundtrack", "ending", "script", "cast", "film", "story", "dialogue")
_POSITIVE = ("good", "great", "fun", "moving", "clever", "charming", "brilliant", "enjoyable")
_NEGATIVE = ("bad", "dull", "boring", "awful", "weak", "messy", "bland", "tedious")
_INTENSIFIERS = ("very", "really", "extremely", "quite", "truly")
_NEGATORS = ("not", "never")
_GLUE = ("the", "was", ";")
REVIEW_VOCAB = list(_SUBJECTS + _POSITIVE + _NEGATIVE + _INTENSIFIERS + _NEGATORS + _GLUE)


def _remark(rng, positive: bool) -> str:
    """One remark with the given verdict, "the <subject> was [not|never] [intensifier] <adjective>":
    a negated remark carries an adjective of the opposite polarity."""
    negated = rng.random() < 0.4
    words = ["the", rng.choice(_SUBJECTS), "was"]
    if negated:
        words.append(rng.choice(_NEGATORS))
    if rng.random() < 0.5:
        words.append(rng.choice(_INTENSIFIERS))
    words.append(rng.choice(_POSITIVE if positive != negated else _NEGATIVE))
    return " ".join(words)


def star_review(rng, remarks: int = 4) -> tuple[str, int]:
    """One generated review of ``remarks`` remarks separated by ";" and its rating, the number
    of positive remarks (0 to ``remarks``: one to five stars at four remarks, as in SST-5).

    The rating is drawn uniformly, then which remarks are positive, so every class is equally
    likely (chance is 1 / (remarks + 1)). Negation flips a remark's adjective, so the rating
    depends on word order and a bag of words cannot solve it; a fine-grained label needs more
    of each token's content than a binary verdict, which is what a narrow bottleneck removes.
    """
    rating = int(rng.integers(remarks + 1))
    positive = np.zeros(remarks, bool)
    positive[rng.choice(remarks, rating, replace=False)] = True
    return " ; ".join(_remark(rng, bool(p)) for p in positive), rating


def star_reviews(n_train: int = 4000, n_test: int = 1000, seed: int = 0, max_len: int = 40,
                 remarks: int = 4) -> TaskData:
    rng = np.random.default_rng(seed)
    pairs = [star_review(rng, remarks) for _ in range(n_train + n_test)]
    tok = word_tokenizer(REVIEW_VOCAB, max_len)
    ids, mask = encode_texts(tok, [p[0] for p in pairs])
    y = np.asarray([p[1] for p in pairs], dtype=np.int32)
    s = slice(0, n_train), slice(n_train, None)
    return TaskData(
        "text",
        {"ids": ids[s[0]], "mask": mask[s[0]], "label": y[s[0]]},
        {"ids": ids[s[1]], "mask": mask[s[1]], "label": y[s[1]]},
        num_classes=remarks + 1, vocab_size=tok.get_vocab_size(),
        source=(f"generated star-rated reviews ({remarks} remarks with negation and intensifiers, "
                f"rating = positive remarks, {remarks + 1} classes), seed {seed}"),
        info={"examples": [p[0] for p in pairs[:3]]},
    )


COLOURS = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 0.8, 0.0), "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0),
}
SHAPES = ("square", "circle")
VQA_ANSWERS = list(SHAPES) + ["yes", "no"] + list(COLOURS) + ["0", "1", "2", "3", "4", "5"]
_QUESTIONS = (
    "what shape is the {c} object ?",
    "is the {c} object on the left ?",
    "is the {c} object on the top ?",
    "what shape is the object closest to the {c} object ?",
    "what colour is the object farthest from the {c} object ?",
    "how many other objects have the same shape as the {c} object ?",
)
CLEVR_VOCAB = sorted({w for q in _QUESTIONS for w in q.replace("{c}", "").split()} | set(COLOURS))


def _draw(cell: int, shape: str) -> np.ndarray:
    """A (cell, cell) mask with a one-pixel margin: a filled square, or a disc of the same
    diameter (the square's corners cut; at cell = 6 the square has 16 pixels, the disc 12)."""
    if cell < 6:
        raise ValueError(f"cell must be >= 6 pixels for squares and circles to differ (got {cell})")
    r = (cell - 2) / 2.0
    yy, xx = np.mgrid[:cell, :cell] - (cell - 1) / 2.0
    if shape == "square":
        return ((np.abs(yy) <= r) & (np.abs(xx) <= r)).astype(np.float32)
    return (yy**2 + xx**2 <= r**2).astype(np.float32)


def sort_of_clevr_sample(rng, grid: int, cell: int, num_objects: int):
    """One image, question, answer. Objects sit in distinct grid cells (one ViT patch each)."""
    names = list(COLOURS)
    colours = rng.choice(len(names), num_objects, replace=False)
    cells = rng.choice(grid * grid, num_objects, replace=False)
    shapes = rng.integers(2, size=num_objects)
    img = np.zeros((grid * cell, grid * cell, 3), np.float32)
    pos = np.stack([cells // grid, cells % grid], axis=1).astype(np.float64)
    for c, (r, k), s in zip(colours, pos.astype(int), shapes):
        img[r * cell:(r + 1) * cell, k * cell:(k + 1) * cell] = _draw(cell, SHAPES[s])[..., None] * np.asarray(COLOURS[names[c]])
    while True:
        q = int(rng.integers(len(_QUESTIONS)))
        i = int(rng.integers(num_objects))
        dist = np.sqrt(((pos - pos[i]) ** 2).sum(1))
        dist[i] = np.nan
        if q == 0:
            ans = SHAPES[shapes[i]]
        elif q == 1:
            ans = "yes" if pos[i, 1] < grid / 2 else "no"
        elif q == 2:
            ans = "yes" if pos[i, 0] < grid / 2 else "no"
        elif q in (3, 4):
            d = dist[~np.isnan(dist)]
            target = np.nanmin(dist) if q == 3 else np.nanmax(dist)
            if np.sum(np.isclose(d, target)) > 1:
                continue  # a tie has no single answer: ask another question
            j = int(np.nanargmin(dist) if q == 3 else np.nanargmax(dist))
            ans = SHAPES[shapes[j]] if q == 3 else names[colours[j]]
        else:
            ans = str(int(np.sum(shapes == shapes[i]) - 1))
        return img, _QUESTIONS[q].format(c=names[colours[i]]), VQA_ANSWERS.index(ans)


def sort_of_clevr(n_train: int = 6000, n_test: int = 1000, seed: int = 0, grid: int = 4, cell: int = 6,
                  num_objects: int = 4, max_len: int = 14) -> TaskData:
    rng = np.random.default_rng(seed)
    samples = [sort_of_clevr_sample(rng, grid, cell, num_objects) for _ in range(n_train + n_test)]
    tok = word_tokenizer(CLEVR_VOCAB, max_len)
    ids, mask = encode_texts(tok, [s[1] for s in samples])
    x = np.stack([s[0] for s in samples])
    y = np.asarray([s[2] for s in samples], dtype=np.int32)
    tr, te = slice(0, n_train), slice(n_train, None)
    return TaskData(
        "vqa",
        {"pixels": x[tr], "ids": ids[tr], "mask": mask[tr], "label": y[tr]},
        {"pixels": x[te], "ids": ids[te], "mask": mask[te], "label": y[te]},
        num_classes=len(VQA_ANSWERS), vocab_size=tok.get_vocab_size(),
        source=(f"generated Sort-of-CLEVR ({grid}x{grid} cells of {cell} px, {num_objects} objects, "
                f"6 question types, 3 relational), seed {seed}"),
        info={"answers": VQA_ANSWERS},
    )


#: Training and test examples of each generated set at scale 1. VQA has the most, since its
#: model must learn to find an object from a colour word before any question can be answered,
#: and with fewer images it memorises them first (6000 images gave train accuracy 0.96, test 0.73).
GENERATED_SIZES = {"text": (4000, 1000), "vqa": (20000, 1000)}


def default_task_data(seed: int = 0, scale: float = 1.0, tasks=("text", "image", "vqa")) -> dict[str, TaskData]:
    """The default sets of ``tasks``; ``scale`` shrinks the generated ones (tests, quick runs)."""
    n = lambda k: max(64, int(k * scale))
    makers = {
        "text": lambda: star_reviews(*map(n, GENERATED_SIZES["text"]), seed),
        "image": lambda: digits(seed),
        "vqa": lambda: sort_of_clevr(*map(n, GENERATED_SIZES["vqa"]), seed),
    }
    return {t: makers[t]() for t in tasks}


# --------------------------------------------------------------------------------------
# Real data sets from a local folder
# --------------------------------------------------------------------------------------

DATA_LAYOUT = {
    "text": "SST-2/train.tsv and SST-2/dev.tsv (GLUE: columns 'sentence<TAB>label', header row)",
    "image": "cifar-10-batches-bin/data_batch_1..5.bin and test_batch.bin (CIFAR-10's binary version)",
    "vqa": ("VQAv2/v2_OpenEnded_mscoco_{train,val}2014_questions.json, "
            "VQAv2/v2_mscoco_{train,val}2014_annotations.json and images under VQAv2/{train,val}2014/"),
}


def _need(path: Path, task: str) -> Path:
    if not path.exists():
        raise ValueError(
            f"--data-dir: {str(path)!r} not found; the {task} set expects {DATA_LAYOUT[task]}. "
            "Nothing is downloaded: place the files there, or omit --data-dir for the built-in sets."
        )
    return path


def load_sst2(data_dir: str | Path, max_len: int = 66, vocab_size: int = 8000, limit: int | None = None) -> TaskData:
    """GLUE SST-2; the word-level vocabulary is trained on the local train split."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from tokenizers.trainers import WordLevelTrainer

    root = _need(Path(data_dir) / "SST-2", "text")
    parts = {}
    for split, name in (("train", "train.tsv"), ("test", "dev.tsv")):
        lines = _need(root / name, "text").read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        if "sentence" not in header or "label" not in header:
            raise ValueError(f"{str(root / name)!r}: expected a header with 'sentence' and 'label' columns (got {header})")
        si, li = header.index("sentence"), header.index("label")
        rows = [ln.split("\t") for ln in lines[1:] if ln.strip()][:limit]
        parts[split] = ([r[si] for r in rows], np.asarray([int(r[li]) for r in rows], np.int32))
    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(parts["train"][0], WordLevelTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS)))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.enable_padding(pad_id=0, pad_token="[PAD]", length=max_len)
    tok.enable_truncation(max_length=max_len)
    out = {}
    for split, (texts, y) in parts.items():
        ids, mask = encode_texts(tok, texts)
        out[split] = {"ids": ids, "mask": mask, "label": y}
    return TaskData("text", out["train"], out["test"], num_classes=2, vocab_size=tok.get_vocab_size(),
                    source=f"GLUE SST-2 from {root} (train / dev)")


#: Bytes per record of CIFAR-10's binary version (a label byte, then 32 x 32 pixels of R, G and B planes).
CIFAR_RECORD = 1 + 3 * 32 * 32


def load_cifar10(data_dir: str | Path, limit: int | None = None) -> TaskData:
    """CIFAR-10's binary version (fixed-size records read with NumPy; its Python version is
    Python object serialisation, and loading such a downloaded file runs whatever code it holds)."""
    root = _need(Path(data_dir) / "cifar-10-batches-bin", "image")

    def read(names):
        xs, ys = [], []
        for n in names:
            raw = np.fromfile(_need(root / n, "image"), np.uint8)
            if raw.size % CIFAR_RECORD:
                raise ValueError(f"--data-dir: {str(root / n)!r} is not a CIFAR-10 binary batch "
                                 f"(size {raw.size} is not a multiple of {CIFAR_RECORD} bytes)")
            records = raw.reshape(-1, CIFAR_RECORD)
            xs.append(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(records[:, 0].astype(np.int32))
        x, y = np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]
        return {"pixels": x.astype(np.float32) / 255.0, "label": y}

    return TaskData("image", read([f"data_batch_{i}.bin" for i in range(1, 6)]), read(["test_batch.bin"]),
                    num_classes=10, source=f"CIFAR-10 from {root}")


def load_vqav2(data_dir: str | Path, image_size: int = 32, max_len: int = 20, num_answers: int = 100,
               limit: int | None = 20000) -> TaskData:
    """VQAv2 (train2014 for training, val2014 for testing), the ``num_answers`` most frequent answers."""
    from PIL import Image

    root = _need(Path(data_dir) / "VQAv2", "vqa")
    raw = {}
    for split, year in (("train", "train2014"), ("test", "val2014")):
        qs = json.loads(_need(root / f"v2_OpenEnded_mscoco_{year}_questions.json", "vqa").read_text())["questions"]
        anns = json.loads(_need(root / f"v2_mscoco_{year}_annotations.json", "vqa").read_text())["annotations"]
        answer = {a["question_id"]: a["multiple_choice_answer"] for a in anns}
        raw[split] = [(q["image_id"], q["question"], answer[q["question_id"]]) for q in qs if q["question_id"] in answer]
    counts: dict[str, int] = {}
    for _, _, a in raw["train"]:
        counts[a] = counts.get(a, 0) + 1
    answers = sorted(counts, key=lambda a: (-counts[a], a))[:num_answers]
    index = {a: i for i, a in enumerate(answers)}
    vocab = sorted({w.lower() for _, q, _ in raw["train"] for w in q.replace("?", " ?").split()})
    tok = word_tokenizer(vocab, max_len)
    out = {}
    for split, year in (("train", "train2014"), ("test", "val2014")):
        rows = [r for r in raw[split] if r[2] in index][:limit]
        imgs = []
        for image_id, _, _ in rows:
            path = _need(root / year / f"COCO_{year}_{image_id:012d}.jpg", "vqa")
            with Image.open(path) as im:
                imgs.append(np.asarray(im.convert("RGB").resize((image_size, image_size)), np.float32) / 255.0)
        ids, mask = encode_texts(tok, [r[1] for r in rows])
        out[split] = {"pixels": np.stack(imgs), "ids": ids, "mask": mask,
                      "label": np.asarray([index[r[2]] for r in rows], np.int32)}
    return TaskData("vqa", out["train"], out["test"], num_classes=len(answers), vocab_size=tok.get_vocab_size(),
                    source=f"VQAv2 from {root} (train2014 / val2014, top {len(answers)} answers)",
                    info={"answers": answers})


def load_real(task: str, data_dir: str | Path, limit: int | None = None) -> TaskData:
    if task == "text":
        return load_sst2(data_dir, limit=limit)
    if task == "image":
        return load_cifar10(data_dir, limit=limit)
    if task == "vqa":
        return load_vqav2(data_dir, limit=limit)
    raise ValueError(f"task must be one of ['text', 'image', 'vqa'] (got {task!r})")
