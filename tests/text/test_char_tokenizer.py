import doctest

import pytest
import tensorflow as tf

from transformer_keras.text import CharTokenizer

pytestmark = pytest.mark.tf_only


def test_round_trip_is_exact_on_seen_characters(english_lines, german_lines):
    texts = english_lines + german_lines
    tokenizer = CharTokenizer.train(texts)
    decoded = tokenizer.detokenize(tokenizer(texts)).numpy()
    assert [text.decode("utf-8") for text in decoded] == texts


def test_one_id_per_character_after_the_special_ids():
    tokenizer = CharTokenizer(vocabulary=["a", "ß", "😀"])
    assert tokenizer.vocabulary_size == 7
    assert tokenizer("😀aß").numpy().tolist() == [6, 4, 5]
    assert tokenizer.id_to_token(5) == "ß"
    assert tokenizer.token_to_id("😀") == 6
    assert [tokenizer.id_to_token(i) for i in range(4)] == [
        "[PAD]",
        "[UNK]",
        "[START]",
        "[END]",
    ]


def test_unseen_and_invalid_characters_become_the_unknown_id():
    tokenizer = CharTokenizer(vocabulary=["a", "b"])
    unknown = tokenizer.unknown_id
    ids = tokenizer(tf.constant(["abz", b"a\xffb", "[START]"]))
    assert ids.to_list() == [[4, 5, unknown], [4, unknown, 5], [unknown] * 7]
    assert tokenizer.detokenize(ids[:2]).numpy().tolist() == [
        "ab\ufffd".encode(),
        "a\ufffdb".encode(),
    ]


def test_train_orders_by_frequency_and_caps_the_vocabulary():
    tokenizer = CharTokenizer.train(["aaab", "ab c"], max_vocabulary_size=6)
    assert tokenizer.vocabulary == ["a", "b"]
    assert tokenizer.vocabulary_size == 6


def test_train_accepts_datasets_of_scalars_and_batches(english_lines):
    from_list = CharTokenizer.train(english_lines).vocabulary
    scalars = tf.data.Dataset.from_tensor_slices(english_lines)
    assert CharTokenizer.train(scalars).vocabulary == from_list
    assert CharTokenizer.train(scalars.batch(7)).vocabulary == from_list
    assert CharTokenizer.train(iter(english_lines)).vocabulary == from_list


def test_tiny_shakespeare_has_65_characters(tiny_shakespeare):
    tokenizer = CharTokenizer.train([tiny_shakespeare])
    assert len(tokenizer.vocabulary) == 65
    assert tokenizer.vocabulary_size == 69


@pytest.mark.parametrize("vocabulary", ["abc", [], ["ab"], ["a", "a"], [1, 2], None], ids=repr)
def test_rejects_bad_vocabularies(vocabulary):
    with pytest.raises(ValueError, match=r"Received: vocabulary="):
        CharTokenizer(vocabulary=vocabulary)


@pytest.mark.parametrize("bad", [0, 4, 2.5])
def test_train_rejects_bad_vocabulary_sizes(bad):
    with pytest.raises(ValueError, match=r"Received: max_vocabulary_size="):
        CharTokenizer.train(["abc"], max_vocabulary_size=bad)


@pytest.mark.parametrize("texts", ["just one string", [1, 2, 3], [""]], ids=repr)
def test_train_rejects_bad_corpora(texts):
    with pytest.raises(ValueError, match=r"Received: texts_or_dataset"):
        CharTokenizer.train(texts)


def test_train_rejects_datasets_of_non_strings():
    with pytest.raises(ValueError, match=r"Received: texts_or_dataset with element_spec="):
        CharTokenizer.train(tf.data.Dataset.range(3))


def test_docstring_examples_run():
    from transformer_keras.text import char_tokenizer

    for module in (char_tokenizer,):
        assert doctest.testmod(module).failed == 0
