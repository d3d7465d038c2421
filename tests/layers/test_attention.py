"""MultiHeadAttention and AttentionBlock: harness, masks, cache, GQA, Keras equality.

Legend: B batch, T query length, S key length, N heads, K key/value heads,
H head size, D width.
"""

import keras
import numpy as np
import pytest
from keras import ops

from tests.harness import dtype_policy, run_layer_test
from transformer_keras.layers import AttentionBlock, MultiHeadAttention

B, T, S, D, N, H = 2, 5, 6, 8, 2, 4


def _attention(**kwargs):
    return MultiHeadAttention(**{"num_heads": N, "key_dim": H, **kwargs})


def _randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0.0, scale, w.shape) for w in layer.get_weights()])


def _built_attention(rng, query, value=None, **kwargs):
    """A layer built on `query` (and `value`) with random weights, biases included."""
    layer = _attention(**kwargs)
    layer(query, value)
    _randomize(layer, rng)
    return layer


def _inputs(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# ----------------------------------------------------------------------- harness
def test_self_attention_harness(rng, tmp_path):
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": N, "key_dim": H, "dropout": 0.1},
        _inputs(rng, B, T, D),
        call_kwargs={
            "query_padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
            "use_causal_mask": True,
        },
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "method, expected_output_shape, mixed_output_dtype",
    [("call", (B, T, D), None), ("attention_scores", (B, 4, T, T), "float32")],
)
def test_grouped_query_rotary_attention_with_scores_harness(
    method, expected_output_shape, mixed_output_dtype, rng, tmp_path
):
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": 4, "key_dim": H, "num_key_value_heads": 2, "use_rotary": True},
        _inputs(rng, B, T, D),
        call_kwargs={"use_causal_mask": True},
        expected_output_shape=expected_output_shape,
        method=method,
        mixed_output_dtype=mixed_output_dtype,
        tmp_path=tmp_path,
    )


def test_cached_self_attention_step_harness(rng, tmp_path):
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": 4, "key_dim": H, "num_key_value_heads": 2, "use_rotary": True},
        _inputs(rng, B, 1, D),
        call_kwargs={"cache": np.zeros((B, 2, 2, T, H), "float32"), "cache_update_index": 2},
        expected_output_shape=((B, 1, D), (B, 2, 2, T, H)),
        method="call_with_cache",
        run_training=False,  # a decoding step, not a training graph
        tmp_path=tmp_path,
    )


def test_cross_attention_harness(rng, tmp_path):
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": N, "key_dim": H, "output_shape": 6},
        _inputs(rng, B, T, D),
        call_kwargs={
            "value": _inputs(rng, B, S, D),
            "value_padding_mask": np.array([[1] * 4 + [0] * 2, [1] * 6], bool),
        },
        expected_output_shape=(B, T, 6),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("normalize_first", [False, True])
