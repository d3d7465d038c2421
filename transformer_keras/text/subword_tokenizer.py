"""Learned subword tokenizer: SentencePiece, trained in memory, run in-graph by tensorflow-text.

The serialized SentencePiece model travels with the layer: base64-encoded in its
config (hence in `.keras` files, complete after `from_config` alone) and, through
tensorflow-text's tracked model resource, inside exported SavedModels (reload them
after `import tensorflow_text`).
"""

import base64
import binascii
import hashlib
import io
import os
import pathlib

import keras
import sentencepiece
import tensorflow as tf
import tensorflow_text
from tensorflow_text.python.ops.sentencepiece_tokenizer import gen_sentencepiece_tokenizer

from transformer_keras.text.base import (
    END_ID,
    NUM_SPECIAL_TOKENS,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNKNOWN_ID,
    UNKNOWN_TEXT,
    Tokenizer,
)
from transformer_keras.text.corpus import python_texts
from transformer_keras.text.utf8 import valid_utf8
from transformer_keras.utils.validation import check_choice, check_positive_int

MODEL_TYPES = ("unigram", "bpe")
# SentencePiece skips longer training sentences; 64 KiB keeps whole IMDB reviews.
_MAX_SENTENCE_BYTES = 1 << 16
_MIN_SAMPLE = 100  # SentencePiece rejects `input_sentence_size` in [1, 100]


@keras.saving.register_keras_serializable(package="transformer_keras")
class SubwordTokenizer(Tokenizer):
    """Subword pieces from a SentencePiece model, tokenized in-graph by tensorflow-text.

    Models trained by `SubwordTokenizer.train` use the package's id layout (0 pad,
    1 unknown, 2 start, 3 end), identity normalization and keep repeated spaces, so
    `detokenize(tokenize(text)) == text` for any text whose characters were seen
    in training, except that leading whitespace is dropped (SentencePiece's
    dummy prefix). Unseen characters map to the unknown id; `detokenize` renders
    it as U+FFFD. Invalid UTF-8 bytes become U+FFFD first. Any SentencePiece
    model with `pad_id=0` and distinct unknown/start/end ids is accepted; the
    special-id properties read its ids.

    `get_config()` holds the model base64-encoded (about 0.2 MB for 8,000
    pieces), so `from_config` alone rebuilds a working tokenizer, as for the
    other tokenizers, and models that read `vocabulary_size` while being
    deserialized work.

    Args:
        proto: the serialized SentencePiece model (`bytes`) or the path of a
            `.model` file.
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> texts = ["a cat sat on a mat", "a dog sat on a log"] * 20
    >>> tokenizer = SubwordTokenizer.train(texts, vocabulary_size=30)
    >>> ids = tokenizer(["a cat sat on a log"])
    >>> tokenizer.detokenize(ids).numpy().tolist()
    [b'a cat sat on a log']
    """

    def __init__(self, proto, **kwargs):
        super().__init__(**kwargs)
        if isinstance(proto, str | pathlib.Path):
            with open(proto, "rb") as file:
                proto = file.read()
        if not isinstance(proto, bytes):
            raise ValueError(
                "`proto` must be a serialized SentencePiece model (bytes) or a file path. "
                f"Received: proto={proto!r:.80}"
            )
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.LoadFromSerializedProto(proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(
                f"`proto` is not a SentencePiece model ({error}). Received: proto={proto!r:.80}"
            ) from None
        _check_special_ids(self._processor)
        self.proto = proto
        self._sentencepiece = sentencepiece_op_tokenizer(proto, out_type=tf.int32)

    @classmethod
    def train(
        cls,
        texts_or_dataset,
        vocabulary_size,
        model_type="unigram",
        character_coverage=1.0,
        max_sentences=1_000_000,
        **kwargs,
    ):
        """Trains a SentencePiece model in memory (seconds for 30k sentences).

        For a joint vocabulary of two languages, pass the texts of both.
        `vocabulary_size` is an upper bound: a small corpus may give fewer pieces.

        Args:
            texts_or_dataset: texts (list, array, tensor) or a `tf.data.Dataset`
                of `tf.string` scalars or batches; one sentence per text.
            vocabulary_size: wanted number of ids, special tokens included.
            model_type: `"unigram"` (default) or `"bpe"`.
            character_coverage: share of characters the vocabulary must cover;
                1.0 keeps every character (right for small alphabets), 0.9995 is
                usual for Chinese or Japanese.
            max_sentences: SentencePiece trains on a random sample of at most
                this many sentences (more than 100).
            **kwargs: passed to the constructor (`name`, ...).

        Returns:
            A `SubwordTokenizer`.
        """
        check_positive_int("vocabulary_size", vocabulary_size)
        if vocabulary_size <= NUM_SPECIAL_TOKENS:
            raise ValueError(
                f"`vocabulary_size` must exceed the {NUM_SPECIAL_TOKENS} special tokens. "
                f"Received: vocabulary_size={vocabulary_size}"
            )
        check_choice("model_type", model_type, MODEL_TYPES)
        if isinstance(character_coverage, bool) or not 0 < character_coverage <= 1:
            raise ValueError(
                "`character_coverage` must be in (0, 1]. "
                f"Received: character_coverage={character_coverage!r}"
            )
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int):
            raise ValueError(
                f"`max_sentences` must be an integer. Received: max_sentences={max_sentences!r}"
            )
        if max_sentences <= _MIN_SAMPLE:
            raise ValueError(
                f"`max_sentences` must be more than {_MIN_SAMPLE} (SentencePiece's smallest "
                f"sample). Received: max_sentences={max_sentences}"
            )
        model = io.BytesIO()
        sentencepiece.set_random_generator_seed(0)  # same corpus, same model
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=python_texts(texts_or_dataset),
                model_writer=model,
                vocab_size=vocabulary_size,
                hard_vocab_limit=False,
                model_type=model_type,
                character_coverage=character_coverage,
                input_sentence_size=max_sentences,
                shuffle_input_sentence=True,
                max_sentence_length=_MAX_SENTENCE_BYTES,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                pad_id=PAD_ID,
                unk_id=UNKNOWN_ID,
                bos_id=START_ID,
                eos_id=END_ID,
                pad_piece=SPECIAL_TOKENS[PAD_ID],
                unk_piece=SPECIAL_TOKENS[UNKNOWN_ID],
                bos_piece=SPECIAL_TOKENS[START_ID],
                eos_piece=SPECIAL_TOKENS[END_ID],
                unk_surface=UNKNOWN_TEXT,
                num_threads=os.cpu_count() or 1,
                minloglevel=2,
            )
        except RuntimeError as error:
            raise ValueError(
                f"SentencePiece could not train on this corpus ({error}). "
                f"Received: vocabulary_size={vocabulary_size}"
            ) from None
        return cls(proto=model.getvalue(), **kwargs)

    # --- Tokenizer hooks ----------------------------------------------------------------

    def _tokenize(self, texts):
        texts = valid_utf8(texts)
        return self._sentencepiece.tokenize(texts)  # (B, None)

    def _detokenize(self, ids):
        return self._sentencepiece.detokenize(ids)  # (B,)

    @property
    def vocabulary_size(self):
        return self._processor.GetPieceSize()

    @property
    def unknown_id(self):
        return self._processor.unk_id()

    @property
    def start_id(self):
        return self._processor.bos_id()

    @property
    def end_id(self):
        return self._processor.eos_id()

    def id_to_token(self, id):
        self._check_id(id)
        return self._processor.IdToPiece(id)

    def token_to_id(self, token):
        token_id = (
            self._processor.PieceToId(token) if isinstance(token, str) else self.unknown_id
        )
        if token_id == self.unknown_id and token != self._processor.IdToPiece(token_id):
            raise ValueError(f"`token` is not in the vocabulary. Received: token={token!r}")
        return token_id

    def get_config(self):
        return {**super().get_config(), "proto": base64.b64encode(self.proto).decode("ascii")}

    @classmethod
    def from_config(cls, config):
        proto = config["proto"]
        if isinstance(proto, str):
            try:
                proto = base64.b64decode(proto, validate=True)
            except binascii.Error:
                pass  # not from `get_config`: a file path
        return cls(**{**config, "proto": proto})


