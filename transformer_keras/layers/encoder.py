"""Encoder layer and stack (section 3.1, left half of figure 1).

Legend: B batch, T length, N heads, L layers, D model width.
"""

import keras

from transformer_keras.layers import masks
from transformer_keras.layers.method_inputs import build_if_needed, convert_inputs
from transformer_keras.layers.stack import TransformerStack
from transformer_keras.layers.transformer_layer import TransformerLayer


@keras.saving.register_keras_serializable(package="transformer_keras")
class EncoderLayer(TransformerLayer):
    """One encoder layer: self-attention then feed-forward, each residual.

    Args:
        See `TransformerLayer`: `hidden_dim`, `num_heads`, `intermediate_dim`,
        `num_key_value_heads`, `activation`, `dropout`, `attention_dropout`,
        `normalize_first`, `layer_norm_epsilon`, `use_rotary`, `use_bias`,
        `kernel_initializer`.

    Call arguments:
        inputs: `(B, T, D)`.
        padding_mask: `(B, T)` boolean, True at real tokens. Defaults to the
            Keras mask of `inputs`.
        attention_mask: `(B, T, T)` boolean, True = may attend.
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> layer = EncoderLayer(hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(layer(x).shape)
    (2, 5, 8)
    >>> tuple(layer.attention_scores(x).shape)  # (B, N, T, T)
    (2, 2, 5, 5)
    """

    def __init__(self, hidden_dim, num_heads, intermediate_dim, **kwargs):
        super().__init__(hidden_dim, num_heads, intermediate_dim, **kwargs)
        self.self_attention_block = self._attention_block(
            "self_attention_block", self.use_rotary
        )

    def build(self, inputs_shape):
        self._check_width(inputs_shape)
        self.self_attention_block.build(inputs_shape)
        self.feedforward_block.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        x = self.self_attention_block(
            inputs, padding_mask=padding_mask, attention_mask=attention_mask, training=training
        )
        return self.feedforward_block(x, training=training)

    def attention_scores(self, inputs, padding_mask=None, attention_mask=None):
        """Self-attention probabilities of `call` with the same arguments.

        Returns:
            `(B, N, T, T)` float32.
        """
        (inputs,) = convert_inputs(self, inputs)
        build_if_needed(self, inputs)
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        return self.self_attention_block.attention_scores(
            inputs, padding_mask=padding_mask, attention_mask=attention_mask
        )


@keras.saving.register_keras_serializable(package="transformer_keras")
class Encoder(TransformerStack):
    """A stack of `num_layers` `EncoderLayer`s (with a final norm when pre-LN).

    Args:
        num_layers: number of layers.
        **layer_kwargs: `EncoderLayer` arguments (`hidden_dim`, `num_heads`,
            `intermediate_dim`, ...).

    Call arguments:
        inputs: `(B, T, D)` embedded tokens.
        padding_mask: `(B, T)` boolean, True at real tokens.
        attention_mask: `(B, T, T)` boolean.
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> encoder = Encoder(num_layers=2, hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(encoder(x).shape)
    (2, 5, 8)
    >>> [tuple(scores.shape) for scores in encoder.attention_scores(x)]  # L x (B, N, T, T)
    [(2, 2, 5, 5), (2, 2, 5, 5)]
    """

    layer_class = EncoderLayer

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        x = inputs
        for layer in self.transformer_layers:
            x = layer(
                x, padding_mask=padding_mask, attention_mask=attention_mask, training=training
            )
        return self.final_norm(x)

    def attention_scores(self, inputs, padding_mask=None, attention_mask=None):
        """Self-attention probabilities of every layer, for `call`'s arguments.

        Returns:
            A list of `L` float32 tensors `(B, N, T, T)`, first layer first.
        """
        (inputs,) = convert_inputs(self, inputs)
        build_if_needed(self, inputs)
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        scores, x = [], inputs
        for layer in self.transformer_layers:
            scores.append(
                layer.attention_scores(
                    x, padding_mask=padding_mask, attention_mask=attention_mask
                )
            )
            x = layer(
                x, padding_mask=padding_mask, attention_mask=attention_mask, training=False
            )
        return scores
