"""Query-chunked attention equals the dense path (values, masks, gradients).

`chunked_dot_product_attention` is compared with `keras.ops.dot_product_attention`
directly, and `MultiHeadAttention(attention_chunk_size=...)` with the same layer
without chunking, given identical weights. Tiny sizes: the memory saving itself
is measured by `benchmarks/attention_memory.py`, not asserted here.
"""

import keras
import numpy as np
import pytest
from keras import ops

from tests.harness import run_layer_test
from transformer_keras.layers import MultiHeadAttention, causal_mask, chunked_attention
from transformer_keras.layers.chunked_attention import chunked_dot_product_attention

B, T, S, N, H = 2, 11, 13, 2, 4


def _heads(rng, length):
    return rng.normal(size=(B, length, N, H)).astype("float32")  # (B, L, N, H)


def _masks(rng):
    """Every mask shape the attention layer produces, True = may attend."""
    full = rng.random((B, 1, T, S)) > 0.3  # (B, 1, T, S)
    full[0, 0, 3] = False  # a query row that may attend to nothing
    return {
        "none": None,
        "full": full,
        "key_padding": np.arange(S)[None, None, None, :]
        < np.array([9, 13])[:, None, None, None],
        "causal": np.tril(np.ones((T, S), bool))[None, None],  # (1, 1, T, S)
    }


def _assert_equals_dense(rng, mask_name, chunk_size):
    query, key, value = _heads(rng, T), _heads(rng, S), _heads(rng, S)
    mask = _masks(rng)[mask_name]
    expected = ops.dot_product_attention(query, key, value, mask=mask, scale=0.3)
    actual = chunked_dot_product_attention(
        query, key, value, chunk_size=chunk_size, mask=mask, scale=0.3
    )
    assert actual.shape == (B, T, N, H)
    np.testing.assert_allclose(ops.convert_to_numpy(actual), expected, atol=1e-5)


@pytest.mark.parametrize("mask_name", ["none", "full", "key_padding", "causal"])
def test_equals_dense_attention_with_each_mask(rng, mask_name):
    _assert_equals_dense(rng, mask_name, chunk_size=4)  # 11 rows: 4 + 4 + 3 (padded)


@pytest.mark.parametrize("chunk_size", [1, 11, 32])
def test_equals_dense_attention_with_each_chunk_size(rng, chunk_size):
    _assert_equals_dense(rng, "full", chunk_size)  # 11 chunks, one exact chunk, one dense call


def _layer_pair(chunk_size=4, **kwargs):
    """A chunked layer and a dense one with the same weights."""
    dense = MultiHeadAttention(num_heads=N, key_dim=H, **kwargs)
    chunked = MultiHeadAttention(
        num_heads=N, key_dim=H, attention_chunk_size=chunk_size, **kwargs
    )
    return dense, chunked


def _copy_weights(source, target, *build_args):
    source(*build_args)
    target(*build_args)
    target.set_weights(source.get_weights())


@pytest.mark.parametrize(
    "layer_kwargs",
    [{}, {"num_key_value_heads": 1}, {"use_rotary": True}],
    ids=["multi_head", "grouped_query", "rotary"],
)
def test_layer_equals_dense_layer_with_causal_and_padding_masks(rng, layer_kwargs):
    x = rng.normal(size=(B, T, 8)).astype("float32")
    padding_mask = np.arange(T)[None, :] < np.array([T, 6])[:, None]  # (B, T)
    dense, chunked = _layer_pair(**layer_kwargs)
    _copy_weights(dense, chunked, x)
    call = dict(query_padding_mask=padding_mask, use_causal_mask=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(chunked(x, **call)),
        ops.convert_to_numpy(dense(x, **call)),
        atol=1e-5,
    )


def test_cross_attention_with_explicit_mask_equals_dense(rng):
    query = rng.normal(size=(B, T, 8)).astype("float32")
    context = rng.normal(size=(B, S, 8)).astype("float32")
    attention_mask = rng.random((B, T, S)) > 0.5
    dense, chunked = _layer_pair(chunk_size=3)
    _copy_weights(dense, chunked, query, context)
    np.testing.assert_allclose(
        ops.convert_to_numpy(chunked(query, context, attention_mask=attention_mask)),
        ops.convert_to_numpy(dense(query, context, attention_mask=attention_mask)),
        atol=1e-5,
    )


def test_cache_prefill_and_decoding_equal_dense(rng):
    """A prompt longer than a chunk fills the cache; single steps then use one chunk."""
    x = rng.normal(size=(B, 8, 8)).astype("float32")
    dense, chunked = _layer_pair(chunk_size=3)
    _copy_weights(dense, chunked, x)

    def prefill_then_step(layer):
        cache = ops.zeros((B, 2, N, 8, H))  # (B, 2, K, S_max, H)
        prefill, cache = layer.call_with_cache(x[:, :6], cache, cache_update_index=0)
        step, _ = layer.call_with_cache(x[:, 6:7], cache, cache_update_index=6)
        return ops.convert_to_numpy(ops.concatenate([prefill, step], axis=1))  # (B, 7, D)

    np.testing.assert_allclose(prefill_then_step(chunked), prefill_then_step(dense), atol=1e-5)


