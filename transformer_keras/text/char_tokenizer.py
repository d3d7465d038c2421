"""Character-level tokenizer with a vocabulary learned from a corpus."""

import keras
import tensorflow as tf

from transformer_keras.text.base import (
    NUM_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    UNKNOWN_TEXT,
    Tokenizer,
)
from transformer_keras.text.corpus import text_batches
from transformer_keras.utils.validation import check_positive_int

_PAD_TOKEN, _UNKNOWN_TOKEN, _START_TOKEN, _END_TOKEN = SPECIAL_TOKENS


@keras.saving.register_keras_serializable(package="transformer_keras")
class CharTokenizer(Tokenizer):
    """Unicode characters as tokens, looked up with a `keras.layers.StringLookup`.

    Ids: 0 pad, 1 unknown, 2 start, 3 end, then the characters of `vocabulary`
    from id 4 (`vocabulary_size == len(vocabulary) + 4`). Characters outside the
    vocabulary map to the unknown id; invalid UTF-8 bytes become U+FFFD first.
    `detokenize` renders the unknown id as U+FFFD. The vocabulary is small, so it
    lives in the config (and hence in `.keras` files).

    Args:
        vocabulary: list of distinct one-character strings, e.g. from
            `CharTokenizer.train(texts)`.
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> tokenizer = CharTokenizer.train(["hello world"])
    >>> tokenizer.vocabulary_size
    12
    >>> ids = tokenizer(["hold", "hi!"])
    >>> tokenizer.detokenize(ids).numpy().tolist()
    [b'hold', b'h\\xef\\xbf\\xbd\\xef\\xbf\\xbd']
    """

    def __init__(self, vocabulary, **kwargs):
        super().__init__(**kwargs)
        _check_vocabulary(vocabulary)
        self.vocabulary = list(vocabulary)
        self._token_to_id = {char: i + NUM_SPECIAL_TOKENS for i, char in enumerate(vocabulary)}
        # StringLookup puts its mask token ("") at 0 and its OOV token at 1; our start
        # and end tokens follow as ordinary entries, so they get ids 2 and 3.
        self.lookup = keras.layers.StringLookup(
            vocabulary=[_START_TOKEN, _END_TOKEN, *self.vocabulary],
            mask_token="",
            oov_token=_UNKNOWN_TOKEN,
            num_oov_indices=1,
            name="lookup",
        )

    @classmethod
    def train(cls, texts_or_dataset, max_vocabulary_size=None, **kwargs):
        """Learns the characters of a corpus, most frequent first.

        Characters a text does not contain are not learned: pass whole documents
        (e.g. `[path.read_text()]`, 65 characters for Tiny Shakespeare) rather than
        `tf.data.TextLineDataset` lines, which drop the newline character.

        Args:
            texts_or_dataset: texts (list, array, tensor) or a `tf.data.Dataset`
                of `tf.string` scalars or batches.
            max_vocabulary_size: cap on `vocabulary_size` (special tokens
                included); `None` keeps every character seen.
            **kwargs: passed to the constructor (`name`, ...).

        Returns:
            A `CharTokenizer`.
        """
        max_tokens = None
        if max_vocabulary_size is not None:
            check_positive_int("max_vocabulary_size", max_vocabulary_size)
            if max_vocabulary_size <= NUM_SPECIAL_TOKENS:
                raise ValueError(
                    f"`max_vocabulary_size` must exceed the {NUM_SPECIAL_TOKENS} special "
                    f"tokens. Received: max_vocabulary_size={max_vocabulary_size}"
                )
            max_tokens = max_vocabulary_size - NUM_SPECIAL_TOKENS + 2  # + mask and OOV
        counter = keras.layers.StringLookup(max_tokens=max_tokens, mask_token="")
        counter.adapt(text_batches(texts_or_dataset).map(_split_characters))
        characters = [
            str(char) for char in counter.get_vocabulary(include_special_tokens=False)
        ]
        if not characters:
            raise ValueError(
                "`texts_or_dataset` holds no characters to learn. "
                f"Received: texts_or_dataset={texts_or_dataset!r:.80}"
            )
        return cls(vocabulary=characters, **kwargs)

    def _tokenize(self, texts):
        return tf.cast(self.lookup(_split_characters(texts)), tf.int32)  # (B, None)

    def _detokenize(self, ids):
        id_to_text = ["", UNKNOWN_TEXT, "", ""] + self.vocabulary
        characters = tf.gather(tf.constant(id_to_text), ids)  # (B, None)
        return tf.strings.reduce_join(characters, axis=-1)  # (B,)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary) + NUM_SPECIAL_TOKENS

    def id_to_token(self, id):
        self._check_id(id)
        if id < NUM_SPECIAL_TOKENS:
            return SPECIAL_TOKENS[id]
        return self.vocabulary[id - NUM_SPECIAL_TOKENS]

    def token_to_id(self, token):
        if token in SPECIAL_TOKENS:
            return SPECIAL_TOKENS.index(token)
        if token not in self._token_to_id:
            raise ValueError(f"`token` is not in the vocabulary. Received: token={token!r}")
        return self._token_to_id[token]

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary}


def _split_characters(texts):
    """`(B,)` texts -> `(B, None)` one-character strings; invalid UTF-8 -> U+FFFD."""
    return tf.strings.unicode_split(texts, "UTF-8", errors="replace")


def _check_vocabulary(vocabulary):
    if (
        isinstance(vocabulary, str)
        or not isinstance(vocabulary, list | tuple)
        or not vocabulary
        or not all(isinstance(char, str) and len(char) == 1 for char in vocabulary)
    ):
        raise ValueError(
            "`vocabulary` must be a non-empty list of one-character strings. "
            f"Received: vocabulary={vocabulary!r:.80}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(
            f"`vocabulary` must not repeat characters. Received: vocabulary={vocabulary!r:.80}"
        )
