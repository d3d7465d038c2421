"""Classifier SavedModel: fresh-process equality, bad input, TFSMLayer, saved_model_cli."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.data.generated_sentiment import LABEL_NAMES, generate_sentiment_examples
from transformer_keras.export.classifier import export_classifier
from transformer_keras.export.fresh_process import verify_in_fresh_process
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.text import SubwordTokenizer, WordTokenizer

pytestmark = pytest.mark.tf_only

MAX_LENGTH = 16
TEXTS = [
    "the acting was truly wonderful",
    "the plot was not gripping",
    "",
    "   \t ",
    " ".join(["the story was boring"] * 40),  # far longer than MAX_LENGTH tokens
    "unseen words only: zyxw qqq",
]


def _model(kind):
    keras.utils.set_random_seed(0)  # A module fixture: built after other tests ran.
    texts, _ = generate_sentiment_examples(300, seed=0)
    if kind == "word":
        tokenizer = WordTokenizer.train(texts, 200)
    else:
        tokenizer = SubwordTokenizer.train(texts, 120)
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=MAX_LENGTH,
        pooling="cls" if kind == "subword" else "mean",
        tokenizer=tokenizer,
        label_names=list(LABEL_NAMES),
    )
    model.build((None, None))
    return model


@pytest.fixture(scope="module", params=["word", "subword"])
def exported(request, tmp_path_factory):
    model = _model(request.param)
    path = export_classifier(model, tmp_path_factory.mktemp(request.param) / "classifier")
    return model, path


@pytest.mark.slow  # a fresh Python process imports TensorFlow
def test_fresh_process_gives_the_keras_probabilities(exported):
    model, path = exported
    labels, label_ids, probabilities = model.classify(TEXTS)
    assert np.ptp(probabilities[:, 0]) > 1e-4  # the texts get different predictions
    outputs = verify_in_fresh_process(path, "serving_default", {"text": TEXTS})
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    assert outputs["label"] == labels
    assert outputs["label_id"] == label_ids.tolist()


def test_label_names_signature(exported):
    _, path = exported
    names = tf.saved_model.load(str(path)).signatures["label_names"]()["label_names"]
    assert names.numpy().tolist() == [name.encode() for name in LABEL_NAMES]


def test_bad_input_gives_well_formed_outputs(exported):
    model, path = exported
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    texts = tf.constant(TEXTS + [b"invalid \xff\xfe utf-8", b"\x00\x01"])
    outputs = serve(text=texts)
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (len(TEXTS) + 2, 2)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert set(outputs["label"].numpy().tolist()) <= {b"negative", b"positive"}
    # Invalid bytes are read as U+FFFD.
    replaced = serve(text=tf.constant(["invalid \ufffd\ufffd utf-8"]))["probabilities"]
    np.testing.assert_allclose(probabilities[-2], replaced.numpy()[0], atol=1e-6)
    # A long text is truncated to its first MAX_LENGTH tokens.
    prefix = " ".join(["the story was boring"] * 4)  # exactly 16 words
    if isinstance(model.tokenizer, WordTokenizer):
        truncated = serve(text=tf.constant([prefix]))["probabilities"].numpy()[0]
        np.testing.assert_allclose(probabilities[4], truncated, atol=1e-6)


def test_empty_batch_gives_empty_outputs(exported):
    _, path = exported
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](
        text=tf.constant([], tf.string)
    )
    assert outputs["label"].shape == (0,) and outputs["label"].dtype == tf.string
    assert outputs["label_id"].shape == (0,) and outputs["label_id"].dtype == tf.int64
    assert outputs["probabilities"].shape == (0, 2)
    assert outputs["probabilities"].dtype == tf.float32


def test_tfsm_layer_and_keras_file_beside(exported):
    model, path = exported
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    outputs = layer(tf.constant(TEXTS[:2]))
    np.testing.assert_allclose(
        outputs["probabilities"], model.classify(TEXTS[:2])[2], atol=1e-5
    )
    reloaded = keras.saving.load_model(f"{path}.keras")
    assert reloaded.label_names == list(LABEL_NAMES)
    assert type(reloaded.tokenizer) is type(model.tokenizer)
    np.testing.assert_allclose(reloaded.classify(TEXTS)[2], model.classify(TEXTS)[2], atol=1e-6)


@pytest.mark.slow
def test_saved_model_cli_shows_the_signature(exported):
    _, path = exported
    if not isinstance(exported[0].tokenizer, WordTokenizer):
        pytest.skip("one tokenizer is enough for saved_model_cli")
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    shown = subprocess.run(
        [*cli, "show", "--all", "--dir", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "inputs['text']" in shown and "DT_STRING" in shown
    assert "outputs['probabilities']" in shown and "shape: (-1, 2)" in shown
    assert "outputs['label_id']" in shown and "DT_INT64" in shown


def test_export_without_tokenizer_writes_nothing(tmp_path):
    model = TransformerClassifier.from_arguments(
        num_classes=2, vocabulary_size=10, num_layers=1, hidden_dim=8, num_heads=2,
        intermediate_dim=16, max_sequence_length=8,
    )  # fmt: skip
    model.build((None, None))
    with pytest.raises(ValueError, match="Received: tokenizer=None"):
        export_classifier(model, tmp_path / "classifier")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tf_only
def test_docstring_examples_run():
    import doctest

    import transformer_keras.export.classifier as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