def test_scores_and_attention_dropout_use_the_dense_path(rng):
    x = rng.normal(size=(B, T, 8)).astype("float32")
    dense, chunked = _layer_pair(dropout=0.5, seed=7)
    _copy_weights(dense, chunked, x)
    scores = chunked.attention_scores(x, use_causal_mask=True)
    expected_scores = dense.attention_scores(x, use_causal_mask=True)
    assert scores.shape == (B, N, T, T)
    np.testing.assert_allclose(ops.convert_to_numpy(scores), expected_scores, atol=1e-6)
    # Attention dropout takes the explicit path in both layers: with the same
    # seed, the same probabilities are dropped.
    output = chunked(x, use_causal_mask=True, training=True)
    expected_output = dense(x, use_causal_mask=True, training=True)
    np.testing.assert_allclose(ops.convert_to_numpy(output), expected_output, atol=1e-5)
    inference = ops.convert_to_numpy(chunked(x, use_causal_mask=True))
    assert np.abs(ops.convert_to_numpy(output) - inference).max() > 1e-3  # dropout acted


def test_one_training_step_gives_the_same_weights_as_dense(rng):
    """Gradients through the chunks (recomputed by `keras.remat`) equal dense ones."""
    x = rng.normal(size=(B, T, 8)).astype("float32")
    y = rng.normal(size=(B, T, 8)).astype("float32")
    models = []
    for chunk_size in (None, 4):
        inputs = keras.Input((T, 8))
        attention = MultiHeadAttention(num_heads=N, key_dim=H, attention_chunk_size=chunk_size)
        model = keras.Model(inputs, attention(inputs, use_causal_mask=True))
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        models.append(model)
    dense, chunked = models
    chunked.set_weights(dense.get_weights())
    dense.train_on_batch(x, y)
    chunked.train_on_batch(x, y)
    for actual, expected in zip(chunked.get_weights(), dense.get_weights()):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_mixed_bfloat16_matches_dense(rng):
    x = rng.normal(size=(B, T, 8)).astype("float32")
    dense, chunked = _layer_pair(dtype="mixed_bfloat16")
    _copy_weights(dense, chunked, x)
    actual = chunked(x, use_causal_mask=True)
    assert keras.backend.standardize_dtype(actual.dtype) == "bfloat16"
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(actual, "float32")),
        ops.convert_to_numpy(ops.cast(dense(x, use_causal_mask=True), "float32")),
        atol=1e-2,
    )


# TensorFlow only: the config, saving and fit checks do not depend on the
# backend (the JAX job runs them for the dense layer in test_attention.py), and
# JAX on CPU cannot compile the float16 `jax.nn.dot_product_attention`
# (F16_F16_F32 dot) inside a traced loop; the dense path fails the same way
# under `jit`.
@pytest.mark.tf_only
def test_layer_harness(tmp_path, rng):
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": N, "key_dim": H, "attention_chunk_size": 4},
        rng.normal(size=(B, T, 8)).astype("float32"),
        call_kwargs={"use_causal_mask": True},
        expected_output_shape=(B, T, 8),
        tmp_path=tmp_path,
    )


@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_unknown_query_length_in_a_tf_function_and_xla_gradients(rng, jit_compile):
    import tensorflow as tf

    query, key, value = _heads(rng, T), _heads(rng, T), _heads(rng, T)
    mask = ops.convert_to_numpy(causal_mask(T))[:, None]  # (1, 1, T, T)
    spec = tf.TensorSpec((None, None, N, H), tf.float32)

    def gradient_of(attention):
        @tf.function(input_signature=[spec], jit_compile=jit_compile)
        def run(q):
            with tf.GradientTape() as tape:
                tape.watch(q)
                output = attention(q)
                loss = tf.reduce_sum(output**2)
            return output, tape.gradient(loss, q)

        return [t.numpy() for t in run(query)]

    chunked = gradient_of(
        lambda q: chunked_dot_product_attention(q, key, value, chunk_size=4, mask=mask)
    )
    dense = gradient_of(lambda q: ops.dot_product_attention(q, key, value, mask=mask))
    for actual, expected in zip(chunked, dense):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "8"])
def test_bad_chunk_size_is_a_value_error(bad):
    with pytest.raises(ValueError, match=f"Received: attention_chunk_size={bad!r}"):
        MultiHeadAttention(num_heads=2, key_dim=4, attention_chunk_size=bad)
    with pytest.raises(ValueError, match=f"Received: chunk_size={bad!r}"):
        chunked_dot_product_attention(np.zeros((1, 4, 1, 2), "float32"), *[None] * 2, bad)


def test_mask_of_wrong_rank_is_a_value_error():
    x = np.zeros((1, 4, 1, 2), "float32")
    with pytest.raises(ValueError, match=r"Received: mask.shape=\(4, 4\)"):
        chunked_dot_product_attention(x, x, x, chunk_size=2, mask=np.ones((4, 4), bool))


def test_layer_attends_chunk_by_chunk_only_when_the_query_is_longer_than_a_chunk(
    rng, monkeypatch
):
    """A spy around the real chunk loop: 11 queries in chunks of 4 are 3 chunks."""
    chunk_counts = []
    real_map = chunked_attention._map_one_at_a_time

    def counting_map(function, elements, dtype):
        chunk_counts.append(keras.tree.flatten(elements)[0].shape[0])
        return real_map(function, elements, dtype)

    monkeypatch.setattr(chunked_attention, "_map_one_at_a_time", counting_map)
    layer = MultiHeadAttention(num_heads=N, key_dim=H, attention_chunk_size=4)
    layer(rng.normal(size=(B, T, 8)).astype("float32"), use_causal_mask=True)
    assert chunk_counts == [3]
    layer(rng.normal(size=(B, 4, 8)).astype("float32"), use_causal_mask=True)
    assert chunk_counts == [3]  # one chunk: a single dense call, no loop
