"""The layers equal a float64 NumPy reference of "Attention Is All You Need".

The reference below is written from the equations of sections 3.1-3.5 of
Vaswani et al. (2017), in float64, reading its weights from the Keras layers;
the layers run in float32 and must agree to 1e-5 (tiny sizes keep float32
rounding well below that).

Legend: B batch, T target length, S source length, N heads, H head size,
D width, F feed-forward width.
"""

import math

import numpy as np
import pytest

from transformer_keras.layers import (
    DecoderLayer,
    EncoderLayer,
    MultiHeadAttention,
    SinusoidalPositionEncoding,
)

B, T, S, D, N, F = 2, 5, 6, 8, 2, 16
H = D // N
ATOL = 1e-5


# ----------------------------------------------------------- the NumPy reference
def softmax(x):
    exponentials = np.exp(x - x.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def scaled_dot_product_attention(q, k, v, mask=None):
    """Equation (1): `softmax(Q K^T / sqrt(d_k)) V`.

    `q` is `(..., T, H)`, `k` and `v` are `(..., S, H)`; `mask` broadcasts to
    `(..., T, S)` with True = may attend (illegal connections get -inf before
    the softmax, section 3.2.3).
    """
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])  # (..., T, S)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return softmax(scores) @ v


def multi_head_attention(weights, queries, keys_values, mask=None):
    """Section 3.2.2: `Concat(head_1, ..., head_h) W^O`, with
    `head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)` (plus the layer's biases).

    `mask` is `(B, T, S)`; `weights` come from `attention_weights`.
    """
    heads = []
    for i in range(weights["query_kernel"].shape[1]):
        q = queries @ weights["query_kernel"][:, i] + weights["query_bias"][i]  # (B, T, H)
        k = keys_values @ weights["key_kernel"][:, i] + weights["key_bias"][i]  # (B, S, H)
        v = keys_values @ weights["value_kernel"][:, i] + weights["value_bias"][i]
        heads.append(scaled_dot_product_attention(q, k, v, mask))
    concatenated = np.concatenate(heads, axis=-1)  # (B, T, N * H)
    output_kernel = weights["output_kernel"]  # (N, H, D) -> (N * H, D)
    output_kernel = output_kernel.reshape(-1, output_kernel.shape[-1])
    return concatenated @ output_kernel + weights["output_bias"]


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def feed_forward(weights, x):
    """Equation (2): `FFN(x) = max(0, x W_1 + b_1) W_2 + b_2`."""
    hidden = np.maximum(0.0, x @ weights["inner_kernel"] + weights["inner_bias"])
    return hidden @ weights["output_kernel"] + weights["output_bias"]


def positional_encoding(length, width):
    """Section 3.5, element by element as printed in the paper."""
    table = np.zeros((length, width))
    for pos in range(length):
        for i in range(width // 2):
            table[pos, 2 * i] = math.sin(pos / 10000 ** (2 * i / width))
            table[pos, 2 * i + 1] = math.cos(pos / 10000 ** (2 * i / width))
    return table


def residual(norm, x, sublayer_output):
    """Section 3.1: `LayerNorm(x + Sublayer(x))` (dropout off)."""
    return layer_norm(x + sublayer_output, *norm)


def encoder_layer(weights, x, padding_mask):
    """Section 3.1: self-attention then feed-forward, each with `residual`."""
    mask = padding_mask[:, None, :]  # (B, 1, S): no query attends to padding
    x = residual(
        weights["attention_norm"], x, multi_head_attention(weights["attention"], x, x, mask)
    )
    return residual(weights["feedforward_norm"], x, feed_forward(weights["feedforward"], x))


def decoder_layer(weights, y, memory, memory_mask):
    """Section 3.1: masked self-attention, attention over the encoder output, FFN."""
    length = y.shape[1]
    causal = np.tril(np.ones((length, length), bool))[None]  # (1, T, T), section 3.2.3
    y = residual(
        weights["attention_norm"], y, multi_head_attention(weights["attention"], y, y, causal)
    )
    cross = multi_head_attention(weights["cross_attention"], y, memory, memory_mask[:, None, :])
    y = residual(weights["cross_attention_norm"], y, cross)
    return residual(weights["feedforward_norm"], y, feed_forward(weights["feedforward"], y))


# -------------------------------------------------- reading the layers' weights
def _float64(variable):
    return np.asarray(variable.numpy(), "float64")


def attention_weights(attention):
    weights = {}
    for name in ("query", "key", "value", "output"):
        dense = getattr(attention, f"{name}_dense")
        weights[f"{name}_kernel"] = _float64(dense.kernel)
        weights[f"{name}_bias"] = _float64(dense.bias)
    return weights


def _norm_weights(block):
    return _float64(block.norm.gamma), _float64(block.norm.beta), block.layer_norm_epsilon


def transformer_layer_weights(layer):
    feedforward = layer.feedforward_block.feedforward
    weights = {
        "attention": attention_weights(layer.self_attention_block.attention),
        "attention_norm": _norm_weights(layer.self_attention_block),
        "feedforward": {
            "inner_kernel": _float64(feedforward.inner_dense.kernel),
            "inner_bias": _float64(feedforward.inner_dense.bias),
            "output_kernel": _float64(feedforward.output_dense.kernel),
            "output_bias": _float64(feedforward.output_dense.bias),
        },
        "feedforward_norm": _norm_weights(layer.feedforward_block),
    }
    if getattr(layer, "cross_attention_block", None) is not None:
        weights["cross_attention"] = attention_weights(layer.cross_attention_block.attention)
        weights["cross_attention_norm"] = _norm_weights(layer.cross_attention_block)
    return weights


def _randomize(layer, rng):
    """Random weights everywhere (biases, gammas and betas too) so that each counts."""
    layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])


