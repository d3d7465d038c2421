"""Tests of the translator's SavedModel signature (export/translator.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.export import (
    keras_file_path,
    load_keras_model,
    load_saved_model,
    verify_in_fresh_process,
)
from transformer_keras.export.translator import export_translator
from transformer_keras.models.seq2seq import MAX_BEAM_SIZE, Transformer
from transformer_keras.text import CharTokenizer

pytestmark = pytest.mark.tf_only

SOURCES = ["abc cab", "ba", "", "zzz \u00e9\u4e16 abc"]  # empty; unseen characters


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    tokenizer = CharTokenizer.train(["abc cab bca", "hello world"])
    model = Transformer.from_preset("tiny", source_tokenizer=tokenizer, max_sequence_length=12)
    path = export_translator(model, tmp_path_factory.mktemp("export") / "translator")
    return model, path


@pytest.fixture(scope="module")
def translate(exported):
    return load_saved_model(exported[1]).signatures["translate"]


def _call(signature, texts, beam_size=2, max_length=6):
    outputs = signature(
        text=tf.constant(texts, tf.string),
        beam_size=tf.constant(beam_size, tf.int32),
        max_length=tf.constant(max_length, tf.int32),
    )
    return [text.decode("utf-8") for text in outputs["translation"].numpy()]


def _keras(model, texts, beam_size=2, max_length=6):
    return [t.decode("utf-8") for t in model.translate(texts, beam_size, max_length).numpy()]


def test_signatures_declare_the_documented_inputs_and_output(exported):
    _, path = exported
    loaded = load_saved_model(path)
    assert {"translate", "serving_default"} <= set(loaded.signatures)
    for name in ("translate", "serving_default"):
        signature = loaded.signatures[name]
        specs = signature.structured_input_signature[1]
        assert specs["text"] == tf.TensorSpec([None], tf.string, name="text")
        assert specs["beam_size"] == tf.TensorSpec([], tf.int32, name="beam_size")
        assert specs["max_length"] == tf.TensorSpec([], tf.int32, name="max_length")
        assert set(signature.structured_outputs) == {"translation"}


@pytest.mark.slow
def test_fresh_process_reload_equals_keras_translations(exported):
    model, path = exported
    served = verify_in_fresh_process(
        path, "translate", {"text": SOURCES, "beam_size": 3, "max_length": 6}
    )["translation"]
    assert served == _keras(model, SOURCES, 3)


def test_in_process_reload_equals_keras_greedy_translations(exported, translate):
    model, _ = exported
    assert _call(translate, SOURCES, beam_size=1) == _keras(model, SOURCES, 1)


def test_keras_file_beside_the_saved_model_translates_the_same(exported):
    model, path = exported
    reloaded = load_keras_model(keras_file_path(path))
    assert _keras(reloaded, SOURCES, 3) == _keras(model, SOURCES, 3)


def test_documented_behaviour_on_bad_input(exported, translate):
    model, _ = exported
    translations = _call(translate, SOURCES)
    assert translations[2] == ""  # an empty source translates to an empty string
    assert all(len(t) <= 6 for t in translations)
    # A source longer than max_sequence_length is truncated: same as its prefix.
    long_source = "abc " * 50
    prefix = long_source[: model.max_sequence_length - 1]
    assert _call(translate, [long_source]) == _call(translate, [prefix])
    # max_length above the model's maximum is clamped; an empty batch stays empty.
    assert len(_call(translate, ["abc"], max_length=10_000)) == 1
    assert _call(translate, []) == []


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"beam_size": 0}, "beam_size"),
        ({"beam_size": MAX_BEAM_SIZE + 1}, "beam_size"),
        ({"max_length": 0}, "max_length"),
        ({"max_length": -3}, "max_length"),
    ],
)
def test_bad_settings_fail_with_a_clear_error(translate, settings, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(translate, ["abc"], **settings)


def test_translations_are_finite_words_of_the_target_vocabulary(exported):
    model, _ = exported
    tokens = model.search(model.encode_source(tf.constant(SOURCES)), beam_size=4, max_length=6)
    tokens = tokens.numpy()
    assert tokens.min() >= 0 and tokens.max() < model.target_vocabulary_size
    assert np.all(tokens != model.start_id)


def test_export_needs_tokenizers(tmp_path):
    model = Transformer.from_preset("tiny", source_vocabulary_size=20)
    with pytest.raises(ValueError, match="Received: source_tokenizer=None"):
        export_translator(model, tmp_path / "nope")
