"""Tests of `Task`, the base of the task models: construction from a
`Backbone`, presets, `.keras` files of the flat-config era, `with_dtype`."""

import doctest
import importlib
import inspect
import pathlib

import keras
import numpy as np
import pytest

from tests.harness import to_numpy
from transformer_keras.models import (
    Backbone,
    MaskedLanguageModel,
    Transformer,
    TransformerClassifier,
    TransformerLM,
)
from transformer_keras.models.backbone import backbone_argument_names
from transformer_keras.text import ByteTokenizer

# Construction, presets, older files and copies hold on every backend.
pytestmark = pytest.mark.jax

TOKEN_IDS = np.array([[5, 6, 7, 8], [9, 10, 11, 0]])
LEGACY_FILES = pathlib.Path(__file__).parent / "legacy_files"
SIZES = dict(
    num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16, max_sequence_length=8
)
TASKS = [TransformerClassifier, TransformerLM, MaskedLanguageModel, Transformer]


def _encoder(**overrides):
    return Backbone(**{"vocabulary_size": 30, **SIZES, "stack": "encoder", **overrides})


def _decoder(**overrides):
    arguments = {"vocabulary_size": 30, **SIZES, "stack": "decoder", **overrides}
    return Backbone(**arguments)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.__name__)
def test_no_backbone_argument_is_a_task_constructor_argument(task):
    arguments = set(inspect.signature(task.__init__).parameters)
    assert not arguments & set(backbone_argument_names())


def _outputs(model):
    if isinstance(model, Transformer):
        return model({"source_ids": TOKEN_IDS, "target_ids": TOKEN_IDS[:, :3]})
    if isinstance(model, MaskedLanguageModel):
        return model({"token_ids": TOKEN_IDS, "mask_positions": np.array([[1], [2]])})
    return model(TOKEN_IDS)


@pytest.mark.parametrize(
    "make_task",
    [
        lambda backbone: TransformerClassifier(backbone(), num_classes=2),
        lambda backbone: MaskedLanguageModel(backbone()),
    ],
    ids=["classifier", "masked_lm"],
)
def test_an_encoder_task_takes_a_backbone_or_its_config(make_task):
    backbone = _encoder()
    model = make_task(lambda: backbone)
    assert model.backbone is backbone
    assert model.vocabulary_size == 30 and model.max_sequence_length == 8
    from_config = make_task(lambda: _encoder().get_config())
    assert isinstance(from_config.backbone, Backbone)
    assert from_config.backbone.get_config() == {
        **backbone.get_config(),
        "name": from_config.backbone.name,
    }
    assert to_numpy(_outputs(model)).shape == to_numpy(_outputs(from_config)).shape


def test_the_language_model_and_the_translator_take_backbones():
    lm = TransformerLM(_decoder())
    assert tuple(lm(TOKEN_IDS).shape) == (2, 4, 30)
    translator = Transformer(_encoder(vocabulary_size=40), _decoder(cross_attention=True))
    assert (translator.source_vocabulary_size, translator.target_vocabulary_size) == (40, 30)
    assert tuple(_outputs(translator).shape) == (2, 3, 30)


@pytest.mark.parametrize(
    "make_task, message",
    [
        (lambda: TransformerClassifier(_decoder(), 2), "Received: backbone.stack='decoder'"),
        (lambda: MaskedLanguageModel(_decoder()), "Received: backbone.stack='decoder'"),
        (lambda: TransformerLM(_encoder()), "Received: backbone.stack='encoder'"),
        (lambda: TransformerLM(_decoder(cross_attention=True)), "cross_attention=True"),
        (lambda: TransformerLM("tiny"), "Received: backbone='tiny'"),
        (lambda: Transformer(_decoder(), _decoder()), "Received: encoder.stack='decoder'"),
        (lambda: Transformer(_encoder(), _decoder()), "decoder.cross_attention=False"),
        (
            lambda: Transformer(_encoder(hidden_dim=16), _decoder(cross_attention=True)),
            "Received: encoder.hidden_dim=16",
        ),
    ],
)
def test_a_backbone_of_the_wrong_kind_is_rejected(make_task, message):
    with pytest.raises(ValueError, match=message):
        make_task()


