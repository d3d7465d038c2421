"""The interface every tokenizer shares: texts to ids, ids to texts, fixed-length encoding.

All tokenizers run as TensorFlow ops, so they work eagerly, inside
`tf.data.Dataset.map` and inside a `tf.function` exported with
`tf.saved_model.save` (TensorFlow backend only).

Every tokenizer exposes four special ids by property, and consumers read them
there: `pad_id` (what `encode` pads with), `unknown_id`, `start_id` (put first
by `encode(add_start=True)`) and `end_id` (put last by `encode(add_end=True)`).
The tokenizers this package trains share one layout:

| id | token     | meaning                                                |
| -: | --------- | ------------------------------------------------------ |
|  0 | `[PAD]`   | padding added by `encode`                              |
|  1 | `[UNK]`   | a character/word the vocabulary does not hold          |
|  2 | `[START]` | start of sequence, added by `encode(add_start=True)`   |
|  3 | `[END]`   | end of sequence, added by `encode(add_end=True)`       |

Pretrained vocabularies keep their own ids (`text.pretrained`): BERT pads with 0
but starts with `[CLS]` 101; Marian pads with its last id, which is also its
decoder's start id; GPT-2 has one special token, `<|endoftext|>`, which is its
start, end, pad and unknown id at once. The rules below hold for all of them:
`detokenize` drops pad ids and a leading run of start (or pad) ids, and stops at
the first end id after that run; when the start and end ids are one id, an id
after the opening run ends the text.

Legend: B batch, T length in tokens.
"""

import keras
import tensorflow as tf

from transformer_keras.utils.validation import check_choice, check_positive_int

PAD_ID = 0
UNKNOWN_ID = 1
START_ID = 2
END_ID = 3
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
NUM_SPECIAL_TOKENS = len(SPECIAL_TOKENS)

# What `detokenize` writes for an unknown id (and for any id outside the vocabulary).
UNKNOWN_TEXT = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER

