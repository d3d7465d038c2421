import doctest
import json

import keras
import numpy as np
import pytest

from tests.optimization.test_losses import numpy_log_softmax
from transformer_keras.optimization.metrics import MaskedAccuracy, Perplexity


@pytest.fixture
def two_batches_of_different_lengths(rng):
    """Two `(targets (B, T), logits (B, T, V))` batches: T = 6 then T = 2, with padding."""
    first_targets = np.array([[3, 1, 2, 4, 0, 0], [2, 2, 0, 0, 0, 0]])
    second_targets = np.array([[1, 0], [4, 3], [2, 1]])
    return [
        (first_targets, rng.normal(size=(2, 6, 5)).astype("float32") * 2),
        (second_targets, rng.normal(size=(3, 2, 5)).astype("float32") * 2),
    ]


def real_tokens(batches, pad_id=0):
    """All real `(target, logits row)` pairs of the batches, as if in one batch."""
    targets = np.concatenate([t[t != pad_id] for t, _ in batches])
    logits = np.concatenate([p[t != pad_id] for t, p in batches])
    return targets, logits


def test_masked_accuracy_equals_numpy_over_all_real_tokens(two_batches_of_different_lengths):
    metric = MaskedAccuracy()
    for targets, logits in two_batches_of_different_lengths:
        metric.update_state(targets, logits)
    targets, logits = real_tokens(two_batches_of_different_lengths)
    expected = (logits.argmax(-1) == targets).mean()
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_masked_accuracy_ignores_padding_and_counts_class_zero_without_pad_id():
    metric = MaskedAccuracy(pad_id=0)
    # Position 2 is padding and its (wrong) prediction must not count.
    metric.update_state(np.array([[2, 1, 0]]), np.eye(3)[[[2, 1, 1]]])
    assert float(metric.result()) == 1.0
    classes = MaskedAccuracy(pad_id=None)
    classes.update_state(np.array([0, 1, 0, 2]), np.eye(3)[[0, 1, 1, 2]])
    assert float(classes.result()) == 0.75


def test_perplexity_equals_exp_of_mean_cross_entropy(two_batches_of_different_lengths):
    metric = Perplexity()
    for targets, logits in two_batches_of_different_lengths:
        metric.update_state(targets, logits)
    targets, logits = real_tokens(two_batches_of_different_lengths)
    cross_entropy = -numpy_log_softmax(logits)[np.arange(len(targets)), targets]
    np.testing.assert_allclose(float(metric.result()), np.exp(cross_entropy.mean()), rtol=1e-5)


def test_perplexity_of_uniform_predictions_is_the_vocabulary_size():
    metric = Perplexity(from_logits=False)
    metric.update_state(np.array([[1, 2, 0, 0]]), np.full((1, 4, 7), 1 / 7, "float32"))
    np.testing.assert_allclose(float(metric.result()), 7.0, rtol=1e-5)


def test_metrics_accept_per_example_weights(two_batches_of_different_lengths):
    targets, logits = two_batches_of_different_lengths[0]
    metric = MaskedAccuracy()
    metric.update_state(targets, logits, sample_weight=np.array([1.0, 0.0]))
    first_row = targets[0] != 0
    expected = (logits[0][first_row].argmax(-1) == targets[0][first_row]).mean()
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "metric", [MaskedAccuracy(pad_id=1, name="acc"), Perplexity(from_logits=False, pad_id=None)]
)
def test_metric_config_round_trip(metric):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(metric)))
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()


def test_metrics_reject_a_bad_pad_id():
    with pytest.raises(ValueError, match="Received: pad_id=1.5"):
        Perplexity(pad_id=1.5)


def test_docstring_examples_run():
    from transformer_keras.optimization import metrics

    assert doctest.testmod(metrics).failed == 0
