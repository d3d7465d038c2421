"""Special tokens written in the text ("[MASK]", "<|endoftext|>") become their own ids.

Hugging Face tokenizers cut the text at each special token before anything else
(the leftmost, longest match first), give the token its id, and tokenize the
pieces between separately; `SpecialTokenSplitter` does the same in
TensorFlow ops.

Legend: B batch, P pieces of a text, T tokens.
"""

import tensorflow as tf

from transformer_keras.text.pretrained.unicode_classes import escape, split_keeping_matches


class SpecialTokenSplitter(tf.Module):
    """Tokenizes texts whose special tokens map straight to their ids.

    Args:
        special_ids: `{token: id}` of the special tokens to find in the text;
            may be empty.
    """

    def __init__(self, special_ids):
        super().__init__()
        self._tokens = sorted(special_ids, key=lambda token: (-len(token), token))
        self._pattern = "|".join(escape(token) for token in self._tokens)  # longest first
        if self._tokens:
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self._tokens),
                    tf.constant([special_ids[token] for token in self._tokens], tf.int32),
                ),
                default_value=-1,
            )

    @tf.autograph.experimental.do_not_convert
    def tokenize(self, texts, tokenize_pieces):
        """`(B,)` valid UTF-8 texts -> `(B, None)` ragged int32 ids.

        Args:
            texts: `(B,)` tf.string.
            tokenize_pieces: `(P,)` tf.string -> `(P, None)` ragged int32 ids,
                for the text between special tokens.
        """
        if not self._tokens:
            return tokenize_pieces(texts)
        pieces = split_keeping_matches(texts, self._pattern)  # (B, P)
        flat_pieces = pieces.flat_values
        piece_special_ids = self._table.lookup(flat_pieces)  # (P,), -1 for plain text
        is_plain = piece_special_ids < 0
        plain_ids = tokenize_pieces(tf.boolean_mask(flat_pieces, is_plain))  # (P_plain, None)
        special_rows = tf.RaggedTensor.from_tensor(
            tf.boolean_mask(piece_special_ids, ~is_plain)[:, tf.newaxis]
        )  # (P_special, 1)
        # Row i of `rows` holds piece i's ids, in the order of the pieces.
        is_plain_int = tf.cast(is_plain, tf.int32)
        plain_order = tf.cumsum(is_plain_int) - 1
        special_order = tf.reduce_sum(is_plain_int) + tf.cumsum(1 - is_plain_int) - 1
        order = tf.where(is_plain, plain_order, special_order)
        rows = tf.gather(tf.concat([plain_ids, special_rows], axis=0), order)  # (P, None)
        per_piece = tf.RaggedTensor.from_row_splits(rows, pieces.row_splits)  # (B, P, None)
        return per_piece.merge_dims(1, 2)  # (B, None)
