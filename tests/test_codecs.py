"""Split codecs: the mu -> split rule, the AWGN channel, the Flax models, XLA FLOPs, data."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("transformers", reason="the codecs need the 'codecs' extra (transformers)")
pytest.importorskip("sklearn", reason="the codecs need the 'codecs' extra (scikit-learn)")

import jax
import jax.numpy as jnp

from semjax.codecs import data as D
from semjax.codecs import models as M
from semjax.codecs.channel import awgn, power_normalise
from semjax.codecs.flops import codec_costs, compiled_flops, feature_bits, feature_shape
from semjax.codecs.split import check_mu_grid, split_for_mu

# ---------------------------------------------------------------------------------------
# split rule


@pytest.mark.parametrize(
    "mu,n,h,depth,width",
    [(0.1, 4, 64, 4, 6), (0.5, 4, 64, 3, 32), (0.75, 4, 64, 2, 48), (1.0, 4, 64, 1, 64),
     (0.5, 12, 768, 7, 384), (0.1, 12, 768, 11, 77), (0.01, 3, 10, 3, 1)],
)
def test_split_rule_hand_values(mu, n, h, depth, width):
    s = split_for_mu(mu, n, h)
    assert (s.depth, s.width) == (depth, width)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-4, 1.0), st.floats(1e-4, 1.0), st.integers(1, 24), st.integers(1, 1024))
def test_split_rule_monotone_and_in_range(a, b, n, h):
    lo, hi = sorted((a, b))
    s_lo, s_hi = split_for_mu(lo, n, h), split_for_mu(hi, n, h)
    assert s_lo.depth >= s_hi.depth  # smaller mu: deeper split
    assert s_lo.width <= s_hi.width  # smaller mu: narrower bottleneck
    assert 1 <= s_lo.depth <= n and 1 <= s_lo.width <= h


@pytest.mark.parametrize(
    "mu,n,d,depth",
    # L = 1 + round((d - 1)(1 - mu)), round half up: the device runs at most d of the n layers.
    [(0.1, 12, 3, 3), (0.2, 12, 3, 3), (0.35, 12, 3, 2), (0.5, 12, 3, 2), (0.75, 12, 3, 2), (1.0, 12, 3, 1),
     (0.1, 4, 1, 1), (0.5, 4, 2, 2), (0.6, 4, 2, 1)],
)
def test_split_rule_device_layers_hand_values(mu, n, d, depth):
    s = split_for_mu(mu, n, 64, device_layers=d)
    assert s.depth == depth and s.width == split_for_mu(mu, n, 64).width  # the width rule is unchanged


@pytest.mark.parametrize("d", [0, 5])
def test_split_rule_rejects_device_layers_out_of_range(d):
    with pytest.raises(ValueError, match=r"device_layers must be in \[1, num_layers = 4\]"):
        split_for_mu(0.5, 4, 64, device_layers=d)


@pytest.mark.parametrize("mu", [0.0, -0.1, 1.01, float("nan")])
def test_split_rule_rejects_bad_mu(mu):
    with pytest.raises(ValueError, match=r"mu must be in \(0, 1\]"):
        split_for_mu(mu, 4, 64)


def test_mu_grid_validation_names_the_problem():
    with pytest.raises(ValueError, match="strictly increasing"):
        check_mu_grid([0.5, 0.2, 1.0])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        check_mu_grid([0.0, 1.0])


# ---------------------------------------------------------------------------------------
# channel


def test_power_normalise_matches_numpy():
    z = np.random.default_rng(0).normal(size=(3, 5, 7)).astype(np.float32) * np.array([1, 10, 0.1])[:, None, None]
    ref = z / np.sqrt((z.astype(np.float64) ** 2).mean(axis=(1, 2), keepdims=True))
    out = np.asarray(power_normalise(jnp.asarray(z)))
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    np.testing.assert_allclose((out**2).mean(axis=(1, 2)), 1.0, rtol=1e-5)


def test_awgn_nearly_identity_at_high_snr():
    z = jax.random.normal(jax.random.key(0), (4, 17, 8)) * 3.0
    y = awgn(jax.random.key(1), z, 80.0)
    np.testing.assert_allclose(np.asarray(y), np.asarray(power_normalise(z)), atol=1e-3)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, -5.0])
def test_awgn_noise_variance_is_one_over_snr(snr_db):
    z = jax.random.normal(jax.random.key(0), (8, 500, 50))
    noise = np.asarray(awgn(jax.random.key(2), z, snr_db) - power_normalise(z))
    # 200k samples: the variance estimate's relative standard error is sqrt(2/2e5) = 0.3 %.
    np.testing.assert_allclose(noise.var(), 10 ** (-snr_db / 10), rtol=0.02)
    assert abs(noise.mean()) < 0.01 * 10 ** (-snr_db / 20)


def test_awgn_per_sample_snr():
    z = jnp.ones((2, 1000, 100))
    noise = np.asarray(awgn(jax.random.key(3), z, jnp.array([0.0, 20.0])) - 1.0)
    np.testing.assert_allclose(noise.var(axis=(1, 2)), [1.0, 0.01], rtol=0.03)


# ---------------------------------------------------------------------------------------
# models

TINY_VIT = M.vit_config(12, 3, 6, 16, 3, 2, 32)
TINY_BERT = M.bert_config(20, 7, 16, 3, 2, 32)


def _tiny_inputs(task):
    widest = M.SplitCodec(task, 3, 16, 5, TINY_VIT, TINY_BERT)
    x = M.dummy_inputs(widest, 2)
    if "pixels" in x:
        x["pixels"] = jax.random.uniform(jax.random.key(1), x["pixels"].shape)
    if "ids" in x:
        x["ids"] = jax.random.randint(jax.random.key(2), x["ids"].shape, 0, 20)
        x["mask"] = x["mask"].at[:, 5:].set(0)
    return widest, x


@pytest.mark.parametrize("joint_from", [None, 2])
def test_any_split_equals_the_static_split_codec(joint_from):
    # vqa runs both backbones, the joint bottleneck and the fusion: it covers text and image.
    # joint_from = 2: the third layer runs over image and question tokens together.
    widest, x = _tiny_inputs("vqa")
    widest = widest.clone(joint_from=joint_from)
    params = M.init_params(widest, jax.random.key(0), x)
    if joint_from is not None:
        assert "fusion" not in params and "vit_layers_2" not in params and "bert_layers_2" in params
    for depth, width in [(1, 3), (3, 16)]:
        static = M.SplitCodec("vqa", depth, width, 5, TINY_VIT, TINY_BERT, joint_from=joint_from)
        a = static.apply({"params": M.static_params(params, width)}, x)
        b = widest.apply({"params": params}, x, depth, width, jax.random.key(9), jnp.inf,
                         method=M.SplitCodec.any_split)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)


def test_reconstruction_error_by_hand():
    # Identity bottleneck at full width: the server receives x + sigma n, x the cut features z
    # scaled to unit mean power, so E|x + sigma n - z|^2 / |z|^2 = (|x - z|^2 + sigma^2 count) / |z|^2,
    # computed here in NumPy from the features after two layers.
    widest, x = _tiny_inputs("vqa")
    params = M.init_params(widest, jax.random.key(0), x)
    eye = {"kernel": jnp.eye(16), "bias": jnp.zeros(16)}
    params = {**params, "vit_down": eye, "vit_up": eye, "bert_down": eye, "bert_up": eye}
    h = widest.apply({"params": params}, x, method=lambda m, inp: m._embed(inp))
    for i in range(2):
        h = widest.apply({"params": params}, i, *h, x["mask"], method=lambda m, i, a, b, mask: m._layer(i, a, b, mask))
    z = np.concatenate([np.asarray(a, np.float64) for a in h], axis=1)
    scaled = z / np.sqrt((z**2).mean(axis=(1, 2), keepdims=True))
    for snr_db, draws in ((60.0, 1), (0.0, 300)):
        expected = (((scaled - z) ** 2).sum(axis=(1, 2)) + 10 ** (-snr_db / 10) * z[0].size) / (z**2).sum(axis=(1, 2))
        error = jax.jit(jax.vmap(lambda k: widest.apply({"params": params}, x, 2, 16, k, snr_db,
                                                        method=M.SplitCodec.reconstruction_error)))
        got = np.asarray(error(jax.random.split(jax.random.key(3), draws))).mean(axis=0)
        np.testing.assert_allclose(got, expected, rtol=1e-3 if draws == 1 else 0.03)


def test_bottleneck_stage_trains_only_the_bottleneck():
    from semjax.codecs.train import BOTTLENECK, TrainConfig, train_bottlenecks

    widest, x = _tiny_inputs("text")
    params = M.init_params(widest, jax.random.key(0), x)
    data = {**{k: np.asarray(v) for k, v in x.items()}, "label": np.array([0, 1], np.int32)}
    cfg = TrainConfig(bottleneck_steps=60, bottleneck_lr=1e-2, batch=2, snr_train_db=(30.0, 30.0))
    stacked, losses = train_bottlenecks(widest, params, [1, 3], [2, 16], data, jax.random.key(1), cfg)
    losses = np.asarray(losses)
    assert losses.shape == (2, 60)
    # It starts at the principal directions (the noiseless optimum): all 16 units reconstruct to
    # the 30 dB noise floor, 2 units lose the variance outside the top two directions.
    assert losses[1, -5:].mean() < 0.01 < losses[0, -5:].mean()
    assert np.all(losses[:, -5:].mean(1) < 1.5 * losses[:, :5].mean(1))  # refinement does not diverge
    for name, value in params.items():
        for split in range(2):
            same = jax.tree.map(lambda a, b: bool(np.array_equal(np.asarray(a)[split], np.asarray(b))), stacked[name], value)
            assert all(jax.tree.leaves(same)) == (name not in BOTTLENECK), name


def test_sincos_position_embeddings_by_hand():
    pe = np.asarray(M.sincos_position_embeddings(2, 10))  # q = 2 frequencies: 1 and 1/100
    assert pe.shape == (1, 5, 10)
    np.testing.assert_array_equal(pe[0, 0], 0.0)  # [CLS]
    np.testing.assert_array_equal(pe[0, :, 8:], 0.0)  # dim % 4 = 2 units left at zero
    w = np.array([1.0, 0.01])
    for patch, (row, col) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):  # row-major
        expected = np.concatenate([np.sin(row * w), np.cos(row * w), np.sin(col * w), np.cos(col * w)])
        np.testing.assert_allclose(pe[0, 1 + patch, :8], expected, rtol=1e-6, atol=1e-7)


def test_init_params_positions():
    widest, x = _tiny_inputs("vqa")
    learned = M.init_params(widest, jax.random.key(0), x)
    sincos = M.init_params(widest, jax.random.key(0), x, positions="sincos")
    c = widest.vit_config
    expected = M.sincos_position_embeddings(c.image_size // c.patch_size, c.hidden_size)
    np.testing.assert_array_equal(sincos["vit_embeddings"]["position_embeddings"], expected)
    assert np.abs(np.asarray(learned["vit_embeddings"]["position_embeddings"])).max() < 0.2  # transformers' start
    same = jax.tree.map(np.array_equal, {k: v for k, v in learned.items() if k != "vit_embeddings"},
                        {k: v for k, v in sincos.items() if k != "vit_embeddings"})
    assert all(jax.tree.leaves(same))  # nothing else changes
    text, xt = _tiny_inputs("text")  # no image: nothing to set
    assert jax.tree.all(jax.tree.map(np.array_equal, M.init_params(text, jax.random.key(0), xt, "sincos"),
                                     M.init_params(text, jax.random.key(0), xt)))
    with pytest.raises(ValueError, match="positions must be 'learned' or 'sincos'"):
        M.init_params(widest, jax.random.key(0), x, positions="rope")


def test_task_optimizer_warms_up_then_decays():
    from semjax.codecs.train import TrainConfig, _task_optimizer

    cfg = TrainConfig(steps=100, lr=1e-2, warmup=0.1)
    opt = _task_optimizer(cfg)
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    sizes = []
    for _ in range(100):  # Adam's first steps move by about the rate: |update| ~ lr(t)
        upd, state = opt.update({"w": jnp.ones(())}, state, params)
        sizes.append(abs(float(upd["w"])))
    assert sizes[0] == 0.0  # the warm-up starts at 0
    assert sizes[5] == pytest.approx(1e-2 * 5 / 10, rel=1e-3)
    assert max(sizes) == pytest.approx(1e-2, rel=1e-3) and int(np.argmax(sizes)) == 10
    assert sizes[-1] < 1e-4  # cosine to 0 at the end
    with pytest.raises(ValueError, match="TrainConfig.warmup"):
        TrainConfig(warmup=1.0)


def test_encoder_output_shape_and_power():
    _, x = _tiny_inputs("vqa")
    codec = M.SplitCodec("vqa", 2, 4, 5, TINY_VIT, TINY_BERT)
    params = M.init_params(codec, jax.random.key(0), x)
    z = np.asarray(codec.apply({"params": params}, x, method=M.SplitCodec.encode))
    assert z.shape == (2, 5 + 7, 4)  # 4 patches + [CLS], 7 question tokens; width 4
    np.testing.assert_allclose((z**2).mean(axis=(1, 2)), 1.0, rtol=1e-4)


def test_joint_layers_see_the_question():
    # With joint layers the image [CLS] the head reads depends on the question; with late
    # fusion only through the fusion layer. Either way changing the question changes the answer.
    widest, x = _tiny_inputs("vqa")
    widest = widest.clone(joint_from=1)
    params = M.init_params(widest, jax.random.key(0), x)
    other = {**x, "ids": (x["ids"] + 1) % 20}
    a, b = (np.asarray(widest.apply({"params": params}, inp)) for inp in (x, other))
    assert np.abs(a - b).max() > 1e-4
    with pytest.raises(ValueError, match="joint_from must be None or, for vqa, in"):
        M.init_params(M.SplitCodec("text", 1, 4, 2, TINY_VIT, TINY_BERT, joint_from=1), jax.random.key(0),
                      _tiny_inputs("text")[1])


def test_bad_depth_is_rejected():
    _, x = _tiny_inputs("text")
    with pytest.raises(ValueError, match="depth must be in"):
        M.init_params(M.SplitCodec("text", 4, 4, 2, TINY_VIT, TINY_BERT), jax.random.key(0), x)


def test_pretrained_checkpoint_loads_locally(tmp_path):
    from transformers import FlaxBertModel

    ckpt = FlaxBertModel(TINY_BERT, seed=3)
    ckpt.save_pretrained(tmp_path / "bert")
    widest, x = _tiny_inputs("text")
    params = M.pretrained_params(M.init_params(widest, jax.random.key(0), x), str(tmp_path / "bert"), "bert")
    for i in range(3):
        got = params[f"bert_layers_{i}"]["attention"]["self"]["query"]["kernel"]
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ckpt.params["encoder"]["layer"][str(i)]["attention"]["self"]["query"]["kernel"]))
    with pytest.raises(ValueError, match="not a local folder"):
        M.pretrained_params(params, str(tmp_path / "missing"), "bert")


# ---------------------------------------------------------------------------------------
# FLOPs and bits


def test_compiled_flops_of_a_matmul_is_2mnk():
    a = jax.ShapeDtypeStruct((7, 13), jnp.float32)
    b = jax.ShapeDtypeStruct((13, 5), jnp.float32)
    assert compiled_flops(jnp.matmul, a, b) == 2 * 7 * 13 * 5


def test_codec_flops_deterministic_and_monotone_in_depth():
    costs = [codec_costs(M.SplitCodec("text", d, 8, 2, None, TINY_BERT), full=(d == 1)) for d in (1, 2, 3)]
    again = codec_costs(M.SplitCodec("text", 2, 8, 2, None, TINY_BERT), full=False)
    assert again == costs[1]
    enc = [c["encoder_flops"] for c in costs]
    dec = [c["decoder_flops"] for c in costs]
    assert enc[0] < enc[1] < enc[2]  # deeper split: more device work
    assert dec[0] > dec[1] > dec[2]  # and less server work
    # XLA counts the optimised program (fusions, the server's last layer pruned to the [CLS]
    # row the head reads), so increments need not be equal; the local model costs at least
    # one layer pass more than the device side alone.
    assert costs[0]["full_flops"] > enc[0]


def test_bits_are_tokens_times_width_times_bits_per_element():
    for mu in (0.1, 0.5, 1.0):
        s = split_for_mu(mu, 3, 16)
        codec = M.SplitCodec("vqa", s.depth, s.width, 5, TINY_VIT, TINY_BERT)
        assert feature_bits(codec, 8) == (5 + 7) * s.width * 8
        assert feature_shape(codec) == [12, s.width]


def test_bits_monotone_in_mu():
    bits = [feature_bits(M.SplitCodec("image", s.depth, s.width, 5, TINY_VIT, None))
            for s in (split_for_mu(m, 3, 16) for m in (0.1, 0.3, 0.6, 1.0))]
    assert bits == sorted(bits) and len(set(bits)) == 4


# ---------------------------------------------------------------------------------------
# data


def _oracle_remark(words: list[str]) -> int:
    return int((words[-1] in D._POSITIVE) != any(w in D._NEGATORS for w in words))


def _oracle_rating(review: str) -> int:
    """An independent reading of the generator's grammar: count the positive remarks."""
    return sum(_oracle_remark(r.split()) for r in review.split(" ; "))


