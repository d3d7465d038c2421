import doctest

import keras
import pytest

from transformer_keras.text import (
    ByteTokenizer,
    CharTokenizer,
    SubwordTokenizer,
    WordTokenizer,
    get_tokenizer,
    train_tokenizer,
)

pytestmark = pytest.mark.tf_only


def test_get_tokenizer_by_kind_with_constructor_arguments():
    assert isinstance(get_tokenizer("byte"), ByteTokenizer)
    char = get_tokenizer("char", vocabulary=["x", "y"])
    assert isinstance(char, CharTokenizer)
    assert char("yx").numpy().tolist() == [5, 4]


def test_get_tokenizer_from_a_config_or_an_instance():
    word = WordTokenizer(vocabulary=["cat"])
    restored = get_tokenizer(keras.saving.serialize_keras_object(word))
    assert isinstance(restored, WordTokenizer)
    assert restored.vocabulary == ["cat"]
    assert get_tokenizer(word) is word


def test_get_tokenizer_rejects_unknown_kinds_and_configs():
    with pytest.raises(ValueError, match=r"Received: name='bpe'"):
        get_tokenizer("bpe")
    dense = keras.saving.serialize_keras_object(keras.layers.Dense(2))
    with pytest.raises(ValueError, match=r"Received: name="):
        get_tokenizer(dense)


@pytest.mark.parametrize(
    "kind, kwargs, cls, vocabulary_size",
    [
        ("byte", {}, ByteTokenizer, 260),
        ("char", {"vocabulary_size": 10}, CharTokenizer, 10),
        ("word", {"vocabulary_size": 10}, WordTokenizer, 10),
        ("subword", {"vocabulary_size": 200, "model_type": "bpe"}, SubwordTokenizer, 200),
    ],
)
def test_train_tokenizer_by_kind(english_lines, kind, kwargs, cls, vocabulary_size):
    tokenizer = train_tokenizer(kind, english_lines, **kwargs)
    assert type(tokenizer) is cls
    assert tokenizer.vocabulary_size == vocabulary_size


def test_train_tokenizer_defaults(english_lines):
    assert train_tokenizer("char", english_lines).vocabulary_size > 40
    word = train_tokenizer("word", english_lines)
    assert word.vocabulary_size == len(set(word.vocabulary)) + 4 < 20_000


def test_train_tokenizer_rejects_bad_arguments(english_lines):
    with pytest.raises(ValueError, match=r"Received: kind='words'"):
        train_tokenizer("words", english_lines)
    with pytest.raises(ValueError, match=r"Received: vocabulary_size=100"):
        train_tokenizer("byte", english_lines, vocabulary_size=100)


def test_docstring_examples_run():
    from transformer_keras.text import factory

    for module in (factory,):
        assert doctest.testmod(module).failed == 0
