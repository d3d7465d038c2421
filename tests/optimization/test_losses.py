import doctest
import json

import keras
import numpy as np
import pytest

from transformer_keras.optimization.losses import MaskedSparseCategoricalCrossentropy


def numpy_log_softmax(logits):
    logits = logits.astype("float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def numpy_loss(targets, logits, pad_id=0, label_smoothing=0.0, weights=None):
    """Per-token smoothed cross-entropy, averaged over the targets that are not padding."""
    vocabulary_size = logits.shape[-1]
    one_hot = np.eye(vocabulary_size)[np.where(targets == pad_id, 0, targets)]
    target_distribution = (1 - label_smoothing) * one_hot + label_smoothing / vocabulary_size
    per_token = -(target_distribution * numpy_log_softmax(logits)).sum(axis=-1)
    real = (
        (targets != pad_id).astype("float64") if pad_id is not None else np.ones_like(per_token)
    )
    if weights is not None:
        real = real * weights
    return (per_token * real).sum() / real.sum()


@pytest.fixture
def padded_batch(rng):
    targets = np.array([[5, 3, 7, 0, 0], [2, 0, 0, 0, 0], [1, 4, 6, 8, 9]])  # (B, T)
    logits = rng.normal(size=(3, 5, 11)).astype("float32") * 3  # (B, T, V)
    return targets, logits


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
def test_loss_matches_numpy_mean_over_real_tokens(padded_batch, label_smoothing):
    targets, logits = padded_batch
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=label_smoothing)
    expected = numpy_loss(targets, logits, label_smoothing=label_smoothing)
    np.testing.assert_allclose(float(loss(targets, logits)), expected, rtol=1e-5)
    # Not the mean over all 15 positions: padding does not dilute the loss.
    diluted = expected * (targets != 0).sum() / targets.size
    assert abs(float(loss(targets, logits)) - diluted) > 0.1


def test_loss_ignores_the_predictions_at_padding(padded_batch, rng):
    targets, logits = padded_batch
    changed = logits.copy()
    changed[targets == 0] = rng.normal(size=((targets == 0).sum(), 11)) * 100
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    np.testing.assert_allclose(
        float(loss(targets, changed)), float(loss(targets, logits)), rtol=1e-6
    )


def test_loss_accepts_any_pad_id_including_negative(padded_batch):
    targets, logits = padded_batch
    shifted = np.where(targets == 0, -1, targets)
    loss = MaskedSparseCategoricalCrossentropy(pad_id=-1, label_smoothing=0.1)
    expected = numpy_loss(targets, logits, pad_id=0, label_smoothing=0.1)
    np.testing.assert_allclose(float(loss(shifted, logits)), expected, rtol=1e-5)


def test_loss_with_probabilities_instead_of_logits(padded_batch):
    targets, logits = padded_batch
    probabilities = np.exp(numpy_log_softmax(logits)).astype("float32")
    loss = MaskedSparseCategoricalCrossentropy(from_logits=False, label_smoothing=0.1)
    expected = numpy_loss(targets, logits, label_smoothing=0.1)
    np.testing.assert_allclose(float(loss(targets, probabilities)), expected, rtol=1e-4)


def test_loss_weights_examples_within_real_tokens(padded_batch):
    targets, logits = padded_batch
    example_weights = np.array([1.0, 3.0, 0.5])
    loss = MaskedSparseCategoricalCrossentropy()
    expected = numpy_loss(targets, logits, weights=example_weights[:, None])
    np.testing.assert_allclose(
        float(loss(targets, logits, sample_weight=example_weights)), expected, rtol=1e-5
    )


@pytest.mark.parametrize("targets_shape", [(4,), (4, 1)])
def test_loss_for_class_targets_without_padding(rng, targets_shape):
    labels = np.array([0, 2, 1, 0])  # class 0 is a real class here
    logits = rng.normal(size=(4, 3)).astype("float32")  # (B, C)
    loss = MaskedSparseCategoricalCrossentropy(pad_id=None, label_smoothing=0.1)
    expected = numpy_loss(labels, logits, pad_id=None, label_smoothing=0.1)
    np.testing.assert_allclose(
        float(loss(labels.reshape(targets_shape), logits)), expected, rtol=1e-5
    )


def test_loss_of_an_all_padding_batch_is_zero_not_nan(rng):
    loss = MaskedSparseCategoricalCrossentropy()
    value = float(loss(np.zeros((2, 3), "int32"), rng.normal(size=(2, 3, 5)).astype("float32")))
    assert value == 0.0


def test_loss_without_reduction_gives_zero_at_padding(padded_batch):
    targets, logits = padded_batch
    per_token = np.asarray(
        MaskedSparseCategoricalCrossentropy(reduction="none")(targets, logits)
    )
    assert per_token.shape == (3, 5)
    assert (per_token[targets == 0] == 0).all() and (per_token[targets != 0] > 0).all()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_loss_runs_in_float32_under_mixed_precision(padded_batch, policy):
    targets, logits = padded_batch
    keras.config.set_dtype_policy(policy)
    half_logits = keras.ops.cast(logits * 1000, keras.config.dtype_policy().compute_dtype)
    value = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)(targets, half_logits)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    expected = numpy_loss(
        targets, np.asarray(keras.ops.cast(half_logits, "float32")), label_smoothing=0.1
    )
    assert np.isfinite(float(value))
    np.testing.assert_allclose(float(value), expected, rtol=1e-4)


def test_loss_config_round_trip():
    loss = MaskedSparseCategoricalCrossentropy(from_logits=False, label_smoothing=0.1, pad_id=3)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(loss)))
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, MaskedSparseCategoricalCrossentropy)
    assert restored.get_config() == loss.get_config()
    assert (restored.from_logits, restored.label_smoothing, restored.pad_id) == (False, 0.1, 3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"label_smoothing": 1.0}, "Received: label_smoothing=1.0"),
        ({"pad_id": "0"}, "Received: pad_id='0'"),
    ],
)
def test_loss_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        MaskedSparseCategoricalCrossentropy(**arguments)


def test_docstring_examples_run():
    from transformer_keras.optimization import losses

    assert doctest.testmod(losses).failed == 0
