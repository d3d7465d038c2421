"""Encoder layer and stack (section 3.1, left half of figure 1).

Legend: B batch, T length, D model width.
"""

import keras

from transformer_keras.layers import masks
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
        return_attention_scores: also return the `(B, N, T, T)` probabilities.
        training: enables dropout.

    Returns:
        `(B, T, D)`, or `(outputs, scores)`.

    Example:
    >>> import numpy as np
    >>> layer = EncoderLayer(hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> tuple(layer(np.random.rand(2, 5, 8).astype("float32")).shape)
    (2, 5, 8)
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

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        results = self.self_attention_block(
            inputs,
            padding_mask=padding_mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        outputs, scores = results if return_attention_scores else (results, None)
        outputs = self.feedforward_block(outputs, training=training)
        return (outputs, scores) if return_attention_scores else outputs


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
        return_attention_scores: also return a list of per-layer scores.
        training: enables dropout.

    Returns:
        `(B, T, D)`, or `(outputs, [scores per layer])`.

    Example:
    >>> import numpy as np
    >>> encoder = Encoder(num_layers=2, hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> tuple(encoder(np.random.rand(2, 5, 8).astype("float32")).shape)
    (2, 5, 8)
    """

    layer_class = EncoderLayer

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        outputs, all_scores = inputs, []
        for layer in self.transformer_layers:
            outputs = layer(
                outputs,
                padding_mask=padding_mask,
                attention_mask=attention_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            if return_attention_scores:
                outputs, scores = outputs
                all_scores.append(scores)
        outputs = self.final_norm(outputs)
        return (outputs, all_scores) if return_attention_scores else outputs