def test_star_ratings_follow_the_grammar_and_word_order():
    rng = np.random.default_rng(5)
    pairs = [D.star_review(rng) for _ in range(2000)]
    assert all(_oracle_rating(s) == y for s, y in pairs)
    assert all(len(s.split(" ; ")) == 4 for s, _ in pairs)
    assert D.star_review.__doc__
    # Word order matters: the same bag of words occurs with different ratings.
    assert _oracle_rating("the movie was not good ; the plot was bad") == 0
    assert _oracle_rating("the movie was good ; the plot was not bad") == 2
    # Ratings are uniform over 0..4: each class near a fifth (binomial sd 0.009 at n = 2000).
    counts = np.bincount([y for _, y in pairs], minlength=5) / len(pairs)
    assert counts.shape == (5,) and np.all(np.abs(counts - 0.2) < 0.04)
    # Negation is common enough that polarity words alone mislead: 40 % of remarks.
    negated = [any(w in D._NEGATORS for w in r.split()) for s, _ in pairs for r in s.split(" ; ")]
    assert 0.37 < np.mean(negated) < 0.43
    # The number of remarks sets the classes: 0..remarks.
    assert {y for _, y in (D.star_review(rng, remarks=2) for _ in range(200))} == {0, 1, 2}


def test_star_review_tokens_are_local_and_padded():
    d = D.star_reviews(50, 20, seed=1)
    assert d.num_classes == 5
    assert d.train["ids"].shape == (50, 40) and d.vocab_size == len(set(D.REVIEW_VOCAB)) + 4
    assert np.all(d.train["ids"][:, 0] == 2)  # [CLS]
    lengths = d.train["mask"].sum(1)
    assert np.all(d.train["ids"][np.arange(50), lengths - 1] == 3)  # [SEP] closes every sentence
    assert not np.any(d.train["ids"] == 1)  # no unknown words


