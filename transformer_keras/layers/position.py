"""Position information: the paper's sinusoids, a learned table, and RoPE.

Legend: B batch, T length, N heads, H head size, D model width.
"""

import keras
from keras import ops

from transformer_keras.utils.validation import check_choice, check_positive_int

LAYOUTS = ("interleaved", "concatenated")


def sinusoidal_table(
    length, hidden_dim, max_wavelength=10000.0, start_index=0, layout="interleaved"
):
    """The `(T, D)` table of section 3.5 of "Attention Is All You Need".

    `PE(pos, 2i) = sin(pos / max_wavelength^(2i / D))` and
    `PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / D))`: sines on even
    features, cosines on odd ones, interleaved as in the paper. With
    `layout="concatenated"` the same sines fill the first `ceil(D/2)` features
    and the cosines the rest (tensor2tensor's and Marian's layout).
    """
    positions = ops.cast(ops.arange(length) + start_index, "float32")  # (T,)
    pair_index = ops.cast(ops.arange(0, hidden_dim, 2), "float32")  # (ceil(D/2),)
    inverse_frequency = ops.power(ops.cast(max_wavelength, "float32"), -pair_index / hidden_dim)
    angles = positions[:, None] * inverse_frequency[None, :]  # (T, ceil(D/2))
    if layout == "concatenated":
        # (T, ceil(D/2)) twice -> (T, D): sin, sin, ..., cos, cos, ...
        cosines = ops.cos(angles)[:, : hidden_dim // 2]  # (T, floor(D/2))
        return ops.concatenate([ops.sin(angles), cosines], axis=-1)
    # (T, ceil(D/2), 2) -> (T, 2 * ceil(D/2)): sin, cos, sin, cos, ...
    table = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
    table = ops.reshape(table, (length, -1))
    return table[:, :hidden_dim]


@keras.saving.register_keras_serializable(package="transformer_keras")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sinusoidal position encoding (Vaswani et al., 2017, section 3.5).

    Returns the encoding only; add it to the token embeddings yourself (or use
    `TokenAndPositionEmbedding`).

    Args:
        max_wavelength: the base of the geometric progression of wavelengths.
            Defaults to 10000, the paper's value.
        layout: `"interleaved"` (the paper: sine, cosine, sine, ...) or
            `"concatenated"` (all sines, then all cosines: Marian's).

    Call arguments:
        inputs: a `(B, T, D)` tensor; only its shape is used.
        start_index: position of the first token (KV-cache decoding).

    Returns:
        A `(B, T, D)` tensor of position encodings in the compute dtype.

    Example:
    >>> import numpy as np
    >>> layer = SinusoidalPositionEncoding()
    >>> tuple(layer(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, max_wavelength=10000.0, layout="interleaved", **kwargs):
        super().__init__(**kwargs)
        if max_wavelength <= 1:
            raise ValueError(
                "`max_wavelength` must be greater than 1. "
                f"Received: max_wavelength={max_wavelength}"
            )
        check_choice("layout", layout, LAYOUTS)
        self.max_wavelength = max_wavelength
        self.layout = layout

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        table = sinusoidal_table(
            shape[-2], inputs.shape[-1], self.max_wavelength, start_index, self.layout
        )
        return ops.broadcast_to(ops.cast(table, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_wavelength": self.max_wavelength,
            "layout": self.layout,
        }


@keras.saving.register_keras_serializable(package="transformer_keras")
class PositionEmbedding(keras.layers.Layer):
    """A learned position embedding table of `max_sequence_length` rows.

    Args:
        max_sequence_length: number of positions in the table.
        initializer: initializer of the table. Defaults to `"glorot_uniform"`.

    Call arguments:
        inputs: a `(B, T, D)` tensor; only its shape is used.
        start_index: position of the first token (KV-cache decoding).

    Returns:
        A `(B, T, D)` tensor: rows `start_index .. start_index + T - 1`.

    Raises:
        ValueError: when the static `start_index + T` exceeds
            `max_sequence_length`.

    Example:
    >>> import numpy as np
    >>> layer = PositionEmbedding(max_sequence_length=16)
    >>> tuple(layer(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, max_sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("max_sequence_length", max_sequence_length)
        self.max_sequence_length = max_sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs, start_index=0):
        length = inputs.shape[-2]
        if length is not None and isinstance(start_index, int):
            length += start_index  # last position read, plus one
        if length is not None and length > self.max_sequence_length:
            raise ValueError(
                "The sequence is longer than the learned position table "
                f"(max_sequence_length={self.max_sequence_length}). "
                f"Received: sequence_length={length}"
            )
        shape = ops.shape(inputs)
        if isinstance(start_index, int):  # training, a full pass: a plain slice
            table = ops.convert_to_tensor(self.embeddings)  # (max_sequence_length, D)
            rows = ops.slice(table, (start_index, 0), (shape[-2], table.shape[-1]))  # (T, D)
        else:
            # A tensor start (decoding): a gather, not a slice. XLA needs a
            # slice's start at compile time, so a sliced tensor `start_index`
            # would compile one program per decoding position.
            positions = ops.arange(shape[-2], dtype="int32") + ops.cast(start_index, "int32")
            rows = ops.take(self.embeddings, positions, axis=0)  # (T, D)
        return ops.broadcast_to(ops.cast(rows, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_sequence_length": self.max_sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="transformer_keras")
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding, RoPE (Su et al., 2021).

    Rotates each pair `(x[i], x[i + H/2])` of a query or key head by the angle
    `position / max_wavelength^(2i / H)`, so that the dot product of a query and
    a key depends only on their distance. `MultiHeadAttention` applies it to
    queries and keys when built with `use_rotary=True`.

    Args:
        max_wavelength: base of the wavelengths. Defaults to 10000.

    Call arguments:
        inputs: `(B, T, N, H)` projected queries or keys, `H` even.
        start_index: position of the first token (KV-cache decoding).

    Returns:
        The rotated tensor, same shape and dtype.

    Example:
    >>> import numpy as np
    >>> tuple(RotaryEmbedding()(np.ones((1, 4, 2, 8), "float32")).shape)
    (1, 4, 2, 8)
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if max_wavelength <= 1:
            raise ValueError(
                "`max_wavelength` must be greater than 1. "
                f"Received: max_wavelength={max_wavelength}"
            )
        self.max_wavelength = max_wavelength

    def call(self, inputs, start_index=0):
        head_dim = inputs.shape[-1]
        if head_dim % 2:
            raise ValueError(
                f"Rotary embedding needs an even head size. Received: head_dim={head_dim}"
            )
        length = ops.shape(inputs)[1]
        positions = ops.cast(ops.arange(length) + start_index, "float32")  # (T,)
        pair_index = ops.cast(ops.arange(0, head_dim, 2), "float32")  # (H/2,)
        inverse_frequency = ops.power(
            ops.cast(self.max_wavelength, "float32"), -pair_index / head_dim
        )
        angles = positions[:, None] * inverse_frequency[None, :]  # (T, H/2)
        angles = ops.concatenate([angles, angles], axis=-1)[None, :, None, :]
        # angles: (1, T, 1, H), broadcast over batch and heads.
        cos = ops.cast(ops.cos(angles), inputs.dtype)
        sin = ops.cast(ops.sin(angles), inputs.dtype)
        first_half, second_half = ops.split(inputs, 2, axis=-1)
        rotated_half = ops.concatenate([-second_half, first_half], axis=-1)
        return inputs * cos + rotated_half * sin

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}
