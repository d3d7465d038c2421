"""Token embedding plus position information (sections 3.4 and 3.5).

Legend: B batch, T length, D model width, V vocabulary.
"""

import math

import keras
from keras import ops

from transformer_keras.layers.masks import detached_implicit_masks, padding_mask_from_ids
from transformer_keras.layers.position import (
    PositionEmbedding,
    SinusoidalPositionEncoding,
)
from transformer_keras.utils.validation import (
    check_choice,
    check_positive_int,
    check_rate,
)

POSITION_SCHEMES = ("learned", "sinusoidal", "sinusoidal_concatenated", "rotary", "none")


@keras.saving.register_keras_serializable(package="transformer_keras")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding scaled by `sqrt(hidden_dim)`, plus positions, [layer norm,] dropout.

    The token table is a `keras.layers.ReversibleEmbedding`, so
    `embedding(hidden, reverse=True)` projects `(B, T, D)` back to `(B, T, V)`
    logits with the same (tied) matrix, as in section 3.4 of the paper.

    Args:
        vocabulary_size: `V`.
        hidden_dim: `D`.
        max_sequence_length: longest sequence (size of a learned table).
        position: `"learned"`, `"sinusoidal"` (the paper),
            `"sinusoidal_concatenated"` (the same sines and cosines, sines
            first: Marian's), `"rotary"` (positions are applied inside
            attention; nothing is added here) or `"none"`.
        pad_id: id of the padding token; the layer's Keras mask (and
            `padding_mask(ids)`) is True where `ids != pad_id`. `None` disables
            masking.
        scale_embeddings: multiply token embeddings by `sqrt(hidden_dim)`.
        embedding_norm: a layer norm on the sum, before dropout (BERT's).
        layer_norm_epsilon: that norm's epsilon.
        dropout: dropout rate on the sum (the paper's P_drop).
        embeddings_initializer: initializer of the token table.

    Call arguments:
        token_ids: `(B, T)` integer ids.
        start_index: position of `token_ids[:, 0]` (KV-cache decoding).
        reverse: when True, `token_ids` is a `(B, T, D)` hidden state and the
            output is `(B, T, V)` logits.
        training: enables dropout.

    Returns:
        `(B, T, D)` embeddings, or `(B, T, V)` logits with `reverse=True`.

    Example:
    >>> import numpy as np
    >>> embedding = TokenAndPositionEmbedding(100, 8, max_sequence_length=16)
    >>> hidden = embedding(np.array([[5, 6, 0]]))
    >>> tuple(hidden.shape), tuple(embedding(hidden, reverse=True).shape)
    ((1, 3, 8), (1, 3, 100))
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        max_sequence_length,
        position="learned",
        pad_id=0,
        scale_embeddings=True,
        dropout=0.0,
        embeddings_initializer=None,
        embedding_norm=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("max_sequence_length", max_sequence_length)
        check_choice("position", position, POSITION_SCHEMES)
        check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.position = position
        self.pad_id = pad_id
        self.scale_embeddings = scale_embeddings
        self.dropout = dropout
        self.embedding_norm = embedding_norm
        self.layer_norm_epsilon = layer_norm_epsilon
        if embeddings_initializer is None:
            # N(0, D^-1/2): after the sqrt(D) scale, unit-variance embeddings.
            embeddings_initializer = keras.initializers.RandomNormal(
                stddev=1.0 / math.sqrt(hidden_dim)
            )
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size,
            hidden_dim,
            tie_weights=True,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = {
            "learned": lambda: PositionEmbedding(
                max_sequence_length, dtype=self.dtype_policy, name="position_embedding"
            ),
            "sinusoidal": lambda: SinusoidalPositionEncoding(
                dtype=self.dtype_policy, name="position_embedding"
            ),
            "sinusoidal_concatenated": lambda: SinusoidalPositionEncoding(
                layout="concatenated", dtype=self.dtype_policy, name="position_embedding"
            ),
            "rotary": lambda: None,
            "none": lambda: None,
        }[position]()
        self.norm = (
            keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
            )
            if embedding_norm
            else None
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, token_ids_shape):
        self.token_embedding.build(token_ids_shape)
        if self.position_embedding is not None:
            self.position_embedding.build(tuple(token_ids_shape) + (self.hidden_dim,))
        if self.norm is not None:
            self.norm.build(tuple(token_ids_shape) + (self.hidden_dim,))
        self.built = True

    def padding_mask(self, token_ids):
        """`(B, T)` boolean, True at real tokens; `None` when `pad_id` is None."""
        if self.pad_id is None:
            return None
        return padding_mask_from_ids(token_ids, self.pad_id)

    def call(self, token_ids, start_index=0, reverse=False, training=None):
        if reverse:
            with detached_implicit_masks(token_ids):  # a hidden state: its mask is not ours
                return self.token_embedding(token_ids, reverse=True)  # (B, T, V)
        length = token_ids.shape[-1]
        if (
            self.position == "learned"
            and length is not None
            and isinstance(start_index, int)
            and start_index + length > self.max_sequence_length
        ):
            raise ValueError(
                "The sequence is longer than the position table "
                f"(max_sequence_length={self.max_sequence_length}). "
                f"Received: sequence_length={start_index + length}"
            )
        embeddings = self.token_embedding(token_ids)  # (B, T, D)
        if self.scale_embeddings:
            embeddings = embeddings * ops.cast(math.sqrt(self.hidden_dim), embeddings.dtype)
        if self.position_embedding is not None:
            embeddings = embeddings + self.position_embedding(
                embeddings, start_index=start_index
            )
        if self.norm is not None:
            embeddings = self.norm(embeddings)
        return self.dropout_layer(embeddings, training=training)

    def compute_mask(self, token_ids, mask=None, start_index=0, reverse=False):
        # Keras calls `compute_mask(inputs, previous_mask)` without `reverse`:
        # a float `(B, T, D)` input is a reverse call, whose logits get no mask.
        if reverse or not keras.backend.standardize_dtype(token_ids.dtype).startswith(
            ("int", "uint")
        ):
            return None
        return self.padding_mask(token_ids)

    def compute_output_shape(self, token_ids_shape, reverse=False, **kwargs):
        if reverse:
            return tuple(token_ids_shape[:-1]) + (self.vocabulary_size,)
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def compute_output_spec(self, token_ids, start_index=0, reverse=False, training=None):
        shape = self.compute_output_shape(token_ids.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "hidden_dim": self.hidden_dim,
            "max_sequence_length": self.max_sequence_length,
            "position": self.position,
            "pad_id": self.pad_id,
            "scale_embeddings": self.scale_embeddings,
            "dropout": self.dropout,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embedding_norm": self.embedding_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