def test_sort_of_clevr_answers_match_the_pixels():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        img, q, a = D.sort_of_clevr_sample(rng, 4, 6, 4)
        colour = next(c for c in D.COLOURS if f" {c} " in q)
        hit = np.all(np.isclose(img, D.COLOURS[colour]), axis=-1)
        rows, cols = np.nonzero(hit)
        if q.startswith("what shape is the " + colour):
            assert D.VQA_ANSWERS[a] == ("square" if hit.sum() == 16 else "circle")
            checked += 1
        elif "on the left" in q:
            assert D.VQA_ANSWERS[a] == ("yes" if cols.mean() < 12 else "no")
            checked += 1
        elif "on the top" in q:
            assert D.VQA_ANSWERS[a] == ("yes" if rows.mean() < 12 else "no")
            checked += 1
    assert checked > 100


def test_default_task_data_makes_only_the_tasks_asked_for():
    sets = D.default_task_data(seed=0, scale=0.01, tasks=("text", "vqa"))
    assert set(sets) == {"text", "vqa"}
    # 1 % of (4000, 1000) and (20000, 1000), at least 64 each
    assert [len(sets["text"].train["label"]), len(sets["text"].test["label"])] == [64, 64]
    assert [len(sets["vqa"].train["label"]), len(sets["vqa"].test["label"])] == [200, 64]