def test_a_preset_splits_its_arguments_between_backbone_and_head():
    model = TransformerClassifier.from_preset(
        "tiny", num_classes=2, vocabulary_size=30, dropout=0.3, classifier_dropout=0.2
    )
    assert (model.backbone.dropout, model.classifier_dropout) == (0.3, 0.2)
    assert model.backbone.stack == "encoder" and model.backbone.activation == "relu"
    lm = TransformerLM.from_preset("tiny", tokenizer=ByteTokenizer(), dtype="mixed_bfloat16")
    assert lm.vocabulary_size == 260 and lm.backbone.activation == "gelu"
    assert lm.backbone.dtype_policy.name == lm.dtype_policy.name == "mixed_bfloat16"
    mlm = MaskedLanguageModel.from_preset("tiny", tokenizer=ByteTokenizer())
    assert mlm.vocabulary_size == 261 and mlm.mask_token_id == 260
    translator = Transformer.from_preset(
        "tiny", source_vocabulary_size=40, target_vocabulary_size=30, num_decoder_layers=2
    )
    assert (translator.encoder.num_layers, translator.decoder.num_layers) == (1, 2)
    assert translator.encoder.position == translator.decoder.position == "sinusoidal"
    with pytest.raises(ValueError, match="no argument"):
        Transformer.from_preset("tiny", source_vocabulary_size=40, num_layers=2)


@pytest.mark.parametrize(
    "name", ["classifier", "language_model", "masked_language_model", "translator"]
)
def test_keras_files_with_flat_configs_still_load(name):
    """Files written before tasks took a backbone reload with the same outputs."""
    model = keras.saving.load_model(LEGACY_FILES / f"{name}.keras")
    ids = np.array([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
    inputs = {
        "classifier": ids,
        "language_model": ids,
        "masked_language_model": {
            "token_ids": ids,
            "mask_positions": np.array([[1, 3], [0, 2]]),
        },
        "translator": {"source_ids": ids, "target_ids": ids[:, :4]},
    }[name]
    expected = np.load(LEGACY_FILES / "outputs.npz")[name]
    np.testing.assert_allclose(to_numpy(model(inputs, training=False)), expected, atol=1e-5)
    assert model.get_config().keys() >= set(model.backbone_keys)  # saved anew: new form
    if name == "classifier":
        assert model.label_names == ["a", "b", "c"] and model.conv_kernel_size == 3
    tokenizer = model.source_tokenizer if name == "translator" else model.tokenizer
    assert isinstance(tokenizer, ByteTokenizer)


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
    fast.weights[0].assign(np.zeros(fast.weights[0].shape, "float32"))
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


def test_a_copy_with_tokenizers_keeps_the_weights():
    model = TransformerClassifier.from_preset("tiny", vocabulary_size=260, num_classes=2)
    model(TOKEN_IDS)
    with_text = model.with_tokenizers(tokenizer=ByteTokenizer())
    assert model.tokenizer is None and isinstance(with_text.tokenizer, ByteTokenizer)
    np.testing.assert_array_equal(to_numpy(with_text(TOKEN_IDS)), to_numpy(model(TOKEN_IDS)))
    with pytest.raises(ValueError, match=r"Received: tokenizers=\['source_tokenizer'\]"):
        model.with_tokenizers(source_tokenizer=ByteTokenizer())


@pytest.mark.tf_only  # int8 serves through the TensorFlow exports (and JAX compiles it slowly)
@pytest.mark.parametrize("task", ["classifier", "language_model", "translator"])
def test_int8_quantization_keeps_the_outputs_and_reloads_quantized(task, tmp_path):
    model = {
        "classifier": lambda: TransformerClassifier.from_preset(
            "tiny", vocabulary_size=30, num_classes=3
        ),
        "language_model": lambda: TransformerLM.from_preset("tiny", vocabulary_size=30),
        "translator": lambda: Transformer.from_preset("tiny", source_vocabulary_size=30),
    }[task]()
    reference = to_numpy(_outputs(model))
    model.quantize("int8")
    assert "int8" in {variable.dtype for variable in model.weights}
    quantized = to_numpy(_outputs(model))
    # Per-channel int8 weights and int8 activations: within a few percent of the scale.
    np.testing.assert_allclose(quantized, reference, atol=0.05 * np.abs(reference).max())
    model.save(tmp_path / "int8.keras")
    reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    np.testing.assert_array_equal(to_numpy(_outputs(reloaded)), quantized)
