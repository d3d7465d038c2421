"""Marian (opus-mt) checkpoints in the Hugging Face layout, loaded into `Transformer`.

A tiny, randomly initialised `MarianMTModel` is made by `transformers` inside
the test (offline) over SentencePiece models and a `vocab.json` trained on
real text (`tests/text/pretrained/conftest.py`), saved as a checkpoint folder
and loaded with `Transformer.from_pretrained`. The logits equal PyTorch's on
padded batches, greedy and beam decoding give `generate`'s tokens, the
source ids are the Hugging Face tokenizer's, and the exported SavedModel
answers `generate`'s text in a process that never imports the package.
"""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import to_numpy
from tests.models.huggingface.checkpoints import marian_checkpoint
from transformer_keras.export import verify_in_fresh_process
from transformer_keras.export.translator import export_translator
from transformer_keras.models import Transformer
from transformer_keras.models.huggingface import marian_backbone_arguments

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.tf_only
SOURCES = [
    "The quick brown fox jumps over the lazy dog",
    "Hello",
    "A longer sentence about a river, the sea and the mountains",
    "Where is the station?",
]
MAX_NEW_TOKENS = 24


@pytest.fixture(scope="module")
def checkpoint(marian_folder, tmp_path_factory):
    """A Marian folder: `transformers`' tiny random model beside the tokenizer files."""
    folder = tmp_path_factory.mktemp("marian_checkpoint")
    return folder, marian_checkpoint(marian_folder, folder)


@pytest.fixture(scope="module")
def model(checkpoint):
    return Transformer.from_pretrained(checkpoint[0])


def _hf_tokenizer(folder):
    return transformers.MarianTokenizer.from_pretrained(str(folder))


def _source_ids(folder, texts=SOURCES):
    encoded = _hf_tokenizer(folder)(texts, padding=True)
    return np.array(encoded["input_ids"]), np.array(encoded["attention_mask"])


def _generate(checkpoint, source_ids, mask, num_beams):
    """`transformers`' `generate` with our search's settings, start id dropped."""
    _, reference = checkpoint
    with torch.no_grad():
        generated = reference.generate(
            torch.tensor(source_ids),
            attention_mask=torch.tensor(mask),
            num_beams=num_beams,
            length_penalty=0.0,  # our GNMT penalty with alpha=0: plain log-probabilities
            early_stopping=False,
            do_sample=False,
            max_new_tokens=MAX_NEW_TOKENS,
            bad_words_ids=[[reference.config.pad_token_id]],  # as opus-mt; ours never pads
        )
    return [_until_end(row[1:], reference.config.eos_token_id) for row in generated.tolist()]


def _until_end(row, end):
    row = list(row)
    return row[: row.index(end) + 1] if end in row else row


def test_the_config_maps_onto_two_backbones(checkpoint, model):
    arguments = marian_backbone_arguments(
        json.loads((checkpoint[0] / "config.json").read_text())
    )
    assert arguments["encoder"]["position"] == "sinusoidal_concatenated"
    assert arguments["decoder"]["activation"] == "silu"
    assert arguments["decoder"]["intermediate_dim"] == 48
    assert model.start_id == model.pad_id == model.target_vocabulary_size - 1
    assert model.end_id == 0 and model.output_bias


def test_logits_equal_pytorch_on_padded_batches(checkpoint, model):
    folder, reference = checkpoint
    source_ids, source_mask = _source_ids(folder)
    assert source_mask.sum() < source_mask.size  # padding to check
    pad = model.pad_id
    targets = [[pad, 5, 9, 14, 30, 2], [pad, 7], [pad, 40, 41, 42], [pad, 3, 3]]
    width = max(map(len, targets))
    target_ids = np.array([row + [pad] * (width - len(row)) for row in targets])  # (B, T)
    with torch.no_grad():
        expected = reference(
            input_ids=torch.tensor(source_ids),
            attention_mask=torch.tensor(source_mask),
            decoder_input_ids=torch.tensor(target_ids),
        ).logits.numpy()
    logits = to_numpy(model({"source_ids": source_ids, "target_ids": target_ids}))
    real = np.array([[i < len(row) for i in range(width)] for row in targets])
    np.testing.assert_allclose(logits[real], expected[real], atol=1e-4, rtol=1e-4)


