"""Tokenizers by name, for the CLI and configs: `get_tokenizer` and `train_tokenizer`."""

import keras

from transformer_keras.text.base import Tokenizer
from transformer_keras.text.byte_tokenizer import ByteTokenizer
from transformer_keras.text.char_tokenizer import CharTokenizer
from transformer_keras.text.subword_tokenizer import SubwordTokenizer
from transformer_keras.text.word_tokenizer import WordTokenizer
from transformer_keras.utils.validation import check_choice

TOKENIZER_CLASSES = {
    "byte": ByteTokenizer,
    "char": CharTokenizer,
    "word": WordTokenizer,
    "subword": SubwordTokenizer,
}
# Used by `train_tokenizer` when no `vocabulary_size` is given; None means "all seen".
DEFAULT_VOCABULARY_SIZES = {"byte": None, "char": None, "word": 20_000, "subword": 8_000}


def get_tokenizer(name, **kwargs):
    """A tokenizer from a kind name, a serialized config, or a tokenizer (returned as is).

    Args:
        name: `"byte"`, `"char"`, `"word"` or `"subword"`; a dict made by
            `keras.saving.serialize_keras_object(tokenizer)`; or a `Tokenizer`.
        **kwargs: constructor arguments for a kind name, e.g.
            `get_tokenizer("char", vocabulary=[...])` or
            `get_tokenizer("subword", proto="spm.model")`.

    Returns:
        A `Tokenizer`.

    Example:
    >>> get_tokenizer("byte").vocabulary_size
    260
    >>> get_tokenizer("char", vocabulary=["a", "b"])("ab").numpy().tolist()
    [4, 5]
    """
    if isinstance(name, Tokenizer):
        return name
    if isinstance(name, dict):
        tokenizer = keras.saving.deserialize_keras_object(name)
        if not isinstance(tokenizer, Tokenizer):
            raise ValueError(f"`name` must describe a Tokenizer. Received: name={name!r:.80}")
        return tokenizer
    check_choice("name", name, TOKENIZER_CLASSES)
    return TOKENIZER_CLASSES[name](**kwargs)


def train_tokenizer(kind, texts, vocabulary_size=None, **kwargs):
    """Learns a tokenizer of the given kind from texts (a byte tokenizer learns nothing).

    Args:
        kind: `"byte"`, `"char"`, `"word"` or `"subword"`.
        texts: texts (list, array, tensor) or a `tf.data.Dataset` of `tf.string`
            scalars or batches.
        vocabulary_size: cap on the number of ids, special tokens included;
            defaults to every character (`"char"`), 20,000 (`"word"`) or 8,000
            (`"subword"`). Must be None or 260 for `"byte"`.
        **kwargs: further arguments of the kind's `train` (e.g. `model_type`
            for `"subword"`) and its constructor (e.g. `name`).

    Returns:
        A `Tokenizer`.

    Example:
    >>> tokenizer = train_tokenizer("word", ["a cat", "a dog"], vocabulary_size=10)
    >>> tokenizer.vocabulary_size
    7
    """
    check_choice("kind", kind, TOKENIZER_CLASSES)
    if vocabulary_size is None:
        vocabulary_size = DEFAULT_VOCABULARY_SIZES[kind]
    if kind == "byte":
        tokenizer = ByteTokenizer(**kwargs)
        if vocabulary_size not in (None, tokenizer.vocabulary_size):
            raise ValueError(
                f"A byte tokenizer always has {tokenizer.vocabulary_size} ids. "
                f"Received: vocabulary_size={vocabulary_size!r}"
            )
        return tokenizer
    if kind == "subword":
        return SubwordTokenizer.train(texts, vocabulary_size=vocabulary_size, **kwargs)
    return TOKENIZER_CLASSES[kind].train(texts, max_vocabulary_size=vocabulary_size, **kwargs)
