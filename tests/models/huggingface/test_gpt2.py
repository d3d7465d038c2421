"""GPT-2 checkpoints in the Hugging Face layout, loaded into `TransformerLM`.

A tiny, randomly initialised `GPT2LMHeadModel` is made by `transformers` inside
the test (offline) over a byte-level BPE vocabulary trained on real text
(`tests/text/pretrained/conftest.py`), saved as a checkpoint folder and loaded
with `TransformerLM.from_pretrained`. The logits equal PyTorch's on a padded
batch, greedy generation gives `generate`'s tokens, and the exported
SavedModel answers the same text in a process that never imports the package.
"""

import json
import shutil

import numpy as np
import pytest

from tests.harness import to_numpy
from tests.models.huggingface.checkpoints import gpt2_checkpoint
from transformer_keras.export import verify_in_fresh_process
from transformer_keras.export.language_model import export_language_model
from transformer_keras.models import TransformerLM
from transformer_keras.models.huggingface import gpt2_backbone_arguments

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.tf_only
TEXTS = ["The quick brown fox", "Hello", "A longer sentence about a river and the sea"]


@pytest.fixture(scope="module")
def checkpoint(gpt2_folder, tmp_path_factory):
    """A GPT-2 folder: `transformers`' tiny random model beside the BPE files."""
    folder = tmp_path_factory.mktemp("gpt2_checkpoint")
    return folder, gpt2_checkpoint(gpt2_folder, folder)


@pytest.fixture(scope="module")
def model(checkpoint):
    return TransformerLM.from_pretrained(checkpoint[0])


def _hf_tokenizer(folder):
    return transformers.GPT2TokenizerFast.from_pretrained(folder)


def test_the_config_maps_onto_a_decoder_backbone(checkpoint, model):
    arguments = gpt2_backbone_arguments(json.loads((checkpoint[0] / "config.json").read_text()))
    assert arguments["activation"] == "gelu_tanh" and arguments["normalize_first"]
    assert not arguments["scale_embeddings"] and arguments["intermediate_dim"] == 128
    assert model.backbone.pad_id == model.tokenizer.pad_id == model.vocabulary_size - 1


def test_logits_equal_pytorch_on_a_padded_batch(checkpoint, model):
    folder, reference = checkpoint
    ids = _hf_tokenizer(folder)(TEXTS)["input_ids"]
    pad = model.pad_id
    width = max(map(len, ids))
    token_ids = np.array([row + [pad] * (width - len(row)) for row in ids])  # (B, T)
    mask = np.array([[1] * len(row) + [0] * (width - len(row)) for row in ids])
    assert mask.sum() < mask.size  # padding to check
    with torch.no_grad():
        expected = reference(
            input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask)
        ).logits.numpy()
    logits = to_numpy(model(token_ids))
    real = mask.astype(bool)
    np.testing.assert_allclose(logits[real], expected[real], atol=1e-4, rtol=1e-4)


def _first_end(row, end):
    return row[: row.index(end) + 1] if end in row else row


def test_greedy_generation_equals_transformers_generate(checkpoint, model):
    folder, reference = checkpoint
    # One batch of prompts of one length: no padding on either side.
    prompts = [row[:3] for row in _hf_tokenizer(folder)(TEXTS)["input_ids"] if len(row) >= 3]
    assert len(prompts) >= 2
    with torch.no_grad():
        generated = reference.generate(
            torch.tensor(prompts),
            attention_mask=torch.ones(len(prompts), len(prompts[0]), dtype=torch.long),
            max_new_tokens=10,
            do_sample=False,
            pad_token_id=model.pad_id,
        )
    end = model.tokenizer.end_id
    expected = [_first_end(row[len(prompts[0]) :], end) for row in generated.tolist()]
    ours = model.generate(prompts, max_new_tokens=10, temperature=0.0, stop_token=end)
    assert [_first_end(list(row), end) for row in ours] == expected
    assert len(set(expected[0])) > 2  # a varied continuation


def test_a_pytorch_bin_checkpoint_loads_the_same_weights(checkpoint, model, tmp_path):
    folder, reference = checkpoint
    for path in folder.iterdir():
        if path.name != "model.safetensors":
            shutil.copy(path, tmp_path / path.name)
    # The older layout: the state dict pickled by PyTorch (transformers 5 writes
    # safetensors only).
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    loaded = TransformerLM.from_pretrained(tmp_path)
    for ours, theirs in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))


def test_a_tensor_that_does_not_fit_is_named(checkpoint, tmp_path):
    folder, _ = checkpoint
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_inner": 64}))
    with pytest.raises(
        ValueError, match=r"'transformer.h.0.mlp.c_fc.weight' of shape \(32, 128\)"
    ):
        TransformerLM.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="Received: path="):
        TransformerLM.from_pretrained(tmp_path / "missing")
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(ValueError, match="Received: model_type='bert'"):
        TransformerLM.from_pretrained(tmp_path)


@pytest.mark.slow
def test_the_export_answers_transformers_greedy_text_without_the_package(
    checkpoint, model, tmp_path
):
    folder, reference = checkpoint
    exported = export_language_model(model, tmp_path / "gpt2")
    settings = dict(max_new_tokens=8, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    outputs = verify_in_fresh_process(
        exported, "generate", {"prompt": ["The river"], **settings}
    )
    tokenizer = _hf_tokenizer(folder)
    prompt = tokenizer(["The river"])["input_ids"]
    with torch.no_grad():
        generated = reference.generate(
            torch.tensor(prompt),
            attention_mask=torch.ones(1, len(prompt[0]), dtype=torch.long),
            max_new_tokens=8,
            do_sample=False,
            pad_token_id=model.pad_id,
        )[0, len(prompt[0]) :].tolist()
    expected = tokenizer.decode(
        _first_end(generated, model.tokenizer.end_id), skip_special_tokens=True
    )
    assert outputs["text"] == [expected]


def test_a_lora_step_on_the_loaded_model_moves_only_the_adapters(checkpoint):
    import keras

    model = TransformerLM.from_pretrained(checkpoint[0])
    model.backbone.enable_lora(2)
    frozen = [to_numpy(v) for v in model.weights if not v.trainable]
    ids = np.array(_hf_tokenizer(checkpoint[0])(["The quick brown fox jumps"])["input_ids"])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    after = [to_numpy(v) for v in model.weights if not v.trainable]
    for before, now in zip(frozen, after, strict=True):
        np.testing.assert_array_equal(before, now)


def test_an_int8_export_generates_what_the_int8_model_generates(checkpoint, tmp_path):
    import tensorflow as tf

    model = TransformerLM.from_pretrained(checkpoint[0])
    model.quantize("int8")  # Keras' own: int8 weights, per-channel scales
    exported = export_language_model(model, tmp_path / "gpt2_int8", keras_file=False)
    generate = tf.saved_model.load(str(exported)).signatures["generate"]
    settings = dict(max_new_tokens=6, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    served = generate(
        prompt=tf.constant(["The river", "A quick"]),
        **{name: tf.constant(value) for name, value in settings.items()},
    )["text"]
    del settings["max_new_tokens"]
    expected = model.generate(
        ["The river", "A quick"], 6, stop_token=model.tokenizer.end_id, **settings
    )
    assert [text.decode("utf-8") for text in served.numpy()] == list(expected)
