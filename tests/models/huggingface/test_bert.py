"""BERT checkpoints in the Hugging Face layout, loaded into `TransformerClassifier`.

A tiny, randomly initialised `BertForSequenceClassification` is made by
`transformers` inside the test (offline) over a WordPiece vocabulary trained
on real text (`tests/text/pretrained/conftest.py`), saved as a checkpoint
folder and loaded with `TransformerClassifier.from_pretrained`. The logits
equal PyTorch's on a padded batch, `preprocess` gives the Hugging Face
tokenizer's ids, and the exported SavedModel answers PyTorch's probabilities
in a process that never imports the package.
"""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import to_numpy
from tests.models.huggingface.checkpoints import BERT_LABELS, bert_checkpoint
from transformer_keras.export import verify_in_fresh_process
from transformer_keras.export.classifier import export_classifier
from transformer_keras.models import MaskedLanguageModel, TransformerClassifier
from transformer_keras.models.huggingface import bert_backbone_arguments

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.tf_only
TEXTS = [
    "The quick brown fox",
    "hello",
    "A longer sentence about a river, the sea and the mountains beyond",
    "",
]
LABELS = BERT_LABELS


@pytest.fixture(scope="module")
def checkpoint(bert_folders, tmp_path_factory):
    """A BERT folder: `transformers`' tiny random classifier beside the WordPiece files."""
    folder = tmp_path_factory.mktemp("bert_checkpoint")
    return folder, bert_checkpoint(bert_folders["uncased"], folder)


@pytest.fixture(scope="module")
def model(checkpoint):
    return TransformerClassifier.from_pretrained(checkpoint[0], num_classes=3)


def _hf_tokenizer(folder):
    return transformers.BertTokenizerFast.from_pretrained(folder)


def _reference_probabilities(checkpoint, texts):
    folder, reference = checkpoint
    encoded = _hf_tokenizer(folder)(texts, padding=True, truncation=True, max_length=24)
    with torch.no_grad():
        logits = reference(
            input_ids=torch.tensor(encoded["input_ids"]),
            attention_mask=torch.tensor(encoded["attention_mask"]),
        ).logits
    return torch.softmax(logits, -1).numpy()


def test_the_config_maps_onto_an_encoder_backbone(checkpoint, model):
    arguments = bert_backbone_arguments(json.loads((checkpoint[0] / "config.json").read_text()))
    assert arguments["embedding_norm"] and not arguments["normalize_first"]
    assert arguments["activation"] == "gelu" and arguments["layer_norm_epsilon"] == 1e-12
    assert model.pooling == "cls" and model.pooler and model.add_end_token
    assert model.label_names == ["negative", "neutral", "positive"]


def test_logits_equal_pytorch_on_a_padded_batch(checkpoint, model):
    folder, reference = checkpoint
    encoded = _hf_tokenizer(folder)(TEXTS, padding=True)
    token_ids = np.array(encoded["input_ids"])  # (B, T), [PAD] = 0
    mask = np.array(encoded["attention_mask"])
    assert mask.sum() < mask.size  # padding to check
    with torch.no_grad():
        expected = reference(
            input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask)
        ).logits.numpy()
    np.testing.assert_allclose(to_numpy(model(token_ids)), expected, atol=1e-4, rtol=1e-4)
    assert np.ptp(expected, axis=1).min() > 0.1  # the classes are told apart


def test_preprocess_gives_the_hugging_face_ids_with_cls_and_sep(checkpoint, model, texts):
    expected = _hf_tokenizer(checkpoint[0])(
        texts, padding="max_length", truncation=True, max_length=model.max_sequence_length
    )["input_ids"]
    ours = model.preprocess(texts).numpy().tolist()
    differing = [(t, o, e) for t, o, e in zip(texts, ours, expected) if o != e]
    assert len(texts) >= 1000 and not differing, differing[:3]


def test_the_head_of_another_size_starts_from_scratch(checkpoint):
    model = TransformerClassifier.from_pretrained(checkpoint[0], num_classes=2)
    assert model.label_names == ["0", "1"]
    _, reference = checkpoint
    pooler = reference.bert.pooler.dense.weight.detach().numpy().T
    np.testing.assert_array_equal(to_numpy(model.pooler_dense.kernel), pooler)
    plain = TransformerClassifier.from_pretrained(checkpoint[0], num_classes=3, pooler=False)
    assert plain.pooler_dense is None and plain.label_names == list(LABELS.values())


def test_a_tensor_that_does_not_fit_is_named(checkpoint, tmp_path):
    folder, _ = checkpoint
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "intermediate_size": 48}))
    with pytest.raises(
        ValueError,
        match=r"'bert.encoder.layer.0.intermediate.dense.weight' of shape \(64, 32\)",
    ):
        TransformerClassifier.from_pretrained(tmp_path, num_classes=3)
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="Received: model_type='gpt2'"):
        TransformerClassifier.from_pretrained(tmp_path, num_classes=3)


def test_our_masked_language_model_is_still_a_source():
    encoder = MaskedLanguageModel.from_preset("tiny", vocabulary_size=50)
    encoder({"token_ids": np.array([[4, 49, 6]]), "mask_positions": np.array([[1]])})
    classifier = TransformerClassifier.from_pretrained(encoder, num_classes=2)
    for ours, theirs in zip(classifier.backbone.weights, encoder.backbone.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))


def test_a_lora_step_moves_only_the_adapters_and_the_head(checkpoint):
    model = TransformerClassifier.from_pretrained(checkpoint[0], num_classes=2)
    model.backbone.enable_lora(2)
    frozen = [to_numpy(v) for v in model.backbone.weights if not v.trainable]
    token_ids, labels = model.preprocess(TEXTS), np.array([0, 1, 1, 0])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.evaluate(token_ids, labels, verbose=0, return_dict=True)["loss"]
    model.fit(token_ids, labels, epochs=5, verbose=0)  # with BERT's dropout
    assert model.evaluate(token_ids, labels, verbose=0, return_dict=True)["loss"] < before
    after = [to_numpy(v) for v in model.backbone.weights if not v.trainable]
    for before, now in zip(frozen, after, strict=True):
        np.testing.assert_array_equal(before, now)


@pytest.mark.slow
def test_the_export_answers_pytorchs_probabilities_without_the_package(
    checkpoint, model, tmp_path
):
    exported = export_classifier(model, tmp_path / "bert", keras_file=False)
    outputs = verify_in_fresh_process(exported, "serving_default", {"text": TEXTS})
    expected = _reference_probabilities(checkpoint, TEXTS)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    assert outputs["label"] == [LABELS[str(i)] for i in expected.argmax(-1)]


def test_an_int8_export_serves_what_the_int8_model_computes(checkpoint, tmp_path):
    model = TransformerClassifier.from_pretrained(checkpoint[0], num_classes=3)
    model.quantize("int8")
    exported = export_classifier(model, tmp_path / "bert_int8", keras_file=False)
    served = tf.saved_model.load(str(exported)).signatures["serving_default"]
    probabilities = served(text=tf.constant(TEXTS))["probabilities"].numpy()
    expected = keras.ops.softmax(model(model.preprocess(TEXTS))).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    float_probabilities = _reference_probabilities(checkpoint, TEXTS)
    np.testing.assert_allclose(probabilities, float_probabilities, atol=0.05)