@pytest.fixture
def padding():
    return np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)  # (B, S)


# ------------------------------------------------------------------------ tests
@pytest.mark.parametrize("return_attention_scores", [False, True], ids=["fused", "explicit"])
def test_scaled_dot_product_attention(return_attention_scores, rng, padding):
    layer = MultiHeadAttention(num_heads=N, key_dim=H)
    layer.build((None, T, D))
    q, k, v = (rng.normal(size=(B, length, N, H)) for length in (T, S, S))  # (B, T|S, N, H)
    mask = np.broadcast_to(padding[:, None, :], (B, T, S)).copy()
    mask[:, :, 0] &= np.tri(T, 1, dtype=bool)[:, 0]  # some keys hidden from some queries
    outputs, _ = layer._compute_attention(
        *(a.astype("float32") for a in (q, k, v)),
        attention_mask=mask,
        return_attention_scores=return_attention_scores,
    )
    # (B, T, N, H) -> (B, N, T, H) per head, as the equation is written.
    expected = scaled_dot_product_attention(
        q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3), mask[:, None]
    ).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(outputs, expected, atol=ATOL)


@pytest.mark.parametrize("self_attention", [True, False], ids=["self", "cross"])
def test_multi_head_attention(self_attention, rng, padding):
    queries = rng.normal(size=(B, T, D))
    keys_values = queries if self_attention else rng.normal(size=(B, S, D))
    mask = padding[:, None, : keys_values.shape[1]]  # (B, 1, S)
    layer = MultiHeadAttention(num_heads=N, key_dim=H)
    layer(queries.astype("float32"), keys_values.astype("float32"))
    _randomize(layer, rng)
    outputs = layer(
        queries.astype("float32"),
        keys_values.astype("float32"),
        value_padding_mask=padding[:, : keys_values.shape[1]],
    )
    expected = multi_head_attention(attention_weights(layer), queries, keys_values, mask)
    np.testing.assert_allclose(outputs, expected, atol=ATOL)


def test_sinusoidal_position_encoding():
    length, width = 50, 16
    outputs = SinusoidalPositionEncoding()(np.zeros((1, length, width), "float32"))
    np.testing.assert_allclose(outputs[0], positional_encoding(length, width), atol=ATOL)


def test_encoder_layer(rng, padding):
    layer = EncoderLayer(hidden_dim=D, num_heads=N, intermediate_dim=F)
    x = rng.normal(size=(B, S, D))
    layer(x.astype("float32"))
    _randomize(layer, rng)
    outputs = np.asarray(layer(x.astype("float32"), padding_mask=padding))
    expected = encoder_layer(transformer_layer_weights(layer), x, padding)
    np.testing.assert_allclose(outputs[padding], expected[padding], atol=ATOL)


def test_decoder_layer(rng, padding):
    layer = DecoderLayer(hidden_dim=D, num_heads=N, intermediate_dim=F)
    y, memory = rng.normal(size=(B, T, D)), rng.normal(size=(B, S, D))
    layer(y.astype("float32"), context=memory.astype("float32"))
    _randomize(layer, rng)
    outputs = layer(
        y.astype("float32"), context=memory.astype("float32"), context_padding_mask=padding
    )
    expected = decoder_layer(transformer_layer_weights(layer), y, memory, padding)
    np.testing.assert_allclose(outputs, expected, atol=ATOL)
