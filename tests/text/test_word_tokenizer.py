import doctest
import unicodedata

import pytest
import tensorflow as tf

from transformer_keras.text import WordTokenizer

pytestmark = pytest.mark.tf_only


def standardized(text):
    """What a word round trip should give, written with Python's own Unicode tables."""
    kept = [
        char
        for char in text.lower()
        if not unicodedata.category(char).startswith("P") and char not in "$+<=>^`|~"
    ]
    return " ".join("".join(kept).split())


def test_round_trip_gives_lowercased_words_without_punctuation(english_lines, german_lines):
    texts = english_lines + german_lines
    tokenizer = WordTokenizer.train(texts, max_vocabulary_size=100_000)
    decoded = tokenizer.detokenize(tokenizer(texts)).numpy()
    assert [text.decode("utf-8") for text in decoded] == [standardized(t) for t in texts]


def test_standardization_is_unicode_aware():
    tokenizer = WordTokenizer(vocabulary=["äpfel", "hallo", "qué", "its", "x"])
    ids = tokenizer("ÄPFEL «Hallo» ¿Qué? It's\u00a0x")
    assert ids.numpy().tolist() == [4, 5, 6, 7, 8]


def test_unknown_words_and_invalid_utf8_become_the_unknown_id():
    tokenizer = WordTokenizer(vocabulary=["cat", "unk", "start"])
    unknown = tokenizer.unknown_id
    ids = tokenizer(tf.constant(["cat dog", b"\xff cat", "[UNK] [START]"]))
    assert ids.to_list() == [[4, unknown], [unknown, 4], [5, 6]]
    assert tokenizer.detokenize(ids[:1]).numpy().tolist() == ["cat \ufffd".encode()]


def test_standardization_can_be_turned_off():
    tokenizer = WordTokenizer(
        vocabulary=["Cat", "cat."], lowercase=False, strip_punctuation=False
    )
    assert tokenizer("Cat cat. cat").numpy().tolist() == [4, 5, tokenizer.unknown_id]
    assert tokenizer.get_config()["lowercase"] is False


def test_train_keeps_the_most_frequent_words():
    tokenizer = WordTokenizer.train(["b a a", "a b c. A!"], max_vocabulary_size=6)
    assert tokenizer.vocabulary == ["a", "b"]
    assert tokenizer.vocabulary_size == 6


def test_train_accepts_datasets(english_lines):
    from_list = WordTokenizer.train(english_lines, 200).vocabulary
    dataset = tf.data.Dataset.from_tensor_slices(english_lines)
    assert WordTokenizer.train(dataset, 200).vocabulary == from_list
    assert WordTokenizer.train(dataset.batch(64), 200).vocabulary == from_list


@pytest.mark.parametrize("vocabulary", ["cat", [], ["a b"], [""], ["a", "a"], [3]], ids=repr)
def test_rejects_bad_vocabularies(vocabulary):
    with pytest.raises(ValueError, match=r"Received: vocabulary="):
        WordTokenizer(vocabulary=vocabulary)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"Received: lowercase="):
        WordTokenizer(vocabulary=["a"], lowercase="yes")
    with pytest.raises(ValueError, match=r"Received: max_vocabulary_size="):
        WordTokenizer.train(["a b"], max_vocabulary_size=4)
    with pytest.raises(ValueError, match=r"Received: texts_or_dataset="):
        WordTokenizer.train(["...", "  "], max_vocabulary_size=10)


def test_docstring_examples_run():
    from transformer_keras.text import word_tokenizer

    for module in (word_tokenizer,):
        assert doctest.testmod(module).failed == 0
