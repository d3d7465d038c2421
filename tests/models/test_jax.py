"""The models on JAX without TensorFlow, and served from TensorFlow afterwards.

A child process on the JAX backend, where every TensorFlow import fails,
trains each of the four task models one epoch from NumPy token ids (made here
by a `ByteTokenizer`), predicts, generates and saves `.keras` files
(`tests/child_processes/jax_without_tensorflow.py`). This process, on
TensorFlow, reloads them: the same predictions; then the language model and
the classifier get their tokenizer back (`with_tokenizers`) and are exported
as string-in, string-out SavedModels, which answer what the JAX models
computed. This is the GPU workflow of `docs/training.md`.
"""

import keras
import numpy as np
import pytest

from tests.child_processes import child_environment, run_script
from tests.child_processes.jax_without_tensorflow import GREEDY_PROMPTS, training_data
from tests.harness import to_numpy
from transformer_keras.export import load_saved_model, verify_in_fresh_process
from transformer_keras.export.classifier import export_classifier
from transformer_keras.export.language_model import export_language_model
from transformer_keras.text import ByteTokenizer

pytestmark = [pytest.mark.slow, pytest.mark.tf_only]

TEXTS = [
    "To be, or not to be, that is the question.",
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "All that glitters is not gold.",
    "The early bird catches the worm.",
    "Brevity is the soul of wit.",
    "Actions speak louder than words.",
    "Time and tide wait for no man.",
] * 2
SEQUENCE_LENGTH = 64  # the tiny classifier's context: its exports read as many bytes


@pytest.fixture(scope="module")
def trained_on_jax(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jax")
    tokenizer = ByteTokenizer()
    ids = to_numpy(tokenizer.encode(TEXTS, sequence_length=SEQUENCE_LENGTH)).astype("int32")
    labels = np.arange(len(TEXTS)) % 2
    np.savez(
        folder / "data.npz",
        ids=ids,
        labels=labels,
        vocabulary_size=tokenizer.vocabulary_size,
    )
    report = run_script(
        "jax_without_tensorflow",
        folder / "data.npz",
        folder,
        env=child_environment(KERAS_BACKEND="jax"),
    )
    return folder, ids, report


def test_the_models_train_on_jax_without_tensorflow(trained_on_jax):
    _, _, report = trained_on_jax
    assert report["backend"] == "jax" and not report["tensorflow_imported"]
    assert sorted(report["losses"]) == [
        "classifier",
        "language_model",
        "masked_language_model",
        "translator",
    ]
    assert [len(row) for row in report["greedy"]] == [8, 8]
    # The tokenizers say what they need instead of failing deep inside.
    assert "install tensorflow and tensorflow-text" in report["tokenizer_error"]
    assert report["tokenizer_error"].endswith("Received: missing module 'tensorflow'")


@pytest.mark.parametrize(
    "name", ["classifier", "language_model", "masked_language_model", "translator"]
)
def test_tensorflow_reloads_what_jax_trained(trained_on_jax, name):
    folder, ids, _ = trained_on_jax
    model = keras.saving.load_model(folder / f"{name}.keras")
    expected = np.load(folder / "outputs.npz")[name]
    vocabulary_size = ByteTokenizer().vocabulary_size
    inputs, _ = training_data(ids, np.zeros(len(ids)), vocabulary_size)[name]
    outputs = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(outputs, expected, atol=1e-4)


def test_the_language_model_trained_on_jax_serves_text_from_tensorflow(
    trained_on_jax, tmp_path
):
    folder, _, report = trained_on_jax
    tokenizer = ByteTokenizer()
    model = keras.saving.load_model(folder / "language_model.keras")
    exported = export_language_model(
        model.with_tokenizers(tokenizer=tokenizer), tmp_path / "lm"
    )
    prompts = [to_numpy(tokenizer.detokenize([row]))[0].decode() for row in GREEDY_PROMPTS]
    assert prompts == ["To", "The"]
    greedy = dict(max_new_tokens=8, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    outputs = verify_in_fresh_process(exported, "generate", {"prompt": prompts, **greedy})
    expected = [to_numpy(tokenizer.detokenize([row]))[0].decode() for row in report["greedy"]]
    assert outputs["text"] == expected


def test_the_classifier_trained_on_jax_serves_labels_from_tensorflow(trained_on_jax, tmp_path):
    folder, ids, _ = trained_on_jax
    model = keras.saving.load_model(folder / "classifier.keras")
    with_text = model.with_tokenizers(tokenizer=ByteTokenizer())
    np.testing.assert_array_equal(to_numpy(with_text.preprocess(TEXTS[:4])), ids[:4])
    loaded = load_saved_model(export_classifier(with_text, tmp_path / "classifier"))
    served = loaded.signatures["serving_default"](text=keras.ops.convert_to_tensor(TEXTS[:4]))
    expected = np.load(folder / "outputs.npz")["classifier"][:4]
    probabilities = to_numpy(keras.ops.softmax(expected))
    np.testing.assert_allclose(to_numpy(served["probabilities"]), probabilities, atol=1e-4)
