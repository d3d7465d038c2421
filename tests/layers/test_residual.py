"""ResidualBlock: the post-LN and pre-LN orders of section 3.1, dropout, errors."""

import numpy as np
import pytest

from tests.harness import run_layer_test
from transformer_keras.layers import ResidualBlock

B, T, D = 2, 3, 8


def _numpy_layer_norm(x, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_harness(normalize_first, rng, tmp_path):
    run_layer_test(
        ResidualBlock,
        {"dropout": 0.1, "normalize_first": normalize_first, "layer_norm_epsilon": 1e-6},
        rng.normal(size=(B, T, D)).astype("float32"),
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


def test_post_and_pre_layer_norm_orders(rng):
    x = rng.normal(size=(B, T, D))

    def sublayer(inputs):
        return 3.0 * inputs + 1.0

    post = ResidualBlock(layer_norm_epsilon=1e-3)
    pre = ResidualBlock(normalize_first=True, layer_norm_epsilon=1e-3)
    np.testing.assert_allclose(
        post.residual(x.astype("float32"), sublayer),
        _numpy_layer_norm(x + sublayer(x), 1e-3),  # LayerNorm(x + Sublayer(x))
        atol=1e-5,
    )
    np.testing.assert_allclose(
        pre.residual(x.astype("float32"), sublayer),
        x + sublayer(_numpy_layer_norm(x, 1e-3)),  # x + Sublayer(LayerNorm(x))
        atol=1e-5,
    )


def test_residual_dropout_is_active_only_when_training(rng):
    block = ResidualBlock(dropout=0.5, normalize_first=True)
    x = rng.normal(size=(B, T, D)).astype("float32")
    expected = x + _numpy_layer_norm(x, 1e-5)  # x + Identity(LayerNorm(x))
    np.testing.assert_allclose(block(x), expected, atol=1e-5)
    np.testing.assert_allclose(block(x, training=False), expected, atol=1e-5)
    assert np.abs(np.asarray(block(x, training=True)) - expected).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dropout": 1.0}, r"`dropout`.*Received: dropout=1.0$"),
        ({"dropout": -0.1}, r"`dropout`.*Received: dropout=-0.1$"),
        ({"dropout": "0.1"}, r"`dropout`.*Received: dropout='0.1'$"),
        (
            {"layer_norm_epsilon": -1e-5},
            r"`layer_norm_epsilon`.*Received: layer_norm_epsilon=-1e-05$",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResidualBlock(**kwargs)