def test_attention_block_harness(normalize_first, rng, tmp_path):
    run_layer_test(
        AttentionBlock,
        {
            "num_heads": N,
            "key_dim": H,
            "dropout": 0.1,
            "attention_dropout": 0.1,
            "normalize_first": normalize_first,
        },
        _inputs(rng, B, T, D),
        call_kwargs={
            "context": _inputs(rng, B, S, D),
            "context_padding_mask": np.array([[1] * 4 + [0] * 2, [1] * 6], bool),
        },
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


# ------------------------------------------------------------ reference equality
@pytest.mark.parametrize("self_attention", [True, False])
def test_equals_keras_multi_head_attention(self_attention, rng):
    query = _inputs(rng, B, T, D)
    value = query if self_attention else _inputs(rng, B, S, D)
    attention_mask = rng.random((B, T, value.shape[1])) > 0.3
    attention_mask[..., 0] = True  # every query sees at least one key
    ours = _built_attention(rng, query, value)
    reference = keras.layers.MultiHeadAttention(num_heads=N, key_dim=H)
    reference(query, value)
    reference.set_weights(ours.get_weights())
    kwargs = {"attention_mask": attention_mask, "use_causal_mask": self_attention}
    np.testing.assert_allclose(
        ours(query, value, **kwargs), reference(query, value, **kwargs), atol=1e-5
    )


def test_grouped_query_attention_equals_standard_attention_with_shared_heads(rng):
    query = _inputs(rng, B, T, D)
    grouped = _built_attention(rng, query, num_heads=4, num_key_value_heads=2)
    standard = _attention(num_heads=4)
    standard(query)
    # Query heads 0, 1 share key/value head 0; query heads 2, 3 share head 1.
    weights = [
        np.repeat(w, 2, axis=1 if w.ndim == 3 else 0) if i in (2, 3, 4, 5) else w
        for i, w in enumerate(grouped.get_weights())
    ]
    standard.set_weights(weights)
    np.testing.assert_allclose(
        grouped(query, use_causal_mask=True), standard(query, use_causal_mask=True), atol=1e-5
    )


# ----------------------------------------------------------------- mask polarity
def test_key_marked_false_gets_zero_probability_and_true_keys_share_all_of_it(rng):
    query, value = _inputs(rng, B, T, D), _inputs(rng, B, S, D)
    layer = _built_attention(rng, query, value)
    value_padding_mask = np.array([[1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 0]], bool)
    scores = layer.attention_scores(query, value, value_padding_mask=value_padding_mask)
    scores = np.asarray(scores)  # (B, N, T, S)
    keys_of_scores = np.broadcast_to(value_padding_mask[:, None, None, :], scores.shape)
    assert (scores[~keys_of_scores] == 0.0).all()
    assert (scores[keys_of_scores] > 0.0).all()
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("mask_argument", ["value_padding_mask", "attention_mask"])
def test_only_keys_marked_true_change_the_output(mask_argument, rng):
    query, value = _inputs(rng, 1, T, D), _inputs(rng, 1, S, D)
    layer = _built_attention(rng, query, value)
    key_is_visible = np.array([[True, True, False, True, False, True]])  # (1, S)
    mask = (
        key_is_visible
        if mask_argument == "value_padding_mask"
        else np.broadcast_to(key_is_visible[:, None, :], (1, T, S))
    )

    def attend(values):
        return np.asarray(layer(query, values, **{mask_argument: mask}))

    outputs = attend(value)
    changed_hidden_key, changed_visible_key = value.copy(), value.copy()
    changed_hidden_key[0, 2] += 10.0
    changed_visible_key[0, 3] += 10.0
    np.testing.assert_allclose(attend(changed_hidden_key), outputs, atol=1e-6)
    assert np.abs(attend(changed_visible_key) - outputs).max() > 1e-2


def test_scores_rows_sum_to_one_with_every_mask_source(rng):
    query = _inputs(rng, B, T, D)
    layer = _built_attention(rng, query, num_heads=4, num_key_value_heads=2)
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    scores = layer.attention_scores(query, query_padding_mask=padding, use_causal_mask=True)
    scores = np.asarray(scores)
    assert scores.shape == (B, 4, T, T)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    future = np.triu(np.ones((T, T), bool), 1)[None, None]  # (1, 1, T, S)
    real_query = padding[:, None, :, None]  # (B, 1, T, 1)
    assert (scores[np.broadcast_to(future & real_query, scores.shape)] == 0).all()


# --------------------------------------------------------------- fused, dropout
@pytest.mark.parametrize("use_rotary", [False, True])
def test_fused_path_equals_explicit_path(use_rotary, rng):
    query, value = _inputs(rng, B, T, D), _inputs(rng, B, T, D)
    layer = _built_attention(
        rng, query, value, num_heads=4, num_key_value_heads=2, use_rotary=use_rotary
    )
    kwargs = {
        "value_padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
        "use_causal_mask": True,
    }
    fused = layer(query, value, **kwargs)
    # The explicit path: the float32 probabilities applied to the value heads.
    scores = np.asarray(layer.attention_scores(query, value, **kwargs))  # (B, N, T, S)
    value_heads = np.repeat(np.asarray(layer.value_dense(value)), 2, axis=2)  # (B, S, N, H)
    explicit = layer.output_dense(np.einsum("bnts,bsnh->btnh", scores, value_heads))
    np.testing.assert_allclose(fused, explicit, atol=1e-6)


def test_attention_dropout_is_active_only_when_training(rng):
    query = _inputs(rng, B, T, D)
    layer = _built_attention(rng, query, dropout=0.5)
    no_dropout = _attention()
    no_dropout(query)
    no_dropout.set_weights(layer.get_weights())
    inference = np.asarray(layer(query, training=False))
    np.testing.assert_allclose(inference, no_dropout(query), atol=1e-6)
    np.testing.assert_allclose(layer(query), inference, atol=1e-6)
    assert np.abs(np.asarray(layer(query, training=True)) - inference).max() > 1e-3


def test_attention_block_dropouts_are_active_only_when_training(rng):
    block = AttentionBlock(num_heads=N, key_dim=H, dropout=0.5, attention_dropout=0.5)
    query = _inputs(rng, B, T, D)
    inference = np.asarray(block(query))
    np.testing.assert_allclose(block(query, training=False), inference, atol=1e-6)
    assert np.abs(np.asarray(block(query, training=True)) - inference).max() > 1e-3


# ------------------------------------------------------------ grouped-query heads
def test_grouped_query_shapes_of_weights_scores_and_cache(rng):
    query = _inputs(rng, B, T, D)
    layer = _attention(num_heads=4, num_key_value_heads=2)
    cache = np.zeros((B, 2, 2, T, H), "float32")  # (B, 2, K, S_max, H)
    outputs, new_cache = layer.call_with_cache(query, cache, cache_update_index=0)
    scores = layer.attention_scores(query)
    assert tuple(layer.query_dense.kernel.shape) == (D, 4, H)
    assert tuple(layer.key_dense.kernel.shape) == (D, 2, H)
    assert tuple(layer.value_dense.kernel.shape) == (D, 2, H)
    assert outputs.shape == (B, T, D)
    assert scores.shape == (B, 4, T, T)
    assert new_cache.shape == (B, 2, 2, T, H)  # heads before positions
    keys = np.transpose(new_cache[:, 0], (0, 2, 1, 3))  # (B, S, K, H)
    values = np.transpose(new_cache[:, 1], (0, 2, 1, 3))  # (B, S, K, H)
    np.testing.assert_allclose(keys, layer.key_dense(query), atol=1e-6)
    np.testing.assert_allclose(values, layer.value_dense(query), atol=1e-6)


# ------------------------------------------------------------------- the KV cache
def _decode(layer, query, chunks, num_key_value_heads):
    """Runs `query` through the cache in chunks of the given lengths."""
    batch, length, _ = query.shape
    cache = ops.zeros((batch, 2, num_key_value_heads, length, H))  # (B, 2, K, S_max, H)
    outputs, start = [], 0
    for size in chunks:
        step_outputs, cache = layer.call_with_cache(
            query[:, start : start + size],
            cache,
            cache_update_index=ops.convert_to_tensor(start, "int32"),
            use_causal_mask=True,
        )
        outputs.append(np.asarray(step_outputs))
        start += size
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize(
    "use_rotary, num_key_value_heads",
    [(False, None), (True, None), (False, 1), (True, 1)],
    ids=["plain", "rotary", "grouped", "rotary-grouped"],
)
def test_token_by_token_decoding_equals_the_full_pass(use_rotary, num_key_value_heads, rng):
    query = _inputs(rng, B, T, D)
    layer = _built_attention(
        rng, query, use_rotary=use_rotary, num_key_value_heads=num_key_value_heads
    )
    full = np.asarray(layer(query, use_causal_mask=True))
    num_kv = num_key_value_heads or N
    np.testing.assert_allclose(_decode(layer, query, [1] * T, num_kv), full, atol=1e-5)
    np.testing.assert_allclose(_decode(layer, query, [3, 1, 1], num_kv), full, atol=1e-5)


@pytest.mark.parametrize("use_bias, num_key_value_heads", [(True, None), (False, 1)])
def test_fused_decoding_projection_equals_the_three_projections(
    use_bias, num_key_value_heads, rng
):
    """Decoding projects with one concatenated kernel: same heads as the three layers."""
    query = _inputs(rng, B, T, D)
    layer = _built_attention(
        rng, query, use_bias=use_bias, num_key_value_heads=num_key_value_heads
    )
    assert layer._can_fuse()
    fused = layer._fused_projection(query)
    separate = (layer.query_dense(query), layer.key_dense(query), layer.value_dense(query))
    for fused_heads, heads in zip(fused, separate, strict=True):
        assert fused_heads.shape == heads.shape
        np.testing.assert_allclose(fused_heads, heads, atol=1e-6)


def test_decoding_with_a_lora_projection_uses_the_layer_itself(rng):
    """A LoRA-enabled projection is not fused (its low-rank update would be lost)."""
    query = _inputs(rng, B, T, D)
    layer = _built_attention(rng, query)
    layer.key_dense.enable_lora(rank=2)
    lora_b = layer.key_dense.lora_kernel_b  # zeros: make the update count
    lora_b.assign(rng.normal(size=tuple(lora_b.shape)).astype("float32"))
    assert not layer._can_fuse()
    full = np.asarray(layer(query, use_causal_mask=True))
    np.testing.assert_allclose(_decode(layer, query, [1] * T, N), full, atol=1e-5)


def test_static_cache_equals_attending_to_the_value(rng):
    query, value = _inputs(rng, B, T, D), _inputs(rng, B, S, D)
    layer = _built_attention(rng, query, value)
    mask = np.array([[1] * 4 + [0] * 2, [1] * 6], bool)
    cache = ops.stack([layer.key_dense(value), layer.value_dense(value)], axis=1)
    cache = ops.transpose(cache, (0, 1, 3, 2, 4))  # (B, 2, K, S, H)
    np.testing.assert_array_equal(layer.compute_static_cache(value), cache)
    expected = layer(query, value, value_padding_mask=mask)
    outputs = layer.call_with_static_cache(query, cache, value_padding_mask=mask)
    np.testing.assert_allclose(outputs, expected, atol=1e-6)


# ------------------------------------------------------------------ causality
def test_causal_prefix_invariance(rng):
    query = _inputs(rng, B, T, D)
    layer = _built_attention(rng, query)
    t = 2
    changed = query.copy()
    changed[:, t + 1 :] = _inputs(rng, B, T - t - 1, D)
    before = np.asarray(layer(query, use_causal_mask=True))
    after = np.asarray(layer(changed, use_causal_mask=True))
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-6)
    assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-3
    # Without the causal mask the prefix does see the change: the test can fail.
    assert (
        np.abs(
            np.asarray(layer(changed))[:, : t + 1] - np.asarray(layer(query))[:, : t + 1]
        ).max()
        > 1e-3
    )


