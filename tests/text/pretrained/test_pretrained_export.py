"""The three tokenizers inside one exported SavedModel, served by a process that
imports only TensorFlow and tensorflow-text."""

import pytest
import tensorflow as tf

from transformer_keras.export.fresh_process import verify_in_fresh_process
from transformer_keras.export.saved_model import export_saved_model
from transformer_keras.text import load_huggingface_tokenizer

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]
pytest.importorskip("transformers")

TEXTS = [
    "A man in a blue shirt rides a horse.",
    "Zwei Männer grüßen, 汉字 und 👩\u200d👩\u200d👧!",
    "",
    "tabs\tand\nnewlines  and \u3000 spaces",
    "a [MASK] b <|endoftext|> c </s> >>de<< d",
]
LENGTH = 24


@pytest.fixture(scope="module")
def tokenizers(bert_folders, gpt2_folder, marian_folder):
    return {
        "bert": load_huggingface_tokenizer(bert_folders["uncased"]),
        "gpt2": load_huggingface_tokenizer(gpt2_folder),
        "marian_source": load_huggingface_tokenizer(marian_folder),
        "marian_target": load_huggingface_tokenizer(marian_folder, side="target"),
    }


def serve(tokenizers, text):
    outputs = {}
    for name, tokenizer in tokenizers.items():
        ids = tokenizer.encode(text, LENGTH, add_start=name != "marian_source", add_end=True)
        outputs[f"{name}_ids"] = ids
        outputs[f"{name}_text"] = tokenizer.detokenize(ids)
    return outputs


def test_an_exported_model_with_each_tokenizer_runs_in_a_fresh_process(tokenizers, tmp_path):
    signature = [tf.TensorSpec([None], tf.string, name="text")]
    endpoint = tf.function(lambda text: serve(tokenizers, text), input_signature=signature)
    first, *others = tokenizers.values()
    path = export_saved_model(
        tmp_path / "tokenizers", first, {"serving_default": endpoint}, track=others,
        keras_file=False,
    )  # fmt: skip
    expected = {
        name: value.numpy().tolist()
        for name, value in serve(tokenizers, tf.constant(TEXTS)).items()
    }
    outputs = verify_in_fresh_process(path, "serving_default", {"text": TEXTS})
    for name, value in expected.items():
        if name.endswith("_text"):
            value = [text.decode("utf-8") for text in value]
        assert outputs[name] == value, name
    assert outputs["gpt2_text"][0] == TEXTS[0]
    assert outputs["bert_ids"][4].count(tokenizers["bert"].mask_id) == 1