def test_digits_are_bundled():
    d = D.digits()
    assert d.train["pixels"].shape[1:] == (8, 8, 1) and len(d.train["label"]) + len(d.test["label"]) == 1797
    assert 0.0 <= d.train["pixels"].min() and d.train["pixels"].max() <= 1.0


# ---------------------------------------------------------------------------------------
# real-data loaders (on small files written here)


def test_missing_data_dir_is_a_clear_error(tmp_path):
    for task in ("text", "image", "vqa"):
        with pytest.raises(ValueError, match="not found.*Nothing is downloaded"):
            D.load_real(task, tmp_path)


def test_sst2_loader(tmp_path):
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "train.tsv").write_text("sentence\tlabel\na fine film \t1\na dull mess \t0\nfine fine \t1\n")
    (tmp_path / "SST-2" / "dev.tsv").write_text("sentence\tlabel\na fine mess\t1\n")
    d = D.load_sst2(tmp_path, max_len=6)
    assert d.train["label"].tolist() == [1, 0, 1] and d.test["ids"].shape == (1, 6)
    assert d.test["mask"].tolist() == [[1, 1, 1, 1, 1, 0]]


def test_cifar_loader(tmp_path):
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        x = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        np.concatenate([np.array([[3], [7]], np.uint8), x], axis=1).tofile(root / name)  # label byte, then pixels
    d = D.load_cifar10(tmp_path)
    assert d.train["pixels"].shape == (10, 32, 32, 3) and d.test["label"].tolist() == [3, 7]
    np.testing.assert_allclose(d.test["pixels"][0, 0, 1, 0], x[0, 1] / 255.0)  # R plane, row 0, col 1
    np.testing.assert_allclose(d.test["pixels"][1, 2, 0, 2], x[1, 2 * 1024 + 2 * 32] / 255.0)  # B plane, row 2, col 0
    (root / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="not a CIFAR-10 binary batch"):
        D.load_cifar10(tmp_path)


def test_vqav2_loader(tmp_path):
    from PIL import Image

    root = tmp_path / "VQAv2"
    for year in ("train2014", "val2014"):
        (root / year).mkdir(parents=True)
        Image.new("RGB", (40, 30), (255, 0, 0)).save(root / year / f"COCO_{year}_{7:012d}.jpg")
        qs = [{"image_id": 7, "question": "what colour is it?", "question_id": 1},
              {"image_id": 7, "question": "is it red?", "question_id": 2}]
        anns = [{"question_id": 1, "multiple_choice_answer": "red"}, {"question_id": 2, "multiple_choice_answer": "yes"}]
        (root / f"v2_OpenEnded_mscoco_{year}_questions.json").write_text(json.dumps({"questions": qs}))
        (root / f"v2_mscoco_{year}_annotations.json").write_text(json.dumps({"annotations": anns}))
    d = D.load_vqav2(tmp_path, image_size=8, max_len=8)
    assert d.train["pixels"].shape == (2, 8, 8, 3) and d.num_classes == 2
    assert [d.info["answers"][i] for i in d.test["label"]] == ["red", "yes"]
    assert d.train["pixels"][0, 0, 0, 0] > 0.9 and d.train["pixels"][0, 0, 0, 1] < 0.1
