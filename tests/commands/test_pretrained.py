"""`train classifier|lm|translator --pretrained PATH`: fine-tuning Hugging Face checkpoints.

Each command fine-tunes a tiny random checkpoint that `transformers` made
offline (`tests/models/huggingface/checkpoints.py`) on a few real sentences,
then exports it: the model keeps the checkpoint's architecture and tokenizer,
its weights moved from the checkpoint's (but not far), and the SavedModel
answers text.
"""

import numpy as np
import pytest

from tests.harness import to_numpy
from tests.models.huggingface.checkpoints import (
    bert_checkpoint,
    gpt2_checkpoint,
    marian_checkpoint,
)
from tests.text.pretrained.conftest import (  # noqa: F401  (fixtures)
    bert_folders,
    gpt2_folder,
    marian_folder,
    wordpiece_vocabulary,
)
from transformer_keras import cli
from transformer_keras.data.generated_sentiment import LABEL_NAMES, generate_sentiment_examples
from transformer_keras.export.client import load_client

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]  # each trains and exports a model
SENTENCES = [
    "The cat sat on the mat.",
    "A dog ran across the field.",
    "The river flows to the sea.",
    "We walked along the quiet road.",
] * 4


def _keras_model(output):
    import keras

    return keras.saving.load_model(f"{output}.keras")


def _assert_moved_a_little(ours, theirs):
    difference = np.abs(to_numpy(ours) - theirs).max()
    assert 0 < difference < 0.05, difference


def test_train_classifier_fine_tunes_a_bert_checkpoint(bert_folders, tmp_path):  # noqa: F811
    checkpoint = tmp_path / "bert"
    checkpoint.mkdir()
    reference = bert_checkpoint(bert_folders["uncased"], checkpoint)
    texts, labels = generate_sentiment_examples(48, seed=0)
    rows = [f"{text}\t{LABEL_NAMES[label]}" for text, label in zip(texts, labels)]
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    output = tmp_path / "saved_models" / "bert"
    code = cli.main(
        ["train", "classifier", "--pretrained", str(checkpoint), "--train",
         str(tmp_path / "train.tsv"), "--output", str(output), "--epochs", "1",
         "--batch-size", "8", "--max-length", "16"]
    )  # fmt: skip
    assert code == 0
    model = _keras_model(output)
    assert model.pooler and model.add_end_token and model.max_sequence_length == 16
    assert sorted(model.label_names) == sorted(LABEL_NAMES)  # the data's, not the checkpoint's
    _assert_moved_a_little(
        model.backbone.embedding.token_embedding.embeddings,
        reference.bert.embeddings.word_embeddings.weight.detach().numpy(),
    )
    labels, _, _ = load_client(output, "classifier").classify(["a fine film"])
    assert labels[0] in LABEL_NAMES


def test_train_lm_fine_tunes_a_gpt2_checkpoint(gpt2_folder, tmp_path):  # noqa: F811
    checkpoint = tmp_path / "gpt2"
    checkpoint.mkdir()
    reference = gpt2_checkpoint(gpt2_folder, checkpoint)
    (tmp_path / "train.txt").write_text("\n".join(SENTENCES * 4) + "\n")
    output = tmp_path / "saved_models" / "gpt2"
    code = cli.main(
        ["train", "lm", "--pretrained", str(checkpoint), "--train", str(tmp_path / "train.txt"),
         "--output", str(output), "--max-steps", "6", "--batch-size", "4", "--context", "16",
         "--no-xla", "--sample-prompt", "The"]
    )  # fmt: skip
    assert code == 0
    model = _keras_model(output)
    assert model.backbone.activation == "gelu_tanh" and model.max_sequence_length == 32
    _assert_moved_a_little(
        model.backbone.embedding.token_embedding.embeddings,
        reference.transformer.wte.weight.detach().numpy(),
    )
    generated = load_client(output, "language model").generate(
        ["The river"], max_new_tokens=4, temperature=0.0
    )
    assert isinstance(generated[0], str)


def test_train_translator_fine_tunes_a_marian_checkpoint(marian_folder, tmp_path):  # noqa: F811
    checkpoint = tmp_path / "marian"
    checkpoint.mkdir()
    reference = marian_checkpoint(marian_folder, checkpoint)
    (tmp_path / "source.txt").write_text("\n".join(SENTENCES) + "\n")
    (tmp_path / "target.txt").write_text("\n".join(s.lower() for s in SENTENCES) + "\n")
    output = tmp_path / "saved_models" / "marian"
    code = cli.main(
        ["train", "translator", "--pretrained", str(checkpoint),
         "--train-source", str(tmp_path / "source.txt"),
         "--train-target", str(tmp_path / "target.txt"),
         "--output", str(output), "--epochs", "1", "--token-budget", "256",
         "--max-length", "24", "--learning-rate-scale", "0.1", "--beam-size", "1"]
    )  # fmt: skip
    assert code == 0
    model = _keras_model(output)
    assert model.encoder.position == "sinusoidal_concatenated" and model.output_bias
    assert model.start_id == model.pad_id != 0
    _assert_moved_a_little(
        model.decoder.embedding.token_embedding.embeddings,
        reference.model.shared.weight.detach().numpy(),
    )
    translations = load_client(output, "translator").translate(["The cat sat."], beam_size=1)
    assert isinstance(translations[0], str)
