"""Reading the exports from outside the model: the SavedModel client, and the REST
requests of docs/serving.md.

`load_client` finds the family of an export from its signatures and wraps them
with Python values in and out. TensorFlow Serving's columnar REST form maps
`"inputs"` onto the signature's named inputs and answers `{"outputs": ...}`: a
dictionary for several outputs, the bare value for one. Each documented request
is fed to the signature it names, in that form, and the answer must have the
documented response's structure (keys, batch sizes, widths). The model server
itself is not run here.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.export.classifier import export_classifier
from transformer_keras.export.client import load_client
from transformer_keras.export.language_model import export_language_model
from transformer_keras.export.saved_model import load_saved_model
from transformer_keras.export.translator import export_translator
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.models.language_model import TransformerLM
from transformer_keras.models.seq2seq import Transformer
from transformer_keras.text import ByteTokenizer

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]

SERVING_DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def _documented_exchanges():
    """`(request, response)` pairs of the JSON blocks of docs/serving.md, in order."""
    blocks = re.findall(r"```json\n(.*?)\n```", SERVING_DOC.read_text(), re.DOTALL)
    bodies = [json.loads(block) for block in blocks]
    return list(zip(bodies[0::2], bodies[1::2]))


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """The export folders of a tiny classifier, language model and translator."""
    folder = tmp_path_factory.mktemp("exports")
    classifier = TransformerClassifier.from_preset(
        "tiny", num_classes=2, tokenizer=ByteTokenizer(), label_names=["negative", "positive"]
    )
    classifier.build((None, None))
    language_model = TransformerLM.from_preset("tiny", tokenizer=ByteTokenizer())
    translator = Transformer.from_preset("tiny", source_tokenizer=ByteTokenizer())
    return [
        export_classifier(classifier, folder / "sst2", keras_file=False),
        export_language_model(
            language_model, folder / "lm", keras_file=False, jit_compile=False
        ),
        export_translator(translator, folder / "de-en", keras_file=False),
    ]


def _serve(signature, request):
    """The columnar REST answer of `signature` to `request`."""
    specs = signature.structured_input_signature[1]
    assert set(request["inputs"]) == set(specs), "the request names other inputs"
    outputs = signature(
        **{
            name: tf.constant(value, specs[name].dtype)
            for name, value in request["inputs"].items()
        }
    )
    values = {
        name: tf.nest.map_structure(
            lambda item: item.decode() if isinstance(item, bytes) else item,
            tensor.numpy().tolist(),
        )
        for name, tensor in outputs.items()
    }
    return {"outputs": values if len(values) > 1 else next(iter(values.values()))}


def _shape(value):
    """The nesting of lists in a JSON value: `[2, [2]]`-like, `type` at the leaves."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [len(value), *({json.dumps(_shape(item)) for item in value} or [])]
    return "number" if isinstance(value, int | float) else type(value).__name__


def test_every_documented_request_gets_an_answer_shaped_like_the_documented_one(paths):
    exchanges = _documented_exchanges()
    assert [request["signature_name"] for request, _ in exchanges] == [
        "serving_default",
        "generate",
        "score",
        "translate",
    ]
    classifier, language_model, translator = [load_saved_model(path) for path in paths]
    models = [classifier, language_model, language_model, translator]
    for (request, documented), model in zip(exchanges, models):
        answer = _serve(model.signatures[request["signature_name"]], request)
        assert _shape(answer) == _shape(documented), request["signature_name"]


def test_the_client_of_each_export_is_found_from_its_signatures(paths):
    classifier, language_model, translator = [load_client(path) for path in paths]
    labels, ids, probabilities = classifier.classify(["a fine film", ""])
    assert classifier.label_names == ["negative", "positive"]
    assert set(labels) <= {"negative", "positive"} and ids.shape == (2,)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.accuracy(["a fine film"], ids[:1]) == 1.0
    continuations = language_model.generate(["Once", ""], max_new_tokens=4, temperature=0.0)
    assert len(continuations) == 2 and all(isinstance(text, str) for text in continuations)
    assert all(np.isfinite(language_model.score(["Once upon a time"])))
    assert len(translator.translate(["hola"] * 3, beam_size=2, max_length=6, batch_size=2)) == 3


def test_empty_inputs_give_empty_answers(paths):
    classifier, _, translator = [load_client(path) for path in paths]
    labels, ids, probabilities = classifier.classify([])
    assert labels == [] and ids.shape == (0,) and probabilities.shape == (0, 2)
    assert classifier.accuracy([], []) == 0.0
    assert translator.translate([]) == []


def test_a_client_of_another_kind_is_refused_by_name(paths, tmp_path):
    with pytest.raises(ValueError, match=r"is not a translator export\. Received: signatures="):
        load_client(paths[0], "translator")
    with pytest.raises(ValueError, match="Received: kind='regressor'"):
        load_client(paths[0], "regressor")
    with pytest.raises((FileNotFoundError, ValueError), match="absent"):
        load_client(tmp_path / "absent")
