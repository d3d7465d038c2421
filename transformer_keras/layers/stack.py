"""What the `Encoder` and `Decoder` stacks share: N identical layers."""

import keras

from transformer_keras.utils.validation import check_positive_int


class TransformerStack(keras.layers.Layer):
    """`num_layers` copies of `layer_class`, then a final LayerNorm if pre-LN.

    The final norm exists only with `normalize_first=True`: pre-LN stacks leave
    the residual stream un-normalized, post-LN ones end normalized already.
    """

    layer_class = None

    def __init__(self, num_layers, **layer_kwargs):
        base_keys = ("name", "dtype", "trainable", "autocast")
        base_kwargs = {k: layer_kwargs.pop(k) for k in base_keys if k in layer_kwargs}
        super().__init__(**base_kwargs)
        check_positive_int("num_layers", num_layers)
        self.num_layers = num_layers
        self.supports_masking = True
        self.transformer_layers = [
            self.layer_class(**layer_kwargs, dtype=self.dtype_policy, name=f"layer_{i}")
            for i in range(num_layers)
        ]
        first = self.transformer_layers[0]
        self.hidden_dim = first.hidden_dim
        self.normalize_first = first.normalize_first
        self.final_norm = (
            keras.layers.LayerNormalization(
                epsilon=first.layer_norm_epsilon,
                dtype=self.dtype_policy,
                name="final_norm",
            )
            if first.normalize_first
            else keras.layers.Identity(dtype=self.dtype_policy, name="final_norm")
        )

    def build(self, inputs_shape):
        for layer in self.transformer_layers:
            layer.build(inputs_shape)
        self.final_norm.build(inputs_shape)
        self.built = True

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return inputs_shape

    def get_config(self):
        layer_config = self.transformer_layers[0].get_config()
        for key in ("name", "dtype", "trainable"):
            layer_config.pop(key, None)
        return {**super().get_config(), "num_layers": self.num_layers, **layer_config}
