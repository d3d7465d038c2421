"""Tests of `Task`, the base of the three models: `with_dtype` copies."""

import doctest
import importlib

import keras
import numpy as np
import pytest

from tests.harness import to_numpy
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.models.language_model import TransformerLM

TOKEN_IDS = np.array([[5, 6, 7, 8], [9, 10, 11, 0]])


def tiny_lm():
    model = TransformerLM.from_preset("tiny", vocabulary_size=40, max_sequence_length=16)
    model.build()
    return model


def test_a_bfloat16_copy_holds_the_weights_rounded_and_keeps_float32_logits():
    model = tiny_lm()
    fast = model.with_dtype("bfloat16")
    assert type(fast) is TransformerLM and fast is not model
    assert {v.dtype for v in fast.weights} == {"bfloat16"}
    for original, copied in zip(model.get_weights(), fast.get_weights(), strict=True):
        rounded = to_numpy(keras.ops.cast(keras.ops.cast(original, "bfloat16"), "float32"))
        np.testing.assert_array_equal(np.asarray(copied, np.float32), rounded)
    logits, reference = fast(TOKEN_IDS), model(TOKEN_IDS)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    # bfloat16 keeps 8 bits of mantissa: logits agree to about 1e-2 of their scale.
    scale = np.abs(to_numpy(reference)).max()
    np.testing.assert_allclose(to_numpy(logits), to_numpy(reference), atol=0.05 * scale)


def test_the_copy_is_independent_of_the_original():
    model = tiny_lm()
    fast = model.with_dtype("float32")
    before = to_numpy(model(TOKEN_IDS))
    np.testing.assert_array_equal(to_numpy(fast(TOKEN_IDS)), before)
    fast.weights[0].assign(keras.ops.zeros_like(fast.weights[0]))
    np.testing.assert_array_equal(to_numpy(model(TOKEN_IDS)), before)


@pytest.mark.tf_only
def test_a_bfloat16_language_model_generates_with_its_cache_under_xla():
    fast = tiny_lm().with_dtype("bfloat16")
    cached = fast.generate([[5, 6, 7], [8]], max_new_tokens=6, temperature=0.0)
    assert [len(row) for row in cached] == [6, 6]
    assert cached == fast.generate([[5, 6, 7], [8]], 6, temperature=0.0, use_cache=False)


def test_a_classifier_copy_is_built_from_its_build_config():
    model = TransformerClassifier.from_preset("tiny", vocabulary_size=40, num_classes=3)
    model(TOKEN_IDS)
    fast = model.with_dtype("bfloat16")
    probabilities = to_numpy(keras.ops.softmax(fast(TOKEN_IDS)))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_an_unbuilt_model_is_rejected():
    model = TransformerLM.from_preset("tiny", vocabulary_size=40)
    with pytest.raises(ValueError, match=r"Received: model.built=False"):
        model.with_dtype("bfloat16")


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="checked once, on TensorFlow"
)
def test_docstring_examples_run():
    module = importlib.import_module("transformer_keras.models.task")
    assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
