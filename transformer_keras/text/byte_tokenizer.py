"""Byte-level tokenizer: every UTF-8 byte is a token; no vocabulary to learn or save."""

import keras
import tensorflow as tf

from transformer_keras.text.base import (
    NUM_SPECIAL_TOKENS,
    SPECIAL_TOKENS,
    UNKNOWN_ID,
    UNKNOWN_TEXT,
    Tokenizer,
)

FIRST_BYTE_ID = NUM_SPECIAL_TOKENS  # byte b has id b + 4
NUM_BYTES = 256


@keras.saving.register_keras_serializable(package="transformer_keras")
class ByteTokenizer(Tokenizer):
    """UTF-8 bytes as tokens: works for any language, and any string round-trips.

    Ids: 0 pad, 1 unknown, 2 start, 3 end, then byte `b` is id `b + 4`
    (`vocabulary_size == 260`). Invalid UTF-8 is kept byte for byte. The unknown
    id is never produced by `tokenize`; `detokenize` renders it (and any id
    outside the vocabulary) as U+FFFD.

    Args:
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> tokenizer = ByteTokenizer()
    >>> ids = tokenizer(["héllo"])
    >>> ids.to_list()
    [[108, 199, 173, 112, 112, 115]]
    >>> tokenizer.detokenize(ids).numpy()[0].decode("utf-8")
    'héllo'
    """

    def _tokenize(self, texts):
        byte_strings = tf.strings.bytes_split(texts)  # (B, None) one-byte strings
        byte_values = tf.ragged.map_flat_values(_decode_single_bytes, byte_strings)
        return tf.cast(byte_values, tf.int32) + FIRST_BYTE_ID  # (B, None)

    def _detokenize(self, ids):
        byte_strings = tf.gather(tf.constant(_ID_TO_BYTES), ids)  # (B, None)
        return tf.strings.reduce_join(byte_strings, axis=-1)  # (B,)

    @property
    def vocabulary_size(self):
        return FIRST_BYTE_ID + NUM_BYTES

    def id_to_token(self, id):
        """Special tokens by name, printable ASCII as itself, other bytes as `"<0xNN>"`."""
        self._check_id(id)
        if id < FIRST_BYTE_ID:
            return SPECIAL_TOKENS[id]
        byte = id - FIRST_BYTE_ID
        return chr(byte) if 0x20 <= byte < 0x7F else f"<0x{byte:02X}>"

    def token_to_id(self, token):
        """Inverse of `id_to_token`; also accepts any one-byte (ASCII) character."""
        if token in SPECIAL_TOKENS:
            return SPECIAL_TOKENS.index(token)
        if isinstance(token, str) and len(token) == 1 and ord(token) < 0x80:
            return ord(token) + FIRST_BYTE_ID
        if (
            isinstance(token, str)
            and len(token) == 6
            and token[:3] == "<0x"
            and token[5] == ">"
        ):
            try:
                return int(token[3:5], 16) + FIRST_BYTE_ID
            except ValueError:
                pass
        raise ValueError(
            "`token` must be a special token, one ASCII character or '<0xNN>'. "
            f"Received: token={token!r}"
        )


def _decode_single_bytes(byte_strings):
    """`(n,)` one-byte strings -> `(n,)` uint8 byte values."""
    return tf.reshape(tf.io.decode_raw(byte_strings, tf.uint8), [-1])  # (n, 1) -> (n,)


# The text of each id: nothing for pad/start/end (they are stripped before decoding).
_ID_TO_BYTES = [b""] * NUM_SPECIAL_TOKENS + [bytes([byte]) for byte in range(NUM_BYTES)]
_ID_TO_BYTES[UNKNOWN_ID] = UNKNOWN_TEXT.encode("utf-8")
