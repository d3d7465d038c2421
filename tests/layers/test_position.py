"""Sinusoidal, learned and rotary position layers: harness, formulas, errors.

The sinusoidal table is also checked against the paper's equations in
test_reference.py; here are its shape, offset and dtype behaviour.
"""

import keras
import numpy as np
import pytest

from tests.harness import run_layer_test
from transformer_keras.layers import (
    PositionEmbedding,
    RotaryEmbedding,
    SinusoidalPositionEncoding,
)

B, T, D = 2, 6, 8


def _inputs(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def _numpy_rotary(x, start_index=0, max_wavelength=10000.0):
    """RoPE (Su et al., 2021), float64: rotate pairs `(x[i], x[i + H/2])`.

    `x` is `(B, T, N, H)`; the pair `i` of position `p` turns by the angle
    `p / max_wavelength^(2i / H)`.
    """
    head_dim = x.shape[-1]
    half = head_dim // 2
    positions = np.arange(x.shape[1]) + start_index
    frequencies = max_wavelength ** (-2.0 * np.arange(half) / head_dim)
    angles = positions[:, None] * frequencies[None, :]  # (T, H/2)
    cos, sin = np.cos(angles)[None, :, None], np.sin(angles)[None, :, None]
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], -1)


# ----------------------------------------------------------------------- harness
@pytest.mark.parametrize("layout", ["interleaved", "concatenated"])
def test_sinusoidal_harness(layout, rng, tmp_path):
    run_layer_test(
        SinusoidalPositionEncoding,
        {"max_wavelength": 100.0, "layout": layout},
        _inputs(rng, B, T, D),
        expected_output_shape=(B, T, D),
        run_training=False,  # no weights to train
        tmp_path=tmp_path,
    )


