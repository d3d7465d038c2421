"""Untrusted input at the serving boundary: 1,000+ generated texts per exported signature.

The three families are exported here (tiny models; the classifier quantized
to int8 with Keras' `quantize`, so that an int8 export meets the fuzz too; the
int8 language model's export is tested in `test_language_model.py`); a
separate process that
imports only TensorFlow serves them random bytes, huge strings, empty
batches, unusual Unicode and control characters (`child_processes/serve_fuzz.py`).
Every call must return well-formed, finite output or reject a bad setting
with an error naming it; no crash, hang or NaN. The `.keras` files beside the
exports load with Keras' safe mode on.

The language model is exported without XLA: its signatures are the same graph,
validation included, but an XLA export compiles once per new input shape,
and most fuzzed batches have a new one. That the XLA export generates what
the plain one does is tested in `test_language_model.py`.
"""

import json

import keras
import pytest

from tests.child_processes import run_script
from transformer_keras.export import keras_file_path, load_keras_model
from transformer_keras.export.classifier import export_classifier
from transformer_keras.export.language_model import export_language_model
from transformer_keras.export.translator import export_translator
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.models.language_model import TransformerLM
from transformer_keras.models.seq2seq import Transformer
from transformer_keras.text import ByteTokenizer, CharTokenizer, WordTokenizer

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]

INPUTS = 1000
SIGNATURES = (
    "classifier/serving_default",
    "language_model/generate",
    "language_model/score",
    "translator/translate",
)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("fuzz")
    tiny = dict(num_layers=1, hidden_dim=16, num_heads=2, intermediate_dim=32)
    classifier = TransformerClassifier.from_arguments(
        num_classes=2,
        tokenizer=WordTokenizer.train(["a good film", "not a bad plot"], 50),
        label_names=["negative", "positive"],
        max_sequence_length=16,
        **tiny,
    )
    language_model = TransformerLM.from_arguments(
        tokenizer=ByteTokenizer(), max_sequence_length=32, **tiny
    )
    translator = Transformer.from_preset(
        "tiny",
        source_tokenizer=CharTokenizer.train(["abc cab bca", "hello world"]),
        max_sequence_length=12,
    )
    classifier.build((None, None))
    classifier.quantize("int8")
    return {
        "classifier": export_classifier(classifier, folder / "classifier"),
        "language_model": export_language_model(
            language_model, folder / "language_model", jit_compile=False
        ),
        "translator": export_translator(translator, folder / "translator"),
    }


@pytest.fixture(scope="module")
def report(exports):
    request = {name: str(path) for name, path in exports.items()}
    return run_script("serve_fuzz", json.dumps({**request, "inputs": INPUTS, "seed": 0}))


@pytest.mark.parametrize("signature", SIGNATURES)
def test_every_generated_input_gets_a_well_formed_answer(report, signature):
    stats = report[signature]
    assert stats["texts"] >= INPUTS
    assert stats["problems"] == []
    # No call hangs: `run_script` fails the fixture when the child runs past its
    # timeout. (A bound on one call's seconds would fail on a loaded machine.)
    assert 0 <= stats["max_seconds"] <= stats["seconds"]


@pytest.mark.parametrize("signature", ["language_model/generate", "translator/translate"])
def test_invalid_settings_are_rejected_by_name(report, signature):
    """About one call in ten has an invalid setting; each is rejected, naming it."""
    stats = report[signature]
    assert stats["rejected"] >= stats["calls"] // 20


def test_the_server_process_needs_only_tensorflow(report):
    assert report["imported_transformer_keras"] == []


@pytest.mark.parametrize("family", ["classifier", "language_model", "translator"])
def test_the_keras_files_load_in_safe_mode(exports, family):
    model = load_keras_model(keras_file_path(exports[family]))  # safe_mode=True inside.
    assert model.built
    if family == "classifier":  # reloaded quantized
        assert "int8" in {variable.dtype for variable in model.weights}