TRUNCATE_SIDES = ("left", "right")


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="transformer_keras")
class Tokenizer(keras.layers.Layer):
    """Base class: a Keras layer mapping `tf.string` texts to ragged int32 ids.

    Subclasses implement `_tokenize`, `_detokenize`, `vocabulary_size`,
    `id_to_token` and `token_to_id`; this class validates inputs, handles scalars
    and empty batches, strips special ids before decoding and packs fixed-length
    batches.

    Args:
        **kwargs: standard layer arguments (`name`, ...). The layer's dtype is
            `"int32"`, the dtype of the ids it returns.

    Call arguments:
        texts: `tf.string` tensor of shape `(B,)` or a scalar (Python strings and
            lists of strings are accepted too).

    Returns:
        `tf.RaggedTensor` int32 `(B, None)` of ids without special tokens; a
        dense `(T,)` tensor for a scalar input.

    Example:
    >>> from transformer_keras.text import ByteTokenizer
    >>> tokenizer = ByteTokenizer()
    >>> tokenizer(["hi", ""]).to_list()
    [[108, 109], []]
    >>> tokenizer.encode(["hi"], sequence_length=4, add_start=True).numpy().tolist()
    [[2, 108, 109, 0]]
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        # Strings in, ragged ints out: Keras must not cast the inputs to floats.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    # --- What a subclass provides -------------------------------------------------

    def _tokenize(self, texts):
        """`(B,)` tf.string -> `(B, None)` ragged int32 ids in `[0, vocabulary_size)`."""
        raise NotImplementedError

    def _detokenize(self, ids):
        """`(B, None)` ragged int32 ids without pad/start/end -> `(B,)` tf.string.

        Ids are in `[0, vocabulary_size)`; unknown ids render as `UNKNOWN_TEXT`.
        """
        raise NotImplementedError

    @property
    def vocabulary_size(self):
        """Number of ids, special tokens included (Python int)."""
        raise NotImplementedError

    def id_to_token(self, id):
        """The token (Python str) of one id, for inspection."""
        raise NotImplementedError

    def token_to_id(self, token):
        """The id (Python int) of one token, for inspection."""
        raise NotImplementedError

    # --- Special ids ------------------------------------------------------------------

    @property
    def pad_id(self):
        return PAD_ID

    @property
    def unknown_id(self):
        return UNKNOWN_ID

    @property
    def start_id(self):
        return START_ID

    @property
    def end_id(self):
        return END_ID

    def _check_id(self, id):
        if (
            isinstance(id, bool)
            or not isinstance(id, int)
            or not 0 <= id < self.vocabulary_size
        ):
            raise ValueError(
                f"`id` must be an integer in [0, {self.vocabulary_size}). Received: id={id!r}"
            )

    # --- Public API -------------------------------------------------------------------

    def call(self, texts):
        return self.tokenize(texts)

    def compute_output_spec(self, texts):
        shape = (None,) if len(texts.shape) == 0 else (texts.shape[0], None)
        return keras.KerasTensor(shape, dtype="int32", ragged=len(texts.shape) > 0)

    def tokenize(self, texts):
        """Texts `(B,)` (or scalar) -> ragged int32 ids `(B, None)` (or dense `(T,)`)."""
        texts = _as_string_tensor(texts)
        if texts.shape.rank == 0:
            return self._tokenize(texts[tf.newaxis])[0]  # (T,)
        return self._tokenize(texts)  # (B, None)

    def detokenize(self, ids):
        """Ids `(B, T)` dense or ragged (or `(T,)`) -> `tf.string` `(B,)` (or scalar).

        Pad and start ids are dropped, decoding stops at the first end id (see
        the module docstring when start and end are one id), and unknown ids
        (or ids outside the vocabulary) render as U+FFFD.
        """
        ids = _as_int_ids(ids)
        if ids.shape.rank == 1:
            return self._detokenize(self._content_ids(ids[tf.newaxis]))[0]
        return self._detokenize(self._content_ids(ids))

    def encode(self, texts, sequence_length, add_start=False, add_end=False, truncate="right"):
        """Texts -> dense int32 ids `(B, sequence_length)`, padded with `pad_id`.

        Args:
            texts: `tf.string` `(B,)` or a scalar.
            sequence_length: length of every output row (Python int).
            add_start: put `start_id` first.
            add_end: put `end_id` after the last kept token.
            truncate: `"right"` keeps the first tokens, `"left"` keeps the last
                ones (a language-model prompt). Start/end ids always survive.

        Returns:
            int32 `(B, sequence_length)`, or `(sequence_length,)` for a scalar.
        """
        check_positive_int("sequence_length", sequence_length)
        check_bool("add_start", add_start)
        check_bool("add_end", add_end)
        check_choice("truncate", truncate, TRUNCATE_SIDES)
        room = sequence_length - int(add_start) - int(add_end)
        if room < 0:
            raise ValueError(
                "`sequence_length` must leave room for the start and end tokens. "
                f"Received: sequence_length={sequence_length}"
            )
        texts = _as_string_tensor(texts)
        if texts.shape.rank == 0:
            return self.encode(
                texts[tf.newaxis], sequence_length, add_start, add_end, truncate
            )[0]
        ids = self._tokenize(texts)  # (B, None)
        if room == 0:
            ids = ids[:, :0]
        elif truncate == "right":
            ids = ids[:, :room]
        else:
            ids = ids[:, -room:]
        batch_size = ids.nrows(out_type=tf.int32)
        pieces = [ids]
        if add_start:
            pieces.insert(0, _column(self.start_id, batch_size))
        if add_end:
            pieces.append(_column(self.end_id, batch_size))
        ids = tf.concat(pieces, axis=1)  # (B, None), at most sequence_length long
        return ids.to_tensor(default_value=self.pad_id, shape=[None, sequence_length])

    # --- Helpers ----------------------------------------------------------------------

    def _content_ids(self, ids):
        """`(B, T)` ids -> `(B, None)` ragged ids before the first end, without pad/start.

        Ids outside the vocabulary become `unknown_id` after the special ids are
        found, so that an unknown id equal to the end id (GPT-2) ends nothing.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=self.pad_id)  # (B, T)
        is_end = ids == self.end_id
        if self.start_id == self.end_id:
            # The opening start ids (and any left padding among them) end nothing.
            is_opening = (ids == self.start_id) | (ids == self.pad_id)
            opening = tf.math.cumprod(tf.cast(is_opening, tf.int32), axis=1) == 1  # (B, T)
            is_end = is_end & ~opening
        ends_so_far = tf.cumsum(tf.cast(is_end, tf.int32), axis=1)
        keep = (ends_so_far == 0) & (ids != self.pad_id) & (ids != self.start_id)
        in_vocabulary = (ids >= 0) & (ids < self.vocabulary_size)
        ids = tf.where(in_vocabulary, ids, self.unknown_id)
        return tf.ragged.boolean_mask(ids, keep)  # (B, None)


def _as_string_tensor(texts):
    if isinstance(texts, tf.RaggedTensor):
        raise ValueError(f"`texts` must be a dense tf.string tensor. Received: texts={texts!r}")
    texts = tf.convert_to_tensor(texts)
    if texts.dtype != tf.string:
        raise ValueError(
            f"`texts` must be a tf.string tensor. Received: texts with dtype={texts.dtype!r}"
        )
    if texts.shape.rank is None:
        texts = tf.ensure_shape(texts, [None])
    if texts.shape.rank > 1:
        raise ValueError(
            f"`texts` must be a scalar or a vector (B,). Received: texts.shape={texts.shape}"
        )
    return texts


def _as_int_ids(ids):
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise ValueError(f"`ids` must be integers. Received: ids with dtype={ids.dtype!r}")
    ids = tf.cast(ids, tf.int32)
    if ids.shape.rank not in (1, 2):
        raise ValueError(
            f"`ids` must have shape (T,) or (B, T). Received: ids.shape={ids.shape}"
        )
    return ids


def _column(token_id, batch_size):
    """A `(B, 1)` ragged column of one id, to concatenate with `(B, None)` ids."""
    return tf.RaggedTensor.from_tensor(tf.fill([batch_size, 1], token_id))
