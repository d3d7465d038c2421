"""Word-level tokenizer: `keras.layers.TextVectorization` with a learned vocabulary."""

import keras
import tensorflow as tf

from transformer_keras.text.base import (
    NUM_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    UNKNOWN_TEXT,
    Tokenizer,
    check_bool,
)
from transformer_keras.text.corpus import text_batches
from transformer_keras.text.utf8 import valid_utf8
from transformer_keras.utils.validation import check_positive_int

_PAD_TOKEN, _UNKNOWN_TOKEN, _START_TOKEN, _END_TOKEN = SPECIAL_TOKENS

# Keras' own rule strips ASCII punctuation only and lowercases ASCII only; these are the
# Unicode-aware equivalents (all punctuation, plus the ASCII symbols Keras strips).
_PUNCTUATION = r"[\p{P}$+<=>^`|~]"
_UNICODE_SPACE = r"\p{Z}"


@keras.saving.register_keras_serializable(package="transformer_keras")
class WordTokenizer(Tokenizer):
    """Lowercased words without punctuation, split on whitespace, as tokens.

    Texts are standardized (invalid UTF-8 -> U+FFFD, Unicode lowercase, Unicode
    punctuation removed, any Unicode space treated as a space) and then split and
    looked up by a `keras.layers.TextVectorization`. Ids: 0 pad, 1 unknown,
    2 start, 3 end, then the words of `vocabulary` from id 4. Words outside the
    vocabulary map to the unknown id, which `detokenize` renders as U+FFFD;
    `detokenize` joins words with single spaces, so a round trip gives the
    standardized text. The vocabulary (a list of words) lives in the config.

    Args:
        vocabulary: list of distinct words, e.g. from `WordTokenizer.train`.
        lowercase: lowercase texts before splitting.
        strip_punctuation: remove punctuation before splitting.
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> tokenizer = WordTokenizer.train(["The cat sat.", "The dog sat!"], 100)
    >>> tokenizer.vocabulary
    ['the', 'sat', 'dog', 'cat']
    >>> ids = tokenizer(["The DOG sat on the cat."])
    >>> ids.to_list()
    [[4, 6, 5, 1, 4, 7]]
    >>> tokenizer.detokenize(ids).numpy()[0].decode("utf-8")
    'the dog sat \\ufffd the cat'
    """

    def __init__(self, vocabulary, lowercase=True, strip_punctuation=True, **kwargs):
        super().__init__(**kwargs)
        _check_vocabulary(vocabulary)
        check_bool("lowercase", lowercase)
        check_bool("strip_punctuation", strip_punctuation)
        self.vocabulary = list(vocabulary)
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self._token_to_id = {word: i + NUM_SPECIAL_TOKENS for i, word in enumerate(vocabulary)}
        # TextVectorization puts its mask token ("") at 0 and its OOV token at 1; our
        # start and end tokens follow as ordinary entries, so they get ids 2 and 3.
        self.vectorization = keras.layers.TextVectorization(
            standardize=None,
            split="whitespace",
            output_mode="int",
            ragged=True,
            vocabulary=[_START_TOKEN, _END_TOKEN, *self.vocabulary],
            name="vectorization",
        )

    @classmethod
    def train(
        cls,
        texts_or_dataset,
        max_vocabulary_size,
        lowercase=True,
        strip_punctuation=True,
        **kwargs,
    ):
        """Learns the most frequent words of a corpus (`TextVectorization.adapt`).

        Args:
            texts_or_dataset: texts (list, array, tensor) or a `tf.data.Dataset`
                of `tf.string` scalars or batches.
            max_vocabulary_size: cap on `vocabulary_size`, special tokens included.
            lowercase: see the class arguments.
            strip_punctuation: see the class arguments.
            **kwargs: passed to the constructor (`name`, ...).

        Returns:
            A `WordTokenizer`.
        """
        check_positive_int("max_vocabulary_size", max_vocabulary_size)
        if max_vocabulary_size <= NUM_SPECIAL_TOKENS:
            raise ValueError(
                f"`max_vocabulary_size` must exceed the {NUM_SPECIAL_TOKENS} special tokens. "
                f"Received: max_vocabulary_size={max_vocabulary_size}"
            )
        check_bool("lowercase", lowercase)
        check_bool("strip_punctuation", strip_punctuation)
        counter = keras.layers.TextVectorization(
            max_tokens=max_vocabulary_size - NUM_SPECIAL_TOKENS + 2,  # + mask and OOV
            standardize=None,
            split="whitespace",
        )
        counter.adapt(
            text_batches(texts_or_dataset).map(
                lambda texts: _standardize(texts, lowercase, strip_punctuation)
            )
        )
        words = [str(word) for word in counter.get_vocabulary(include_special_tokens=False)]
        if not words:
            raise ValueError(
                "`texts_or_dataset` holds no words to learn. "
                f"Received: texts_or_dataset={texts_or_dataset!r:.80}"
            )
        return cls(
            vocabulary=words, lowercase=lowercase, strip_punctuation=strip_punctuation, **kwargs
        )

    def _tokenize(self, texts):
        texts = _standardize(texts, self.lowercase, self.strip_punctuation)
        return tf.cast(self.vectorization(texts), tf.int32)  # (B, None)

    def _detokenize(self, ids):
        id_to_text = ["", UNKNOWN_TEXT, "", ""] + self.vocabulary
        words = tf.gather(tf.constant(id_to_text), ids)  # (B, None)
        return tf.strings.reduce_join(words, axis=-1, separator=" ")  # (B,)

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
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
            "strip_punctuation": self.strip_punctuation,
        }


def _standardize(texts, lowercase, strip_punctuation):
    """`(B,)` texts -> `(B,)` valid UTF-8, lowercased and without punctuation."""
    texts = valid_utf8(texts)
    texts = tf.strings.regex_replace(texts, _UNICODE_SPACE, " ")
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if strip_punctuation:
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, "")
    return texts


def _check_vocabulary(vocabulary):
    if (
        isinstance(vocabulary, str)
        or not isinstance(vocabulary, list | tuple)
        or not vocabulary
        or not all(_is_word(word) for word in vocabulary)
    ):
        raise ValueError(
            "`vocabulary` must be a non-empty list of words without spaces. "
            f"Received: vocabulary={vocabulary!r:.80}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(
            f"`vocabulary` must not repeat words. Received: vocabulary={vocabulary!r:.80}"
        )


def _is_word(word):
    return isinstance(word, str) and word != "" and not any(char.isspace() for char in word)
