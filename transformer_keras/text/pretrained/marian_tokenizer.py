"""Marian's (opus-mt) tokenizer, with Hugging Face's ids, run as TensorFlow ops.

A Marian checkpoint has two SentencePiece models (`source.spm`, `target.spm`)
and one vocabulary (`vocab.json`) that numbers their pieces its own way: the
SentencePiece ids are not the model's ids. As Hugging Face's `MarianTokenizer`:

1. special tokens written in the text (`</s>`, `<unk>`, `<pad>`) become their ids;
2. a piece that starts with a language code (`>>de<< ...`, up to the first
   `<<`) gives the code's id (unknown if the vocabulary lacks it);
3. SentencePiece cuts the rest into pieces (tensorflow-text), which
   `vocab.json` maps to ids (unknown when it lacks them).

Hugging Face appends `</s>` to every text: `encode(..., add_end=True)`. The
decoder starts from the pad id (`decoder_start_token_id`), so `start_id` is
`pad_id`. Detokenizing joins the pieces, turns "▁" into spaces and strips the
ends, as Hugging Face's `decode(..., skip_special_tokens=True)` does, except
that the unknown id renders as U+FFFD.

Legend: B batch, P pieces between special tokens.
"""

import base64
import binascii
import pathlib

import keras
import sentencepiece
import tensorflow as tf

from transformer_keras.text.base import UNKNOWN_TEXT, Tokenizer
from transformer_keras.text.pretrained.json_vocabulary import read_json_vocabulary
from transformer_keras.text.pretrained.special_tokens import SpecialTokenSplitter
from transformer_keras.text.pretrained.unicode_classes import CodePointRanges, pattern_class
from transformer_keras.text.subword_tokenizer import sentencepiece_op_tokenizer
from transformer_keras.text.utf8 import valid_utf8

# A language code opens a piece: ">>" up to the first "<<".
_LANGUAGE_CODE = r"(?s)^>>.*?<<"
_CODE_THEN_TEXT = r"(?s)^(>>.*?<<).*$"
# Python's `str.isspace()` characters, which `str.strip()` removes.
_PYTHON_WHITESPACE = CodePointRanges(
    [
        (0x9, 0xD),
        (0x1C, 0x20),
        (0x85, 0x85),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ]
)
_STRIP = f"^{pattern_class(_PYTHON_WHITESPACE)}+|{pattern_class(_PYTHON_WHITESPACE)}+$"


