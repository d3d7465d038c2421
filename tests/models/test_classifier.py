"""TransformerClassifier: harness, pooling, masks, presets, tokenizer in config, training,
n-gram convolution; ClassifierEnsemble."""

import keras
import numpy as np
import pytest

from tests.harness import (
    MIXED_PRECISION_POLICIES,
    assert_finite,
    dtype_policy,
    run_model_test,
    to_numpy,
)
from transformer_keras.models.classifier import ClassifierEnsemble, TransformerClassifier

TINY = dict(
    vocabulary_size=20,
    num_layers=1,
    hidden_dim=8,
    num_heads=2,
    intermediate_dim=16,
    max_sequence_length=12,
    dropout=0.0,
)
TOKEN_IDS = np.array([[4, 5, 6, 7, 0, 0], [8, 9, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8]], "int32")
LABELS = np.array([0, 1, 2])


def _classifier(**overrides):
    return TransformerClassifier.from_arguments(**{**TINY, "num_classes": 3, **overrides})


def _compiled(**overrides):
    """Default loss and metrics; a constant rate so that the first step moves weights
    (the default schedule warms up from 0)."""
    model = _classifier(**overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    return model


@pytest.mark.jax
def test_harness_token_ids(tmp_path):
    run_model_test(
        _compiled,
        TOKEN_IDS,
        targets=LABELS,
        expected_output_shape=(3, 3),
        tmp_path=tmp_path,
        run_mixed_precision=False,  # logits stay float32: checked below
    )


@pytest.mark.jax
def test_harness_dict_inputs_cls_pooling(tmp_path):
    run_model_test(
        lambda: _compiled(pooling="cls"),
        {"token_ids": TOKEN_IDS, "padding_mask": TOKEN_IDS != 0},
        targets=LABELS,
        expected_output_shape=(3, 3),
        tmp_path=tmp_path,
        run_mixed_precision=False,
    )


@pytest.mark.parametrize("policy", MIXED_PRECISION_POLICIES)
def test_mixed_precision_logits_are_float32(policy):
    with dtype_policy(policy):
        model = _classifier()
        logits = model(TOKEN_IDS)
        assert model.backbone.compute_dtype == keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert_finite(logits)


def test_dict_padding_mask_equals_ids_padding():
    model = _classifier()
    from_ids = to_numpy(model(TOKEN_IDS))
    from_dict = to_numpy(model({"token_ids": TOKEN_IDS, "padding_mask": TOKEN_IDS != 0}))
    np.testing.assert_allclose(from_dict, from_ids, atol=1e-6)
    # The explicit mask wins: masking one more real token changes the logits.
    mask = TOKEN_IDS != 0
    mask[0, 3] = False
    changed = to_numpy(model({"token_ids": TOKEN_IDS, "padding_mask": mask}))
    assert not np.allclose(changed[0], from_ids[0], atol=1e-4)
    np.testing.assert_allclose(changed[1:], from_ids[1:], atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_padding_does_not_change_logits(pooling):
    model = _classifier(pooling=pooling)
    short = to_numpy(model(TOKEN_IDS))
    padded = np.pad(TOKEN_IDS, [(0, 0), (0, 5)])
    np.testing.assert_allclose(to_numpy(model(padded)), short, atol=1e-5)


def test_mean_pooling_averages_real_tokens_only():
    model = _classifier()
    logits = to_numpy(model(TOKEN_IDS))
    hidden = to_numpy(model.backbone(TOKEN_IDS))  # (B, T, D)
    real = TOKEN_IDS != 0
    pooled = np.stack([hidden[b][real[b]].mean(axis=0) for b in range(len(TOKEN_IDS))])
    expected = pooled @ to_numpy(model.head.kernel) + to_numpy(model.head.bias)
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_max_pooling_takes_the_maximum_over_real_tokens_only():
    model = _classifier(pooling="max")
    logits = to_numpy(model(TOKEN_IDS))
    hidden = to_numpy(model.backbone(TOKEN_IDS))  # (B, T, D)
    real = TOKEN_IDS != 0
    pooled = np.stack([hidden[b][real[b]].max(axis=0) for b in range(len(TOKEN_IDS))])
    expected = pooled @ to_numpy(model.head.kernel) + to_numpy(model.head.bias)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    empty = to_numpy(model(np.zeros((1, 4), "int32")))  # no tokens: zeros, finite
    np.testing.assert_allclose(empty[0], to_numpy(model.head.bias), atol=1e-6)


def test_cls_pooling_reads_the_first_position():
    model = _classifier(pooling="cls")
    logits = to_numpy(model(TOKEN_IDS))
    hidden = to_numpy(model.backbone(TOKEN_IDS))  # (B, T, D)
    expected = hidden[:, 0] @ to_numpy(model.head.kernel) + to_numpy(model.head.bias)
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_all_padding_row_is_finite():
    model = _classifier()
    logits = to_numpy(model(np.zeros((2, 5), "int32")))
    assert np.isfinite(logits).all()
    # Mean over no tokens pools to zeros: the logits are the head's bias.
    np.testing.assert_allclose(logits, np.tile(to_numpy(model.head.bias), (2, 1)), atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_token_dropout_hides_real_tokens_only_in_training(pooling):
    model = _classifier(token_dropout=0.5, pooling=pooling)
    mask = np.ones((64, 32), bool)
    mask[:, 24:] = False  # padding
    kept = to_numpy(model._drop_tokens(mask))
    assert not kept[:, 24:].any()  # padding stays padding
    assert 0.4 < 1 - kept[:, :24].mean() < 0.6
    if pooling == "cls":
        assert kept[:, 0].all()  # the class token is never dropped
    inference = to_numpy(model(TOKEN_IDS))
    np.testing.assert_allclose(to_numpy(model(TOKEN_IDS, training=False)), inference)
    assert not np.allclose(to_numpy(model(TOKEN_IDS, training=True)), inference, atol=1e-5)


def test_token_dropout_round_trips_and_defaults_off():
    assert _classifier().token_dropout == 0.0
    model = _classifier(token_dropout=0.2)
    assert TransformerClassifier.from_config(model.get_config()).token_dropout == 0.2
    with pytest.raises(ValueError, match="Received: token_dropout=1.0"):
        _classifier(token_dropout=1.0)


@pytest.mark.jax
def test_harness_with_conv(tmp_path):
    run_model_test(
        lambda: _compiled(conv_kernel_size=3),
        TOKEN_IDS,
        targets=LABELS,
        expected_output_shape=(3, 3),
        tmp_path=tmp_path,
        run_mixed_precision=False,
    )


@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_conv_padding_does_not_change_logits(pooling):
    model = _classifier(conv_kernel_size=3, pooling=pooling)
    short = to_numpy(model(TOKEN_IDS))
    padded = np.pad(TOKEN_IDS, [(0, 0), (0, 5)])
    np.testing.assert_allclose(to_numpy(model(padded)), short, atol=1e-5)


def test_conv_adds_a_residual_n_gram_convolution_before_the_encoder():
    model = _classifier(conv_kernel_size=3)
    model(TOKEN_IDS)  # builds
    assert _classifier().conv is None and _classifier().conv_kernel_size == 0
    assert tuple(model.conv.kernel.shape) == (3, 8, 8)  # (k, D, D)
    real = (TOKEN_IDS != 0)[:, :, None]
    embeddings = to_numpy(model.backbone.embedding(TOKEN_IDS)) * real
    kernel, bias = to_numpy(model.conv.kernel), to_numpy(model.conv.bias)
    padded = np.pad(embeddings, [(0, 0), (1, 1), (0, 0)])
    local = np.maximum(
        sum(padded[:, i : i + TOKEN_IDS.shape[1]] @ kernel[i] for i in range(3)) + bias, 0
    )
    expected = to_numpy(
        model.backbone.transformer(embeddings + local, padding_mask=TOKEN_IDS != 0)
    )
    hidden = to_numpy(model._encode(TOKEN_IDS, TOKEN_IDS != 0))
    np.testing.assert_allclose(hidden, expected, atol=1e-5)
    # The token ids' order matters locally now, and the encoder's input changed.
    assert not np.allclose(hidden, to_numpy(model.backbone(TOKEN_IDS)), atol=1e-4)
    assert len(model.attention_scores(TOKEN_IDS)) == 1


def test_conv_round_trips_and_rejects_bad_widths(tmp_path):
    model = _classifier(conv_kernel_size=5)
    logits = to_numpy(model(TOKEN_IDS))
    config = model.get_config()
    assert config["conv_kernel_size"] == 5
    path = str(tmp_path / "conv.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.conv_kernel_size == 5
    np.testing.assert_allclose(to_numpy(reloaded(TOKEN_IDS)), logits, atol=1e-6)
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match=f"Received: conv_kernel_size={bad}"):
            _classifier(conv_kernel_size=bad)


def test_attention_scores_shapes_and_padding():
    model = _classifier(num_layers=2)
    scores = [to_numpy(s) for s in model.attention_scores(TOKEN_IDS)]
    assert len(scores) == 2
    for layer_scores in scores:
        assert layer_scores.shape == (3, 2, 6, 6)  # (B, N, T, T)
        np.testing.assert_allclose(layer_scores.sum(-1), 1.0, atol=1e-5)
        # No real query attends to a padding key.
        assert np.all(layer_scores[1, :, :2, 2:] == 0.0)


def test_presets_and_overrides():
    assert TransformerClassifier.preset_names() == ["base", "small", "tiny"]
    model = TransformerClassifier.from_preset(
        "small", num_classes=4, vocabulary_size=50, num_layers=1
    )
    assert (model.backbone.num_layers, model.hidden_dim, model.num_classes) == (1, 128, 4)
    assert model.backbone.num_layers == 1
    base = TransformerClassifier.preset_config("base")
    assert base["num_layers"] > TransformerClassifier.preset_config("small")["num_layers"]
    with pytest.raises(ValueError, match="Received: preset='huge'"):
        TransformerClassifier.from_preset("huge", num_classes=2, vocabulary_size=5)
    with pytest.raises(ValueError, match="no argument"):
        TransformerClassifier.from_preset("tiny", num_clases=2)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_classes": 1}, "Received: num_classes=1"),
        ({"num_classes": 2.5}, "Received: num_classes=2.5"),
        ({"pooling": "sum"}, "Received: pooling='sum'"),
        ({"classifier_dropout": 1.5}, "Received: classifier_dropout=1.5"),
        ({"label_names": ["a", "b"]}, r"Received: label_names=\['a', 'b'\]"),
        ({"vocabulary_size": None}, "Received: vocabulary_size=None"),
    ],
)
def test_bad_arguments(overrides, message):
    with pytest.raises(ValueError, match=message):
        _classifier(**overrides)


def test_label_names_default_and_config():
    assert _classifier().label_names == ["0", "1", "2"]
    model = _classifier(label_names=["neg", "neutral", "pos"])
    assert TransformerClassifier.from_config(model.get_config()).label_names == [
        "neg",
        "neutral",
        "pos",
    ]


def test_preprocess_without_tokenizer_is_a_clear_error():
    with pytest.raises(ValueError, match="Received: tokenizer=None"):
        _classifier().preprocess(["text"])


@pytest.mark.tf_only
def test_tokenizer_larger_than_the_vocabulary_is_a_clear_error():
    from transformer_keras.text import ByteTokenizer

    model = _classifier(tokenizer=ByteTokenizer())  # vocabulary_size=20 < 260 ids
    with pytest.raises(ValueError, match="Received: tokenizer.vocabulary_size=260"):
        model.preprocess(["text"])


@pytest.mark.tf_only
def test_tokenizer_and_labels_survive_keras_file(tmp_path):
    from transformer_keras.text import ByteTokenizer

    model = _classifier(
        vocabulary_size=None,
        tokenizer=ByteTokenizer(),
        label_names=["a", "b", "c"],
        pooling="cls",
    )
    assert model.vocabulary_size == ByteTokenizer().vocabulary_size
    texts = ["good", "", "a text longer than twelve bytes"]
    labels, ids, probabilities = model.classify(texts)
    token_ids = to_numpy(model.preprocess(texts))
    assert token_ids.shape == (3, TINY["max_sequence_length"])
    assert (token_ids[:, 0] == model.tokenizer.start_id).all()  # cls pooling
    model.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    assert type(loaded.tokenizer) is ByteTokenizer
    loaded_labels, loaded_ids, loaded_probabilities = loaded.classify(texts)
    assert loaded_labels == labels and list(loaded_ids) == list(ids)
    np.testing.assert_allclose(loaded_probabilities, probabilities, atol=1e-6)


@pytest.mark.tf_only
def test_preprocess_replaces_invalid_utf8():
    from transformer_keras.text import ByteTokenizer

    model = _classifier(vocabulary_size=None, tokenizer=ByteTokenizer())
    clean = to_numpy(model.preprocess(["ab\ufffdc"]))
    dirty = to_numpy(model.preprocess([b"ab\xffc"]))
    np.testing.assert_array_equal(dirty, clean)


def test_compile_defaults_and_reload_keeps_optimizer_state(tmp_path):
    model = _classifier()
    model.compile(total_steps=10, run_eagerly=True)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    rates = [float(schedule(step)) for step in (0, 1, 9)]
    assert rates[0] < rates[1] and rates[2] < rates[1]  # warmup, then decay
    model.fit(TOKEN_IDS, LABELS, epochs=2, verbose=0)
    model.save(tmp_path / "compiled.keras")
    loaded = keras.saving.load_model(tmp_path / "compiled.keras")
    assert isinstance(loaded.optimizer, keras.optimizers.AdamW)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    assert list(loaded.metrics_names) == list(model.metrics_names)


def test_a_run_of_one_step_warms_up_and_decays():
    model = _classifier()
    model.compile(total_steps=1)
    schedule = model.optimizer._learning_rate
    assert float(schedule(0)) < float(schedule(1)) and float(schedule(2)) < float(schedule(1))


def test_compile_options_reach_the_default_optimizer():
    model = _classifier()
    model.compile(weight_decay=0.1, ema_momentum=0.9)
    assert model.optimizer.weight_decay == 0.1
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9
    model.compile()
    assert not model.optimizer.use_ema and model.optimizer.weight_decay == 0.01


def test_fit_trains_with_the_default_loss_and_metric_and_evaluate_reports_them():
    """Class 1 iff token 5 occurs. How well the model learns the rule depends on the
    seed and the machine (`python -m benchmarks.tiny_tasks` measures it); here: `fit`
    moves the weights with the default loss and accuracy, and `evaluate` reports the
    cross-entropy and the accuracy of the model's own predictions."""
    rng = np.random.default_rng(0)
    token_ids = rng.integers(6, 20, size=(128, 8)).astype("int32")
    labels = rng.integers(0, 2, size=128)
    positions = rng.integers(0, 8, size=128)
    token_ids[labels == 1, positions[labels == 1]] = 5
    model = _classifier(num_classes=2)
    model.build((None, 8))
    initial = [to_numpy(weight).copy() for weight in model.trainable_weights]
    # Default loss and metrics; eager, as tracing costs more than 4 tiny steps.
    model.compile(optimizer=keras.optimizers.Adam(2e-2), run_eagerly=True)
    history = model.fit(token_ids, labels, batch_size=64, epochs=2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert np.isfinite(history.history["loss"]).all()
    assert all(0 <= accuracy <= 1 for accuracy in history.history["accuracy"])
    assert any(
        not np.array_equal(before, to_numpy(after))
        for before, after in zip(initial, model.trainable_weights)
    )
    loss, accuracy = model.evaluate(token_ids, labels, verbose=0)
    logits = to_numpy(model.predict(token_ids, verbose=0)).astype("float64")  # (B, 2)
    logits -= logits.max(-1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -log_probabilities[np.arange(len(labels)), labels].mean()
    np.testing.assert_allclose(loss, cross_entropy, rtol=1e-5)
    assert accuracy == pytest.approx(np.mean(logits.argmax(-1) == labels))


@pytest.mark.tf_only
def test_a_tokenizer_does_not_turn_xla_off():
    from transformer_keras.text import WordTokenizer

    model = _classifier(vocabulary_size=None, tokenizer=WordTokenizer(["good", "bad"]))
    model.compile()
    assert not model.jit_compile  # off by default (slower on CPU, see `compile`)
    model.compile(jit_compile=True)
    assert model.jit_compile  # the tokenizer's string ops stay outside the model


@pytest.mark.tf_only
def test_docstring_examples_run():
    import doctest

    import transformer_keras.models.classifier as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0


# ------------------------------------------------------------------ pre-training
def _pretrained_encoder(**overrides):
    from transformer_keras.models.masked_language_model import MaskedLanguageModel

    encoder = MaskedLanguageModel.from_arguments(**{**TINY, **overrides})
    encoder({"token_ids": TOKEN_IDS, "mask_positions": np.zeros((3, 2), "int32")})
    # Weights unlike a fresh initialization (a fresh LayerNorm is all ones and zeros).
    for weight in encoder.backbone.weights:
        weight.assign(np.random.default_rng(1).normal(size=weight.shape).astype("float32"))
    return encoder


def test_from_pretrained_starts_from_the_pretrained_backbone_weights():
    encoder = _pretrained_encoder()
    model = TransformerClassifier.from_pretrained(
        encoder, num_classes=3, pooling="cls", classifier_dropout=0.3
    )
    assert model.vocabulary_size == 20 and model.pooling == "cls"
    assert len(model.backbone.weights) == len(encoder.backbone.weights) > 0
    for copied, original in zip(model.backbone.weights, encoder.backbone.weights):
        np.testing.assert_array_equal(to_numpy(copied), to_numpy(original))
    np.testing.assert_allclose(
        to_numpy(model.backbone(TOKEN_IDS)), to_numpy(encoder.backbone(TOKEN_IDS)), atol=1e-6
    )
    # A copy, not shared variables: fine-tuning leaves the pretrained model alone.
    model.backbone.weights[0].assign(np.zeros(model.backbone.weights[0].shape))
    assert to_numpy(encoder.backbone.weights[0]).any()


def test_load_pretrained_keeps_the_head_and_round_trips(tmp_path):
    model = _classifier()
    model.build((None, None))
    head = to_numpy(model.head.kernel)
    model.load_pretrained(_pretrained_encoder().backbone)
    np.testing.assert_array_equal(to_numpy(model.head.kernel), head)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        to_numpy(reloaded(TOKEN_IDS)), to_numpy(model(TOKEN_IDS)), atol=1e-6
    )


@pytest.mark.parametrize(
    "overrides", [{"hidden_dim": 16, "intermediate_dim": 32}, {"max_sequence_length": 24}]
)
def test_load_pretrained_rejects_other_shapes(overrides):
    model = _classifier(**overrides)
    with pytest.raises(ValueError, match="do not fit.*Received: pretrained="):
        model.load_pretrained(_pretrained_encoder())


def test_load_pretrained_needs_a_built_encoder():
    from transformer_keras.models.backbone import Backbone

    unbuilt = Backbone(20, 1, 8, 2, 16, 12)
    with pytest.raises(ValueError, match="Received: pretrained="):
        _classifier().load_pretrained(unbuilt)


def _members(count=3, **overrides):
    from transformer_keras.text import ByteTokenizer

    return [
        _classifier(vocabulary_size=260, tokenizer=ByteTokenizer(), **overrides)
        for _ in range(count)
    ]


def test_ensemble_averages_the_members_probabilities():
    members = _members()
    ensemble = ClassifierEnsemble(members)
    logits = to_numpy(ensemble(TOKEN_IDS))
    probabilities = [to_numpy(keras.ops.softmax(member(TOKEN_IDS))) for member in members]
    np.testing.assert_allclose(np.exp(logits), np.mean(probabilities, axis=0), atol=1e-6)
    assert not np.allclose(probabilities[0], probabilities[1], atol=1e-4)  # other weights
    assert ensemble.label_names == ["0", "1", "2"] and ensemble.max_sequence_length == 12
    np.testing.assert_array_equal(
        to_numpy(ensemble.preprocess(["ab"])), to_numpy(members[0].preprocess(["ab"]))
    )
    labels, label_ids, _ = ensemble.classify(["ab", "cd"])
    assert labels == [ensemble.label_names[i] for i in label_ids]


def test_ensemble_round_trips_and_evaluates(tmp_path):
    ensemble = ClassifierEnsemble(_members(2, conv_kernel_size=3))
    ensemble.compile()
    logits = to_numpy(ensemble(TOKEN_IDS))
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, ClassifierEnsemble) and len(reloaded.members) == 2
    np.testing.assert_allclose(to_numpy(reloaded(TOKEN_IDS)), logits, atol=1e-6)
    _, accuracy = reloaded.evaluate(TOKEN_IDS, LABELS, verbose=0)
    assert accuracy == pytest.approx(np.mean(np.argmax(logits, axis=-1) == LABELS))


@pytest.mark.parametrize(
    "members, message",
    [
        (lambda: _members(1), "at least 2"),
        (lambda: [*_members(1), "not a classifier"], "at least 2"),
        (lambda: [*_members(1), *_members(1, max_sequence_length=8)], "must share"),
        (lambda: [*_members(1), *_members(1, pooling="cls")], "must share"),
        (lambda: [*_members(1), _classifier(num_classes=2, vocabulary_size=260)], "must share"),
    ],
)
def test_ensemble_rejects_members_that_read_texts_differently(members, message):
    with pytest.raises(ValueError, match=message):
        ClassifierEnsemble(members())
