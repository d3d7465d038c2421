"""FeedForward and FeedForwardBlock: harness, NumPy equality, argument errors."""

import math

import numpy as np
import pytest

from tests.harness import run_layer_test
from transformer_keras.layers import FeedForward, FeedForwardBlock

WIDTH, INNER = 8, 16


def _randomize(layer, rng):
    layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])


def _numpy_gelu(x):
    """Exact GELU, `x * Phi(x)` (Hendrycks and Gimpel, 2016)."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _numpy_gelu_tanh(x):
    """GELU's tanh approximation (Hendrycks and Gimpel, 2016, section 2; GPT-2's)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _numpy_silu(x):
    return x / (1.0 + np.exp(-x))


def _numpy_feedforward(layer, x):
    """`act(x W1 + b1) W2 + b2` (section 3.3), or `(silu(x W) * x V) W2 + b2`."""
    inner = layer.inner_dense
    hidden = x @ np.float64(inner.kernel.numpy()) + np.float64(inner.bias.numpy())
    if layer.activation == "relu":
        hidden = np.maximum(hidden, 0.0)
    elif layer.activation == "gelu":
        hidden = _numpy_gelu(hidden)
    elif layer.activation == "gelu_tanh":
        hidden = _numpy_gelu_tanh(hidden)
    elif layer.activation == "silu":
        hidden = _numpy_silu(hidden)
    else:
        gate = layer.gate_dense
        gate_values = x @ np.float64(gate.kernel.numpy()) + np.float64(gate.bias.numpy())
        hidden = _numpy_silu(hidden) * gate_values
    out = layer.output_dense
    return hidden @ np.float64(out.kernel.numpy()) + np.float64(out.bias.numpy())


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh", "silu", "swiglu"])
def test_feedforward_equals_numpy(activation, rng):
    layer = FeedForward(WIDTH, INNER, activation=activation)
    x = rng.normal(size=(2, 4, WIDTH))
    layer(x.astype("float32"))
    _randomize(layer, rng)
    np.testing.assert_allclose(
        layer(x.astype("float32")), _numpy_feedforward(layer, x), atol=1e-5
    )


@pytest.mark.parametrize("activation", ["relu", "gelu_tanh", "swiglu"])
def test_feedforward_harness(activation, rng, tmp_path):
    run_layer_test(
        FeedForward,
        {"hidden_dim": WIDTH, "intermediate_dim": INNER, "activation": activation},
        rng.normal(size=(2, 4, WIDTH)).astype("float32"),
        expected_output_shape=(2, 4, WIDTH),
        tmp_path=tmp_path,
    )


def test_feedforward_block_harness(rng, tmp_path):
    run_layer_test(
        FeedForwardBlock,
        {"hidden_dim": WIDTH, "intermediate_dim": INNER, "activation": "gelu", "dropout": 0.1},
        rng.normal(size=(2, 4, WIDTH)).astype("float32"),
        expected_output_shape=(2, 4, WIDTH),
        tmp_path=tmp_path,
    )


def test_swiglu_has_a_gate_and_relu_has_none():
    assert FeedForward(WIDTH, INNER, activation="swiglu").gate_dense is not None
    assert FeedForward(WIDTH, INNER, activation="relu").gate_dense is None


@pytest.mark.parametrize("normalize_first", [False, True])
def test_feedforward_block_is_the_residual_around_the_network(normalize_first, rng):
    block = FeedForwardBlock(WIDTH, INNER, normalize_first=normalize_first)
    x = rng.normal(size=(2, 3, WIDTH)).astype("float32")
    outputs = np.asarray(block(x))
    if normalize_first:
        expected = x + np.asarray(block.feedforward(block.norm(x)))
    else:
        expected = np.asarray(block.norm(x + np.asarray(block.feedforward(x))))
    np.testing.assert_allclose(outputs, expected, atol=1e-6)


def test_wrong_input_width_is_a_clear_error():
    with pytest.raises(ValueError, match=r"hidden_dim=8.*Received: inputs.shape=\(1, 3, 6\)"):
        FeedForward(WIDTH, INNER)(np.zeros((1, 3, 6), "float32"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activation": "tanh"}, r"`activation`.*Received: activation='tanh'"),
        ({"intermediate_dim": 0}, r"`intermediate_dim`.*Received: intermediate_dim=0"),
        ({"hidden_dim": 2.5}, r"`hidden_dim`.*Received: hidden_dim=2.5"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeedForward(**{"hidden_dim": WIDTH, "intermediate_dim": INNER, **kwargs})


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_block_dropout_outside_unit_interval_is_a_clear_error(dropout):
    with pytest.raises(ValueError, match=rf"`dropout`.*Received: dropout={dropout}$"):
        FeedForwardBlock(WIDTH, INNER, dropout=dropout)
