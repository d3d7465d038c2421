import json
import random

import keras
import pytest
import tensorflow as tf

from tests.text.pretrained.conftest import END_OF_TEXT, huggingface_ids, mismatches, our_ids
from transformer_keras.text import BytePairTokenizer, load_huggingface_tokenizer
from transformer_keras.text.pretrained.byte_pair_tokenizer import byte_alphabet

pytestmark = pytest.mark.tf_only
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ours(gpt2_folder):
    return load_huggingface_tokenizer(gpt2_folder)


@pytest.fixture(scope="module")
def theirs(gpt2_folder):
    return transformers.GPT2TokenizerFast.from_pretrained(str(gpt2_folder))


def decoded(tokenizer, ids):
    return [text.decode("utf-8") for text in tokenizer.detokenize(ids).numpy()]


def test_ids_equal_hugging_face(ours, theirs, texts):
    assert len(texts) >= 1000
    count, examples = mismatches(texts, our_ids(ours, texts), huggingface_ids(theirs, texts))
    assert count == 0, examples


def test_whitespace_before_words_as_the_look_ahead_splits_it(ours, theirs):
    texts = ["a  b", "a \u2003's", "a\n\n b", "a \t b", "end  ", "\u3000\u3000x", " 's 't"]
    assert our_ids(ours, texts) == huggingface_ids(theirs, texts)
    assert ours.tokenize(["a  b"]).to_list()[0][1] == ours.token_to_id("Ġ")


def test_add_prefix_space_equals_hugging_face(gpt2_folder, texts):
    theirs = transformers.GPT2TokenizerFast.from_pretrained(
        str(gpt2_folder), add_prefix_space=True
    )
    ours = BytePairTokenizer.from_config(
        {**load_huggingface_tokenizer(gpt2_folder).get_config(), "add_prefix_space": True}
    )
    sample = texts[:600]
    count, examples = mismatches(sample, our_ids(ours, sample), huggingface_ids(theirs, sample))
    assert count == 0, examples


def test_end_of_text_is_every_special_id(ours, theirs):
    assert ours.end_id == ours.start_id == ours.pad_id == ours.unknown_id == theirs.eos_token_id
    assert ours.end_id == ours.vocabulary_size - 1 == len(theirs) - 1
    assert our_ids(ours, [END_OF_TEXT]) == [[ours.end_id]]


def test_round_trip_is_exact_and_equals_hugging_face_decode(ours, theirs, texts):
    plain = [text for text in texts if END_OF_TEXT not in text]
    ids = our_ids(ours, plain)
    assert decoded(ours, tf.ragged.constant(ids, tf.int32)) == plain
    assert [theirs.decode(i) for i in ids] == plain


def test_decoding_ids_cut_inside_characters_equals_hugging_face(ours, theirs):
    """Random id sequences split multi-byte characters: U+FFFD as in Hugging Face."""
    generator = random.Random(0)
    ids = [
        [generator.randrange(ours.vocabulary_size - 1) for _ in range(generator.randint(0, 12))]
        for _ in range(500)
    ]
    expected = [theirs.decode(i, skip_special_tokens=True) for i in ids]
    assert decoded(ours, tf.ragged.constant(ids, tf.int32)) == expected
    assert any("\ufffd" in text for text in expected)


def test_detokenize_skips_the_opening_end_of_text_and_stops_at_the_next(ours):
    a, b = ours.token_to_id("a"), ours.token_to_id("b")
    eot = ours.end_id
    rows = [[eot, a, b, eot, eot], [a, eot, b], [eot, eot, a], [a, ours.vocabulary_size + 5]]
    assert decoded(ours, tf.ragged.constant(rows, tf.int32)) == ["ab", "a", "a", "a\ufffd"]


def test_encode_pads_with_end_of_text(ours):
    a = ours.token_to_id("a")
    encoded = ours.encode(["a", ""], 4, add_start=True, add_end=True).numpy().tolist()
    eot = ours.end_id
    assert encoded == [[eot, a, eot, eot], [eot, eot, eot, eot]]
    assert decoded(ours, encoded) == ["a", ""]


def test_loads_a_folder_saved_by_transformers(theirs, tmp_path, texts):
    """`save_pretrained` of transformers 5 writes tokenizer.json only (no vocab.json)."""
    theirs.save_pretrained(str(tmp_path))
    assert not (tmp_path / "merges.txt").exists()
    ours = load_huggingface_tokenizer(tmp_path)
    sample = texts[:400]
    assert our_ids(ours, sample) == huggingface_ids(theirs, sample)


def test_runs_in_tf_data(ours, texts):
    sample = [text for text in texts[:64]]
    expected = ours.encode(sample, 48, add_end=True).numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(sample).batch(16)
    dataset = dataset.map(lambda batch: ours.encode(batch, 48, add_end=True))
    assert [row.tolist() for batch in dataset for row in batch.numpy()] == expected


def test_config_holds_everything(ours, tmp_path, texts):
    config = json.loads(json.dumps(ours.get_config()))
    rebuilt = BytePairTokenizer.from_config(config)
    sample = texts[:200]
    assert our_ids(rebuilt, sample) == our_ids(ours, sample)
    path = tmp_path / "bpe.keras"
    keras.saving.save_model(ours, path)
    assert our_ids(keras.saving.load_model(path), sample) == our_ids(ours, sample)


def test_a_vocabulary_without_some_bytes_drops_them_as_hugging_face():
    tokenizers = pytest.importorskip("tokenizers")
    alphabet = byte_alphabet()
    vocabulary = {c: i for i, c in enumerate(alphabet) if c not in ("b", "Ġ")}
    vocabulary[END_OF_TEXT] = 256
    ours = BytePairTokenizer(vocabulary, [])
    reference = tokenizers.Tokenizer(tokenizers.models.BPE(vocabulary, []))
    reference.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    texts = ["abc", "a b c", "bbb"]
    assert our_ids(ours, texts) == [reference.encode(text).ids for text in texts]


def test_repeated_pairs_merge_left_to_right():
    alphabet = byte_alphabet()
    vocabulary = {c: i for i, c in enumerate(alphabet)}
    vocabulary.update({"aa": 256, "aaa": 257, END_OF_TEXT: 258})
    ours = BytePairTokenizer(vocabulary, ["a a", "aa a"])
    # "aaaaa": a a -> aa (twice, left to right), then aa a -> aaa: [aa, aaa]
    assert our_ids(ours, ["aaaaa", "aaa", "aa"]) == [[256, 257], [257], [256]]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"vocabulary": {"a": -1}}, "vocabulary"),
        ({"vocabulary": {"a": 0, "b": 0}}, "vocabulary"),
        ({"merges": ["a"]}, "merges"),
        ({"merges": ["a b"]}, "merges"),  # "ab" is not in the vocabulary
        ({"end_token": "<eos>"}, "end_token"),
        ({"special_tokens": ["<x>"]}, "special_tokens"),
        ({"add_prefix_space": "no"}, "add_prefix_space"),
    ],
)
def test_rejects_bad_arguments(kwargs, name):
    vocabulary = {c: i for i, c in enumerate(byte_alphabet())}
    vocabulary[END_OF_TEXT] = 256
    with pytest.raises(ValueError, match=rf"Received: {name}"):
        BytePairTokenizer(**{"vocabulary": vocabulary, "merges": [], **kwargs})
