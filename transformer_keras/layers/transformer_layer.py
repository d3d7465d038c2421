"""What encoder and decoder layers share: their configuration and blocks.

An encoder layer is `self-attention -> feed-forward`; a decoder layer is
`causal self-attention -> cross-attention -> feed-forward`. Both are built here
from the same `AttentionBlock` and `FeedForwardBlock`, so the residual, norm and
dropout logic exists once.
"""

import keras

from transformer_keras.layers.attention import AttentionBlock
from transformer_keras.layers.feedforward import FeedForwardBlock
from transformer_keras.utils.validation import (
    check_divisible,
    check_positive_int,
    check_rate,
)


class TransformerLayer(keras.layers.Layer):
    """Base of `EncoderLayer` and `DecoderLayer`; its arguments are theirs.

    Args:
        hidden_dim: model width `D`; must be divisible by `num_heads`.
        num_heads: attention heads `N`.
        intermediate_dim: inner width of the feed-forward network.
        num_key_value_heads: key/value heads (grouped-query attention).
            Defaults to `num_heads`.
        activation: feed-forward activation: `"relu"`, `"gelu"`, `"swiglu"`.
        dropout: residual dropout rate (the paper's P_drop = 0.1).
        attention_dropout: dropout on attention probabilities.
        normalize_first: pre-LN when True; the paper's post-LN when False.
        layer_norm_epsilon: epsilon of every layer normalization.
        use_rotary: rotary position embedding in self-attention.
        use_bias: biases in all projections.
        kernel_initializer: initializer of all kernels.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        num_key_value_heads=None,
        activation="relu",
        dropout=0.0,
        attention_dropout=0.0,
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        use_rotary=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("num_heads", num_heads)
        check_divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        check_rate("dropout", dropout)
        check_rate("attention_dropout", attention_dropout)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_key_value_heads = num_key_value_heads
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_rotary = use_rotary
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True
        self.feedforward_block = FeedForwardBlock(
            hidden_dim,
            intermediate_dim,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=self._initializer(),
            **self._residual_kwargs("feedforward_block"),
        )

    def _initializer(self):
        """A fresh copy, so that no two sub-layers share initial weights."""
        return keras.initializers.get(keras.initializers.serialize(self.kernel_initializer))

    def _residual_kwargs(self, name):
        return dict(
            dropout=self.dropout,
            normalize_first=self.normalize_first,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name=name,
        )

    def _attention_block(self, name, use_rotary):
        return AttentionBlock(
            num_heads=self.num_heads,
            key_dim=self.hidden_dim // self.num_heads,
            num_key_value_heads=self.num_key_value_heads,
            attention_dropout=self.attention_dropout,
            use_rotary=use_rotary,
            use_bias=self.use_bias,
            kernel_initializer=self._initializer(),
            **self._residual_kwargs(name),
        )

    def _check_width(self, inputs_shape):
        if inputs_shape[-1] is not None and inputs_shape[-1] != self.hidden_dim:
            raise ValueError(
                f"The inputs' last axis must equal hidden_dim={self.hidden_dim}. "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "num_key_value_heads": self.num_key_value_heads,
            "activation": self.activation,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "use_rotary": self.use_rotary,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