def test_source_ids_are_the_hugging_face_tokenizers(checkpoint, model, texts):
    """`</s>` appended, truncated to the longest source, padded with `<pad>`.

    As in tests/text/pretrained/test_marian_tokenizer.py, a few texts may
    differ where two segmentations score the same (the same pieces in
    another order): tensorflow-text and `sentencepiece` break ties apart.
    """
    ours = model.encode_source(texts).numpy().tolist()
    expected = _hf_tokenizer(checkpoint[0])(
        texts, truncation=True, max_length=model.max_sequence_length, padding=True
    )["input_ids"]
    differing = [(t, o, e) for t, o, e in zip(texts, ours, expected) if o != e]
    assert len(texts) >= 1000 and len(differing) <= 3, differing[:3]
    assert all(sorted(o) == sorted(e) for _, o, e in differing), differing


@pytest.mark.parametrize("beam_size", [1, 4])
def test_decoding_equals_transformers_generate(checkpoint, model, beam_size):
    source_ids, mask = _source_ids(checkpoint[0])
    expected = _generate(checkpoint, source_ids, mask, beam_size)
    tokens = model.search(source_ids, beam_size=beam_size, max_length=MAX_NEW_TOKENS, alpha=0.0)
    ours = [_until_end(row, model.end_id) for row in tokens.numpy().tolist()]
    assert ours == expected
    ended = [row for row in expected if row[-1] == model.end_id]
    assert ended and len({len(row) for row in expected}) > 1  # ends, at varied lengths


def test_beam_search_finds_other_translations_than_greedy(checkpoint):
    source_ids, mask = _source_ids(checkpoint[0])
    greedy, beam = (_generate(checkpoint, source_ids, mask, k) for k in (1, 4))
    assert greedy != beam and max(len(set(row)) for row in beam) > 4


def test_a_tensor_that_does_not_fit_is_named(checkpoint, tmp_path):
    folder, _ = checkpoint
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "decoder_ffn_dim": 40}))
    with pytest.raises(
        ValueError, match=r"'model.decoder.layers.0.fc1.weight' of shape \(48, 32\)"
    ):
        Transformer.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "bart"}))
    with pytest.raises(ValueError, match="Received: model_type='bart'"):
        Transformer.from_pretrained(tmp_path)


def test_a_lora_step_moves_only_the_adapters_and_the_output_bias(checkpoint):
    model = Transformer.from_pretrained(checkpoint[0])
    for backbone in (model.encoder, model.decoder):
        backbone.enable_lora(2)
    frozen = [to_numpy(v) for v in model.weights if not v.trainable]
    lora = [v for v in model.trainable_weights if v.name.startswith("lora_kernel")]
    assert len(lora) == 2 * 2 * (2 + 2 * 2)  # A and B on 12 projections
    source_ids, _ = _source_ids(checkpoint[0])
    pad, end = model.pad_id, model.end_id
    inputs = {"source_ids": source_ids, "target_ids": np.array([[pad, 5, 9, 14]] * 4)}
    labels = np.array([[5, 9, 14, end]] * 4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.evaluate(inputs, labels, verbose=0, return_dict=True)["loss"]
    model.fit(inputs, labels, epochs=3, verbose=0)
    assert model.evaluate(inputs, labels, verbose=0, return_dict=True)["loss"] < before
    after = [to_numpy(v) for v in model.weights if not v.trainable]
    for old, new in zip(frozen, after, strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.slow
def test_the_export_answers_transformers_text_without_the_package(checkpoint, model, tmp_path):
    exported = export_translator(model, tmp_path / "marian", keras_file=False)
    outputs = verify_in_fresh_process(
        exported,
        "translate",
        {"text": SOURCES, "beam_size": 1, "max_length": MAX_NEW_TOKENS},
    )
    source_ids, mask = _source_ids(checkpoint[0])
    tokenizer = _hf_tokenizer(checkpoint[0])
    expected = tokenizer.batch_decode(
        _generate(checkpoint, source_ids, mask, 1), skip_special_tokens=True
    )
    assert outputs["translation"] == expected


def test_an_int8_export_translates_as_the_int8_model(checkpoint, tmp_path):
    model = Transformer.from_pretrained(checkpoint[0])
    model.quantize("int8")
    exported = export_translator(model, tmp_path / "marian_int8", keras_file=False)
    translate = tf.saved_model.load(str(exported)).signatures["translate"]
    served = translate(
        text=tf.constant(SOURCES), beam_size=tf.constant(1), max_length=tf.constant(12)
    )["translation"]
    # The int8 Keras model's greedy search, eagerly (no second traced graph).
    tokens = model.greedy_search(model.encode_source(SOURCES), 12)
    expected = model.target_tokenizer.detokenize(tokens)
    assert served.numpy().tolist() == expected.numpy().tolist()