def test_learned_position_harness(rng, tmp_path):
    run_layer_test(
        PositionEmbedding,
        {"max_sequence_length": 8},
        _inputs(rng, B, T, D),
        call_kwargs={"start_index": 2},
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


def test_rotary_harness(rng, tmp_path):
    run_layer_test(
        RotaryEmbedding,
        {},
        _inputs(rng, B, T, 2, 4),
        expected_output_shape=(B, T, 2, 4),
        run_training=False,  # no weights to train
        tmp_path=tmp_path,
    )


# ---------------------------------------------------------------------- sinusoids
def test_sinusoidal_start_index_shifts_the_table(rng):
    layer = SinusoidalPositionEncoding()
    full = np.asarray(layer(np.zeros((1, 7, D), "float32")))
    np.testing.assert_allclose(
        layer(np.zeros((1, 3, D), "float32"), start_index=4), full[:, 4:], atol=1e-6
    )


def test_sinusoidal_odd_width_keeps_the_width():
    assert tuple(SinusoidalPositionEncoding()(np.zeros((1, 3, 7), "float32")).shape) == (
        1,
        3,
        7,
    )


def _numpy_concatenated_sinusoids(length, width, start_index=0):
    """Marian's table, float64: `ceil(D/2)` sines, then `floor(D/2)` cosines.

    Feature `j` of position `p` has the angle `p / 10000^(2 floor(j/2) / D)`
    (the paper's); the sines take the even features' angles, the cosines the
    odd ones', each in order.
    """
    positions = np.arange(start_index, start_index + length)[:, None]
    features = np.arange(width)[None, :]
    angles = positions / np.power(10000.0, 2 * (features // 2) / width)  # (T, D)
    return np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1)


@pytest.mark.parametrize("width", [8, 7])
def test_concatenated_layout_equals_marians_table(width):
    layer = SinusoidalPositionEncoding(layout="concatenated")
    outputs = np.asarray(layer(np.zeros((1, 5, width), "float32"), start_index=3))
    np.testing.assert_allclose(
        outputs[0], _numpy_concatenated_sinusoids(5, width, 3), atol=1e-5
    )


def test_an_unknown_layout_is_named():
    with pytest.raises(ValueError, match="Received: layout='split'"):
        SinusoidalPositionEncoding(layout="split")


# -------------------------------------------------------------------- learned table
@pytest.mark.parametrize("as_tensor", [False, True], ids=["int-slice", "tensor-gather"])
def test_learned_positions_are_rows_of_the_table(as_tensor, rng):
    layer = PositionEmbedding(max_sequence_length=8)
    start_index = keras.ops.convert_to_tensor(5, "int32") if as_tensor else 5
    outputs = np.asarray(layer(np.zeros((B, 3, D), "float32"), start_index=start_index))
    table = np.asarray(layer.embeddings)
    np.testing.assert_allclose(outputs, np.broadcast_to(table[5:8], (B, 3, D)), atol=0)


@pytest.mark.parametrize("length, start_index, received", [(9, 0, 9), (3, 6, 9)])
def test_sequence_longer_than_the_learned_table_is_a_clear_error(length, start_index, received):
    layer = PositionEmbedding(max_sequence_length=8)
    with pytest.raises(
        ValueError, match=rf"max_sequence_length=8.*Received: sequence_length={received}"
    ):
        layer(np.zeros((1, length, D), "float32"), start_index=start_index)


# -------------------------------------------------------------------------- RoPE
@pytest.mark.parametrize("start_index", [0, 3])
def test_rotary_equals_numpy_rotation(start_index, rng):
    x = rng.normal(size=(B, T, 2, 8))
    np.testing.assert_allclose(
        RotaryEmbedding()(x.astype("float32"), start_index=start_index),
        _numpy_rotary(x, start_index),
        atol=1e-5,
    )


def test_rotary_dot_products_depend_only_on_the_distance(rng):
    query, key = rng.normal(size=(1, 1, 1, 8)), rng.normal(size=(1, 1, 1, 8))
    rotary = RotaryEmbedding()

    def score(query_position, key_position):
        q = np.asarray(rotary(query.astype("float32"), start_index=query_position))
        k = np.asarray(rotary(key.astype("float32"), start_index=key_position))
        return float((q * k).sum())

    assert score(5, 2) == pytest.approx(score(9, 6), abs=1e-5)
    assert score(5, 2) != pytest.approx(score(5, 4), abs=1e-3)


def test_rotary_keeps_norms_and_position_zero(rng):
    x = rng.normal(size=(B, T, 2, 8)).astype("float32")
    rotated = np.asarray(RotaryEmbedding()(x))
    np.testing.assert_allclose(
        np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5
    )
    np.testing.assert_allclose(rotated[:, 0], x[:, 0], atol=1e-6)


# ------------------------------------------------------------------------ errors
def test_rotary_odd_head_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"even head size.*Received: head_dim=5"):
        RotaryEmbedding()(np.zeros((1, 2, 1, 5), "float32"))


@pytest.mark.parametrize("layer_class", [SinusoidalPositionEncoding, RotaryEmbedding])
def test_max_wavelength_must_exceed_one(layer_class):
    with pytest.raises(ValueError, match=r"`max_wavelength`.*Received: max_wavelength=1$"):
        layer_class(max_wavelength=1)


def test_learned_table_needs_a_positive_length():
    with pytest.raises(ValueError, match=r"Received: max_sequence_length=0$"):
        PositionEmbedding(max_sequence_length=0)


@pytest.mark.tf_only
@pytest.mark.parametrize(
    "layer_class", [SinusoidalPositionEncoding, PositionEmbedding, RotaryEmbedding]
)
def test_a_tensor_start_index_stays_a_runtime_input_under_xla(layer_class):
    """One XLA program serves every decoding position: no recompilation per step."""
    import tensorflow as tf

    if layer_class is PositionEmbedding:
        layer = layer_class(max_sequence_length=16)
    else:
        layer = layer_class()
    shape = (1, 1, 2, 8) if layer_class is RotaryEmbedding else (1, 1, 8)
    inputs = tf.random.normal(shape)
    layer(inputs)  # Build.
    compiled = tf.function(lambda x, start: layer(x, start_index=start), jit_compile=True)
    hlo = compiled.experimental_get_compiler_ir(inputs, tf.constant(3))(stage="hlo")
    assert "s32[] parameter(" in hlo  # Not folded into a compile-time constant.
    for start in (0, 5, 9):
        np.testing.assert_allclose(
            compiled(inputs, tf.constant(start)).numpy(),
            layer(inputs, start_index=start).numpy(),
            atol=1e-6,
        )