# ------------------------------------------------------------------- residual
@pytest.mark.parametrize("normalize_first", [False, True])
def test_attention_block_is_the_residual_around_attention(normalize_first, rng):
    block = AttentionBlock(num_heads=N, key_dim=H, normalize_first=normalize_first)
    x = _inputs(rng, B, T, D)
    outputs = np.asarray(block(x, use_causal_mask=True))
    attention = block.attention
    if normalize_first:
        normalized = block.norm(x)
        expected = x + np.asarray(attention(normalized, use_causal_mask=True))
    else:
        expected = block.norm(x + np.asarray(attention(x, use_causal_mask=True)))
    np.testing.assert_allclose(outputs, expected, atol=1e-6)


# ------------------------------------------------------------------- precision
def test_mixed_float16_keeps_scores_in_float32_and_masks_exact(rng):
    query = _inputs(rng, B, T, D)
    reference = _built_attention(rng, query)
    with dtype_policy("mixed_float16"):
        layer = _attention()
        layer(query)
    layer.set_weights(reference.get_weights())
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    scores = layer.attention_scores(query, value_padding_mask=padding)
    assert keras.backend.standardize_dtype(scores.dtype) == "float32"
    assert (np.asarray(scores)[0, :, :, 3:] == 0).all()
    expected = reference(query, value_padding_mask=padding)
    # The explicit path (a cache covering the T positions, written at 0).
    outputs, _ = layer.call_with_cache(
        query,
        np.zeros((B, 2, N, T, H), "float16"),
        cache_update_index=0,
        value_padding_mask=padding,
        use_causal_mask=False,
    )
    np.testing.assert_allclose(np.asarray(outputs, "float32"), expected, atol=2e-2)
    fused = layer(query, value_padding_mask=padding)
    np.testing.assert_allclose(np.asarray(fused, "float32"), expected, atol=2e-2)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dropout": 1.0}, r"`dropout`.*Received: dropout=1.0$"),
        ({"dropout": -0.5}, r"`dropout`.*Received: dropout=-0.5$"),
        ({"num_heads": 3, "num_key_value_heads": 2}, r"`num_heads`.*Received: num_heads=3$"),
        ({"key_dim": 3, "use_rotary": True}, r"even `key_dim`.*Received: key_dim=3$"),
        ({"num_heads": 0}, r"`num_heads`.*Received: num_heads=0$"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _attention(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dropout": 1.5}, r"`dropout`.*Received: dropout=1.5$"),
        ({"attention_dropout": 1.0}, r"`attention_dropout`.*Received: attention_dropout=1.0$"),
        ({"layer_norm_epsilon": 0}, r"`layer_norm_epsilon`.*Received: layer_norm_epsilon=0$"),
    ],
)
def test_attention_block_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionBlock(num_heads=N, key_dim=H, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"query_padding_mask": np.ones((B, T + 1), bool)},
            r"`query_padding_mask`.*Received: query_padding_mask.shape=\(2, 6\)",
        ),
        (
            {
                "value": np.ones((B, S, D), "float32"),
                "value_padding_mask": np.ones((B, T), bool),
            },
            r"`value_padding_mask`.*Received: value_padding_mask.shape=\(2, 5\)",
        ),
        (
            {"attention_mask": np.ones((B, T, T + 2), bool)},
            r"`attention_mask`.*Received: attention_mask.shape=\(2, 5, 7\)",
        ),
        (
            {"value_padding_mask": np.ones((B, T, T), bool)},
            r"`value_padding_mask`.*Received: value_padding_mask.shape=\(2, 5, 5\)",
        ),
        (
            {
                "cache": np.zeros((B, 2, N, 7, H), "float32"),
                "value_padding_mask": np.ones((B, T), bool),
            },
            r"`value_padding_mask`.*Received: value_padding_mask.shape=\(2, 5\)",
        ),
        (
            {
                "cache": np.zeros((B, 2, N, 7, H), "float32"),
                "cache_update_index": 0,
                "value_padding_mask": np.ones((B, T), bool),
            },
            r"`value_padding_mask`.*Received: value_padding_mask.shape=\(2, 5\)",
        ),
    ],
    ids=[
        "query-length",
        "value-length",
        "attention-mask",
        "rank",
        "static-cache-length",
        "cache-length",
    ],
)
def test_masks_that_do_not_fit_the_inputs_are_clear_errors(kwargs, message):
    layer = _attention()
    method = layer
    if "cache_update_index" in kwargs:
        method = layer.call_with_cache
    elif "cache" in kwargs:
        method = layer.call_with_static_cache
    with pytest.raises(ValueError, match=message):
        method(np.ones((B, T, D), "float32"), **kwargs)


def test_cached_self_attention_needs_an_index(rng):
    with pytest.raises(
        ValueError, match=r"cache_update_index.*Received: cache_update_index=None"
    ):
        _attention().call_with_cache(
            _inputs(rng, B, 1, D), np.zeros((B, 2, N, T, H), "float32"), None
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"padding_mask": np.ones((B, T - 1), bool)},
            r"`padding_mask`.*Received: padding_mask.shape=\(2, 4\)",
        ),
        (
            {
                "context": np.ones((B, S, D), "float32"),
                "context_padding_mask": np.ones((B, T), bool),
            },
            r"`context_padding_mask`.*Received: context_padding_mask.shape=\(2, 5\)",
        ),
    ],
    ids=["padding-mask", "context-padding-mask"],
)
def test_attention_block_names_its_own_mask_arguments(kwargs, message):
    block = AttentionBlock(num_heads=N, key_dim=H)
    with pytest.raises(ValueError, match=message):
        block(np.ones((B, T, D), "float32"), **kwargs)
