"""The residual connection of section 3.1, written once for every sub-layer.

Post-LN (the paper): `LayerNorm(x + Dropout(Sublayer(x)))`.
Pre-LN (`normalize_first=True`): `x + Dropout(Sublayer(LayerNorm(x)))`.
"""

import keras

from transformer_keras.utils.validation import check_positive_float, check_rate


@keras.saving.register_keras_serializable(package="transformer_keras")
class ResidualBlock(keras.layers.Layer):
    """Base class of the attention and feed-forward blocks.

    Subclasses create their sub-layer in `__init__`, build it in `build` and
    call `self.residual(inputs, sublayer_fn, training)` in `call`; the norm,
    the dropout and the order of the two live only here. A sub-layer that
    returns more than its outputs (a cached attention step returns the updated
    cache too) uses the two halves of `residual` around it:
    `self.add_residual(inputs, sublayer(self.sublayer_inputs(inputs)))`.

    Args:
        dropout: residual dropout rate, in [0, 1).
        normalize_first: pre-LN when True, the paper's post-LN when False.
        layer_norm_epsilon: epsilon of the layer normalization.

    Call arguments:
        inputs: `(B, T, D)`.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> block = ResidualBlock(normalize_first=True)
    >>> tuple(block(np.ones((1, 2, 4), "float32")).shape)
    (1, 2, 4)
    """

    def __init__(self, dropout=0.0, normalize_first=False, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        check_rate("dropout", dropout)
        check_positive_float("layer_norm_epsilon", layer_norm_epsilon)
        self.dropout = dropout
        self.normalize_first = bool(normalize_first)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.supports_masking = True
        # LayerNormalization computes in float32 under mixed precision.
        self.norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, inputs_shape):
        self.norm.build(inputs_shape)
        self.built = True

    def residual(self, inputs, sublayer, training=None):
        """Applies `sublayer` with the residual connection, norm and dropout."""
        outputs = sublayer(self.sublayer_inputs(inputs))
        return self.add_residual(inputs, outputs, training=training)

    def sublayer_inputs(self, inputs):
        """What the sub-layer reads: `LayerNorm(x)` with pre-LN, `x` with post-LN."""
        return self.norm(inputs) if self.normalize_first else inputs

    def add_residual(self, inputs, sublayer_outputs, training=None):
        """`x + Dropout(outputs)`, then `LayerNorm` with post-LN."""
        outputs = inputs + self.dropout_layer(sublayer_outputs, training=training)
        return outputs if self.normalize_first else self.norm(outputs)

    def call(self, inputs, training=None):
        return self.residual(inputs, lambda x: x, training=training)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dropout": self.dropout,
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