def sentencepiece_op_tokenizer(proto, out_type):
    """tensorflow-text's `SentencepieceTokenizer` over a resource that outlives seeding.

    Args:
        proto: the serialized SentencePiece model (bytes).
        out_type: `tf.int32` for ids, `tf.string` for pieces.

    Returns:
        A `tensorflow_text.SentencepieceTokenizer`.
    """
    tokenizer = tensorflow_text.SentencepieceTokenizer(model=proto, out_type=out_type)
    tokenizer._model_resource = _SharedSentencepieceModel(proto)
    return tokenizer


class _SharedSentencepieceModel(tf.saved_model.experimental.TrackableResource):
    """tensorflow-text's SentencePiece model resource, registered under a shared name.

    tensorflow-text 2.21 creates the resource private to the eager op kernel, so
    `tf.random.set_seed` (also called by `keras.utils.set_random_seed`), which
    clears the eager kernel cache, deletes it and later calls fail with "Resource
    ... SentencepieceResource does not exist". A shared name (derived from the
    model bytes, so equal models share one resource) keeps it alive.
    """

    def __init__(self, proto):
        super().__init__()
        self._proto = proto
        self._shared_name = "sentencepiece_" + hashlib.sha256(proto).hexdigest()
        _ = self.resource_handle  # creates the resource now, as tensorflow-text does

    def _create_resource(self):
        return gen_sentencepiece_tokenizer.sentencepiece_op(
            model=self._proto, shared_name=self._shared_name
        )


def _check_special_ids(processor):
    ids = {
        "pad_id": processor.pad_id(),
        "unk_id": processor.unk_id(),
        "bos_id": processor.bos_id(),
        "eos_id": processor.eos_id(),
    }
    if ids["pad_id"] != PAD_ID or min(ids.values()) < 0 or len(set(ids.values())) != 4:
        described = ", ".join(f"{name}={value}" for name, value in ids.items())
        raise ValueError(
            "`proto` must define pad_id=0 and distinct unknown, start and end ids, as "
            f"`SubwordTokenizer.train` does. Received: proto with {described}"
        )