@keras.saving.register_keras_serializable(package="transformer_keras")
class MarianTokenizer(Tokenizer):
    """One side of Marian's tokenizer: Hugging Face's `MarianTokenizer` ids, as TensorFlow ops.

    A translation model uses two: the source side (`source.spm`) and the target
    side (`target.spm`, with `target_vocab.json` when the vocabularies are
    separate). `load_huggingface_tokenizer(path, side=...)` makes either.
    `tokenize` returns the ids without `</s>`; `encode(..., add_end=True)`
    appends it, as Hugging Face does. `pad_id` is `<pad>` (Marian's last id,
    58100 for opus-mt-en-de) and `start_id` is `pad_id` too.

    The SentencePiece model (base64) and the vocabulary travel in the config.

    Args:
        proto: the serialized SentencePiece model (bytes) or the path of a
            `.spm` file.
        vocabulary: `{piece: id}` (as in `vocab.json`) or the path of a
            `vocab.json` file.
        end_token, unknown_token, pad_token: the special tokens; each must be in
            the vocabulary.
        special_tokens: tokens recognized in the text (each in the
            vocabulary); None means the three above.
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> import io, sentencepiece
    >>> model = io.BytesIO()
    >>> sentencepiece.SentencePieceTrainer.train(
    ...     sentence_iterator=iter(["a cat sat on a mat"] * 10), model_writer=model,
    ...     vocab_size=16, hard_vocab_limit=False, minloglevel=2)
    >>> processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    >>> pieces = [processor.id_to_piece(i) for i in range(3, processor.get_piece_size())]
    >>> vocabulary = {"</s>": 0, "<unk>": 1}  # Marian's own numbering of the pieces
    >>> vocabulary.update({piece: i + 2 for i, piece in enumerate(reversed(pieces))})
    >>> vocabulary["<pad>"] = len(vocabulary)
    >>> tokenizer = MarianTokenizer(model.getvalue(), vocabulary)
    >>> processor.encode("a cat", out_type=str), processor.encode("a cat")
    (['▁', 'a', '▁', 'c', 'at'], [3, 4, 3, 6, 5])
    >>> tokenizer.encode(["a cat"], sequence_length=8, add_end=True).numpy()
    array([[11, 10, 11,  8,  9,  0, 12, 12]], dtype=int32)
    >>> tokenizer.detokenize([[11, 10, 11, 8, 9, 0]]).numpy()
    array([b'a cat'], dtype=object)
    """

    def __init__(
        self,
        proto,
        vocabulary,
        end_token="</s>",
        unknown_token="<unk>",
        pad_token="<pad>",
        special_tokens=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(proto, str | pathlib.Path):
            with open(proto, "rb") as file:
                proto = file.read()
        if not isinstance(proto, bytes):
            raise ValueError(
                "`proto` must be a serialized SentencePiece model (bytes) or a file path. "
                f"Received: proto={proto!r:.80}"
            )
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(
                f"`proto` is not a SentencePiece model ({error}). Received: proto={proto!r:.80}"
            ) from None
        vocabulary = read_json_vocabulary(vocabulary)
        self.proto = proto
        self.vocabulary = vocabulary
        self.end_token = end_token
        self.unknown_token = unknown_token
        self.pad_token = pad_token
        named = {"end_token": end_token, "unknown_token": unknown_token, "pad_token": pad_token}
        if special_tokens is None:
            special_tokens = list(named.values())
        self.special_tokens = list(special_tokens)
        for name, token in [*named.items(), *(("special_tokens", t) for t in special_tokens)]:
            if token not in vocabulary:
                raise ValueError(
                    f"`{name}` must be in the vocabulary. Received: {name}={token!r}"
                )
        self._tokens = {token_id: token for token, token_id in vocabulary.items()}
        self._size = max(vocabulary.values()) + 1
        self._splitter = SpecialTokenSplitter({t: vocabulary[t] for t in special_tokens})
        self._sentencepiece = sentencepiece_op_tokenizer(proto, out_type=tf.string)
        self._piece_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocabulary), tf.string),
                tf.constant(list(vocabulary.values()), tf.int32),
            ),
            default_value=self.unknown_id,
        )
        self._piece_texts = tf.constant(self._texts_of_ids(processor))

    def _texts_of_ids(self, processor):
        """What each id contributes to a decoded text, before "▁" becomes a space."""
        texts = [b""] * self._size
        for piece, token_id in self.vocabulary.items():
            piece_id = processor.PieceToId(piece)
            known = processor.IdToPiece(piece_id) == piece
            if known and processor.IsControl(piece_id):
                continue
            if known and processor.IsByte(piece_id):
                texts[token_id] = bytes([int(piece[3:5], 16)])  # "<0x41>"
            else:
                texts[token_id] = piece.encode("utf-8")
        texts[self.unknown_id] = UNKNOWN_TEXT.encode("utf-8")
        return texts

    # --- Tokenizer hooks ----------------------------------------------------------------

    @tf.autograph.experimental.do_not_convert
    def _tokenize(self, texts):
        texts = valid_utf8(texts)
        return self._splitter.tokenize(texts, self._tokenize_plain)

    @tf.autograph.experimental.do_not_convert
    def _tokenize_plain(self, pieces):
        has_code = tf.strings.regex_full_match(pieces, _CODE_THEN_TEXT)
        code = tf.strings.regex_replace(pieces, _CODE_THEN_TEXT, r"\1")
        rest = tf.where(
            has_code,
            tf.strings.regex_replace(pieces, _LANGUAGE_CODE, "", replace_global=False),
            pieces,
        )
        code_ids = tf.ragged.boolean_mask(
            self._piece_ids.lookup(code)[:, tf.newaxis], has_code[:, tf.newaxis]
        )  # (P, 0 or 1)
        piece_ids = tf.ragged.map_flat_values(
            self._piece_ids.lookup, self._sentencepiece.tokenize(rest)
        )  # (P, None)
        return tf.concat([code_ids, tf.cast(piece_ids, tf.int32)], axis=1)  # (P, None)

    @tf.autograph.experimental.do_not_convert
    def _detokenize(self, ids):
        texts = tf.strings.reduce_join(
            tf.ragged.map_flat_values(tf.gather, self._piece_texts, ids), axis=-1
        )  # (B,)
        texts = valid_utf8(texts)
        texts = tf.strings.regex_replace(texts, "▁", " ")
        return tf.strings.regex_replace(texts, _STRIP, "")

    @property
    def vocabulary_size(self):
        return self._size

    @property
    def pad_id(self):
        return self.vocabulary[self.pad_token]

    @property
    def unknown_id(self):
        return self.vocabulary[self.unknown_token]

    @property
    def start_id(self):
        """The decoder's first id: `pad_id`, as Marian's `decoder_start_token_id`."""
        return self.pad_id

    @property
    def end_id(self):
        return self.vocabulary[self.end_token]

    def id_to_token(self, id):
        self._check_id(id)
        if id not in self._tokens:
            raise ValueError(f"`id` has no token in the vocabulary. Received: id={id}")
        return self._tokens[id]

    def token_to_id(self, token):
        if token not in self.vocabulary:
            raise ValueError(f"`token` is not in the vocabulary. Received: token={token!r}")
        return self.vocabulary[token]

    def get_config(self):
        return {
            **super().get_config(),
            "proto": base64.b64encode(self.proto).decode("ascii"),
            "vocabulary": dict(self.vocabulary),
            "end_token": self.end_token,
            "unknown_token": self.unknown_token,
            "pad_token": self.pad_token,
            "special_tokens": list(self.special_tokens),
        }

    @classmethod
    def from_config(cls, config):
        proto = config["proto"]
        if isinstance(proto, str):
            try:
                proto = base64.b64decode(proto, validate=True)
            except binascii.Error:
                pass  # not from `get_config`: a file path
        return cls(**{**config, "proto": proto})
