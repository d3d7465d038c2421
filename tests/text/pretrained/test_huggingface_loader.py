import json
import shutil

import keras
import pytest

from tests.text.pretrained.conftest import huggingface_ids, our_ids, write_json
from transformer_keras.text import (
    BytePairTokenizer,
    MarianTokenizer,
    WordPieceTokenizer,
    get_tokenizer,
    load_huggingface_tokenizer,
)

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses"),
]
transformers = pytest.importorskip("transformers")


def copy_without(folder, destination, *names):
    shutil.copytree(folder, destination)
    for name in names:
        (destination / name).unlink()
    return destination


def test_each_architecture_gets_its_class(bert_folders, gpt2_folder, marian_folder):
    assert isinstance(load_huggingface_tokenizer(bert_folders["uncased"]), WordPieceTokenizer)
    assert isinstance(load_huggingface_tokenizer(gpt2_folder), BytePairTokenizer)
    source = load_huggingface_tokenizer(marian_folder)
    target = load_huggingface_tokenizer(marian_folder, side="target")
    assert isinstance(source, MarianTokenizer) and isinstance(target, MarianTokenizer)
    assert source.proto == (marian_folder / "source.spm").read_bytes()
    assert target.proto == (marian_folder / "target.spm").read_bytes()


def test_get_tokenizer_rebuilds_each_from_its_serialized_config(
    bert_folders, gpt2_folder, marian_folder
):
    for folder in (bert_folders["uncased"], gpt2_folder, marian_folder):
        tokenizer = load_huggingface_tokenizer(folder)
        rebuilt = get_tokenizer(keras.saving.serialize_keras_object(tokenizer))
        assert type(rebuilt) is type(tokenizer)
        text = ["A man with a dog."]
        assert rebuilt.tokenize(text).to_list() == tokenizer.tokenize(text).to_list()


def test_single_tokenizer_models_give_the_same_tokenizer_for_both_sides(gpt2_folder):
    source = load_huggingface_tokenizer(gpt2_folder, side="source")
    target = load_huggingface_tokenizer(gpt2_folder, side="target")
    config = {**source.get_config(), "name": None}
    assert config == {**target.get_config(), "name": None}


@pytest.mark.parametrize("how", ["model_type", "files"])
def test_the_architecture_without_tokenizer_class(
    bert_folders, gpt2_folder, marian_folder, tmp_path, how
):
    folders = {"bert": bert_folders["uncased"], "gpt2": gpt2_folder, "marian": marian_folder}
    classes = {"bert": WordPieceTokenizer, "gpt2": BytePairTokenizer, "marian": MarianTokenizer}
    for model_type, folder in folders.items():
        copy = copy_without(folder, tmp_path / model_type, "tokenizer_config.json")
        if how == "model_type":
            write_json(copy / "config.json", {"model_type": model_type})
        assert isinstance(load_huggingface_tokenizer(copy), classes[model_type])


def test_options_come_from_tokenizer_config_as_in_transformers(bert_folders, tmp_path, texts):
    """transformers 5 builds the normalizer from tokenizer_config.json, not tokenizer.json."""
    theirs = transformers.BertTokenizerFast.from_pretrained(str(bert_folders["cased"]))
    theirs.save_pretrained(str(tmp_path))
    fast = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    fast["normalizer"]["lowercase"] = True  # ignored by transformers
    write_json(tmp_path / "tokenizer.json", fast)
    assert not (tmp_path / "vocab.txt").exists()
    reloaded = transformers.BertTokenizerFast.from_pretrained(str(tmp_path))
    ours = load_huggingface_tokenizer(tmp_path)
    assert not ours.lowercase
    sample = texts[:400]
    assert our_ids(ours, sample) == huggingface_ids(reloaded, sample)


def test_clean_up_tokenization_spaces_is_read(bert_folders, tmp_path):
    folder = copy_without(bert_folders["uncased"], tmp_path / "bert", "tokenizer_config.json")
    write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "BertTokenizerFast", "clean_up_tokenization_spaces": True},
    )
    assert load_huggingface_tokenizer(folder).clean_up_tokenization_spaces


def test_special_tokens_written_as_added_token_dicts(bert_folders, tmp_path):
    folder = copy_without(bert_folders["uncased"], tmp_path / "bert", "tokenizer_config.json")
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizer",
            "mask_token": {"content": "[MASK]", "lstrip": False},
        },
    )
    assert load_huggingface_tokenizer(folder).mask_id == 103


def test_rejects_what_it_cannot_read(tmp_path, bert_folders):
    with pytest.raises(ValueError, match=r"Received: path="):
        load_huggingface_tokenizer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"Received: path="):
        load_huggingface_tokenizer(tmp_path / "empty")
    write_json(tmp_path / "empty" / "tokenizer_config.json", {"tokenizer_class": "T5Tokenizer"})
    with pytest.raises(ValueError, match=r"tokenizer_class='T5Tokenizer'"):
        load_huggingface_tokenizer(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"Received: side='decoder'"):
        load_huggingface_tokenizer(bert_folders["uncased"], side="decoder")


def test_scalars_and_empty_batches(bert_folders, gpt2_folder, marian_folder):
    import tensorflow as tf

    for folder in (bert_folders["uncased"], gpt2_folder, marian_folder):
        tokenizer = load_huggingface_tokenizer(folder)
        assert tokenizer.tokenize(tf.constant([], tf.string)).to_list() == []
        assert tokenizer.encode(tf.constant([], tf.string), 4).shape == (0, 4)
        scalar = tokenizer.tokenize("A dog.")
        assert scalar.shape.rank == 1
        assert scalar.numpy().tolist() == tokenizer.tokenize(["A dog."]).to_list()[0]
        assert tokenizer.detokenize(tf.zeros([0, 3], tf.int32)).shape == (0,)
        assert tokenizer.detokenize(scalar).numpy().decode() in ("A dog.", "a dog.")
