"""MaskedLanguageModel: harness, tied head, loss on masked positions only, config, errors."""

import keras
import numpy as np
import pytest

from tests.harness import run_model_test, to_numpy
from transformer_keras.models.masked_language_model import MaskedLanguageModel
from transformer_keras.text import WordTokenizer

TINY = dict(
    vocabulary_size=20,
    num_layers=1,
    hidden_dim=8,
    num_heads=2,
    intermediate_dim=16,
    max_sequence_length=12,
    dropout=0.0,
)
TOKEN_IDS = np.array([[4, 19, 6, 7, 0, 0], [8, 9, 19, 0, 0, 0], [3, 4, 5, 6, 19, 8]], "int32")
MASK_POSITIONS = np.array([[1, 0], [2, 0], [4, 1]], "int32")
LABELS = np.array([[5, 0], [10, 0], [7, 11]], "int32")  # 0: an unused slot
INPUTS = {
    "token_ids": TOKEN_IDS,
    "padding_mask": TOKEN_IDS != 0,
    "mask_positions": MASK_POSITIONS,
}


def _model(**overrides):
    return MaskedLanguageModel.from_arguments(**{**TINY, **overrides})


def _compiled(**overrides):
    model = _model(**overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    return model


@pytest.mark.jax
def test_harness(tmp_path):
    run_model_test(
        _compiled,
        INPUTS,
        targets=LABELS,
        expected_output_shape=(3, 2, 20),
        tmp_path=tmp_path,
        mixed_output_dtype="float32",  # logits stay float32 for the loss
    )


def test_defaults_mask_id_last_and_selections_cover_the_length():
    model = _model()
    assert model.mask_token_id == 19 and model.max_selections == 2  # ceil(12 * 0.15)
    tokenizer = WordTokenizer(["good", "bad"])  # 6 ids
    model = MaskedLanguageModel.from_arguments(
        **{**TINY, "vocabulary_size": None}, tokenizer=tokenizer
    )
    assert model.vocabulary_size == 7 and model.mask_token_id == 6


def test_logits_are_the_tied_head_at_the_masked_positions():
    model = _model()
    logits = to_numpy(model(INPUTS))
    hidden = to_numpy(model.backbone(TOKEN_IDS, padding_mask=TOKEN_IDS != 0))  # (B, T, D)
    gathered = np.take_along_axis(hidden, MASK_POSITIONS[:, :, None], axis=1)  # (B, P, D)
    transformed = to_numpy(model.head_norm(model.head_dense(gathered)))
    table = to_numpy(model.backbone.embedding.token_embedding.embeddings)  # (V, D), tied
    expected = transformed @ table.T + to_numpy(model.output_bias)
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_loss_counts_the_masked_positions_only():
    model = _compiled()
    logits = to_numpy(model(INPUTS))
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    used = LABELS != 0
    expected = -np.take_along_axis(log_probabilities, LABELS[:, :, None], -1)[..., 0][used]
    loss = float(model.loss(LABELS, logits))
    np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)
    # Whatever the logits of the unused slots, the loss is the same.
    changed = logits.copy()
    changed[~used] = np.random.default_rng(0).normal(size=(int((~used).sum()), 20)) * 10
    np.testing.assert_allclose(float(model.loss(LABELS, changed)), loss, rtol=1e-5)


def test_padding_does_not_change_logits():
    model = _model()
    padded = {**INPUTS, "token_ids": np.pad(TOKEN_IDS, [(0, 0), (0, 4)])}
    padded["padding_mask"] = padded["token_ids"] != 0
    np.testing.assert_allclose(to_numpy(model(padded)), to_numpy(model(INPUTS)), atol=1e-5)


def test_preprocess_masks_tokenized_texts():
    tokenizer = WordTokenizer(["good", "bad", "film", "plot"])
    model = MaskedLanguageModel.from_arguments(
        **{**TINY, "vocabulary_size": None}, tokenizer=tokenizer, mask_token_rate=1.0,
        random_token_rate=0.0,
    )  # fmt: skip
    features, labels = model.preprocess(["good film bad plot good film bad plot", ""])
    token_ids, labels = features["token_ids"].numpy(), labels.numpy()
    assert token_ids.shape == (2, 12) and labels.shape == (2, 2)
    assert (token_ids[0] == model.mask_token_id).sum() == 2 == (labels[0] != 0).sum()
    assert not labels[1].any() and not token_ids[1].any()  # empty text: nothing masked
    assert tuple(model(features).shape) == (2, 2, tokenizer.vocabulary_size + 1)


def test_config_round_trip_with_tokenizer(tmp_path):
    tokenizer = WordTokenizer(["good", "bad"])
    model = MaskedLanguageModel.from_arguments(
        **{**TINY, "vocabulary_size": None}, tokenizer=tokenizer, mask_rate=0.2
    )
    restored = MaskedLanguageModel.from_config(model.get_config())
    assert restored.get_config() == model.get_config()
    assert restored.tokenizer.vocabulary == ["good", "bad"]
    model(INPUTS | {"token_ids": np.minimum(TOKEN_IDS, 6)})
    model.save(tmp_path / "mlm.keras")
    reloaded = keras.saving.load_model(tmp_path / "mlm.keras")
    assert reloaded.tokenizer.vocabulary == ["good", "bad"] and reloaded.mask_rate == 0.2


def test_presets_match_the_classifier_backbones():
    from transformer_keras.models.classifier import TransformerClassifier

    assert MaskedLanguageModel.preset_names() == TransformerClassifier.preset_names()
    model = MaskedLanguageModel.from_preset("small", vocabulary_size=100)
    assert (model.backbone.num_layers, model.hidden_dim, model.max_sequence_length) == (
        2,
        128,
        128,
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"mask_token_id": 20}, "Received: mask_token_id=20"),
        ({"mask_token_id": 0}, "Received: mask_token_id=0"),
        ({"mask_rate": 0.0}, "Received: mask_rate=0.0"),
        ({"mask_token_rate": 0.95, "random_token_rate": 0.1}, "random_token_rate=0.1"),
        ({"max_selections": 0}, "Received: max_selections=0"),
        ({"vocabulary_size": None}, "Received: vocabulary_size=None"),
    ],
)
def test_bad_arguments_name_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        _model(**overrides)


def test_mask_id_must_not_be_a_tokenizer_id():
    tokenizer = WordTokenizer(["good", "bad"])  # ids 0-5
    with pytest.raises(ValueError, match="Received: mask_token_id=5"):
        MaskedLanguageModel.from_arguments(**TINY, tokenizer=tokenizer, mask_token_id=5)


def test_docstring_examples_run():
    import doctest

    import transformer_keras.models.masked_language_model as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
