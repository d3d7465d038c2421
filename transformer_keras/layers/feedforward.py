"""Position-wise feed-forward network (section 3.3) and its residual block.

Legend: B batch, T length, D model width, F inner width.
"""

import keras
from keras import ops

from transformer_keras.layers.residual import ResidualBlock
from transformer_keras.utils.validation import check_choice, check_positive_int

ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu", "swiglu")


def gelu_tanh(x):
    """GELU's tanh approximation (GPT-2's `gelu_new`, PyTorch's `approximate="tanh"`)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="transformer_keras")
class FeedForward(keras.layers.Layer):
    """`FFN(x) = act(x W1 + b1) W2 + b2`, or SwiGLU `(silu(x W) * x V) W2`.

    Args:
        hidden_dim: model width `D` (input and output).
        intermediate_dim: inner width `F`.
        activation: `"relu"` (the paper), `"gelu"` (exact, BERT's),
            `"gelu_tanh"` (its tanh approximation, GPT-2's), `"silu"`
            (`x * sigmoid(x)`, Marian's "swish") or `"swiglu"`.
        use_bias: biases in the projections.
        kernel_initializer: initializer of the kernels.

    Call arguments:
        inputs: `(B, T, D)`.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> tuple(FeedForward(8, 32)(np.ones((2, 3, 8), "float32")).shape)
    (2, 3, 8)
    """

    def __init__(
        self,
        hidden_dim,
        intermediate_dim,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("intermediate_dim", intermediate_dim)
        check_choice("activation", activation, ACTIVATIONS)
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

        def dense(units, name, activation=None):
            return keras.layers.Dense(
                units,
                activation=activation,
                use_bias=use_bias,
                kernel_initializer=keras.initializers.get(
                    keras.initializers.serialize(self.kernel_initializer)
                ),
                dtype=self.dtype_policy,
                name=name,
            )

        inner_activation = {
            "relu": "relu",
            "gelu": "gelu",
            "gelu_tanh": gelu_tanh,
            "silu": "silu",
            "swiglu": "silu",
        }[activation]
        self.inner_dense = dense(intermediate_dim, "inner", inner_activation)
        self.gate_dense = dense(intermediate_dim, "gate") if activation == "swiglu" else None
        self.output_dense = dense(hidden_dim, "output")

    def build(self, inputs_shape):
        if inputs_shape[-1] is not None and inputs_shape[-1] != self.hidden_dim:
            raise ValueError(
                f"The inputs' last axis must equal hidden_dim={self.hidden_dim}. "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        self.inner_dense.build(inputs_shape)
        if self.gate_dense is not None:
            self.gate_dense.build(inputs_shape)
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.built = True

    def call(self, inputs):
        hidden = self.inner_dense(inputs)  # (B, T, F)
        if self.gate_dense is not None:
            hidden = ops.multiply(hidden, self.gate_dense(inputs))  # (B, T, F)
        return self.output_dense(hidden)  # (B, T, D)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="transformer_keras")
class FeedForwardBlock(ResidualBlock):
    """`FeedForward` inside the shared residual connection (see `ResidualBlock`).

    Args:
        hidden_dim, intermediate_dim, activation, use_bias, kernel_initializer:
            as in `FeedForward`.
        dropout, normalize_first, layer_norm_epsilon: as in `ResidualBlock`.

    Call arguments:
        inputs: `(B, T, D)`.
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> tuple(FeedForwardBlock(8, 16)(np.ones((1, 3, 8), "float32")).shape)
    (1, 3, 8)
    """

    def __init__(
        self,
        hidden_dim,
        intermediate_dim,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        dropout=0.0,
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(
            dropout=dropout,
            normalize_first=normalize_first,
            layer_norm_epsilon=layer_norm_epsilon,
            **kwargs,
        )
        self.feedforward = FeedForward(
            hidden_dim,
            intermediate_dim,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            dtype=self.dtype_policy,
            name="feedforward",
        )

    def build(self, inputs_shape):
        self.feedforward.build(inputs_shape)
        super().build(inputs_shape)

    def call(self, inputs, training=None):
        return self.residual(inputs, self.feedforward, training=training)

    def get_config(self):
        config = self.feedforward.get_config()
        feedforward_keys = (
            "hidden_dim",
            "intermediate_dim",
            "activation",
            "use_bias",
            "kernel_initializer",
        )
        return {**super().get_config(), **{k: config[k] for k in feedforward_keys}}
