"""DecoderLayer and Decoder: harness, causality, padding, cached decoding, errors.

Equality with the paper's equations is in test_reference.py.

Legend: B batch, T target length, S source length, L layers, K key/value heads,
H head size, D width.
"""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from tests.harness import assert_fit_step, run_layer_test
from transformer_keras.layers import (
    Decoder,
    DecoderLayer,
    Encoder,
    TokenAndPositionEmbedding,
)
from transformer_keras.layers.masks import implicit_mask

B, T, S, D = 2, 5, 6, 8
TINY = {"hidden_dim": D, "num_heads": 2, "intermediate_dim": 16}
SOURCE_PADDING = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)


def _inputs(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def _decoder(num_layers=2, **kwargs):
    return Decoder(num_layers=num_layers, **{**TINY, **kwargs})


# ----------------------------------------------------------------------- harness
def test_decoder_layer_with_cross_attention_harness(rng, tmp_path):
    run_layer_test(
        DecoderLayer,
        {**TINY, "dropout": 0.1, "attention_dropout": 0.1},
        _inputs(rng, B, T, D),
        call_kwargs={
            "context": _inputs(rng, B, S, D),
            "context_padding_mask": SOURCE_PADDING,
            "padding_mask": np.array([[1, 1, 1, 1, 0], [1] * 5], bool),
        },
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "method, expected_output_shape, mixed_output_dtype",
    [
        ("call", (B, T, D), None),
        ("attention_scores", {"self_attention": (B, 2, T, T)}, "float32"),
    ],
)
def test_decoder_only_layer_with_scores_harness(
    method, expected_output_shape, mixed_output_dtype, rng, tmp_path
):
    run_layer_test(
        DecoderLayer,
        {**TINY, "cross_attention": False, "normalize_first": True, "use_rotary": True},
        _inputs(rng, B, T, D),
        expected_output_shape=expected_output_shape,
        method=method,
        mixed_output_dtype=mixed_output_dtype,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_harness(normalize_first, rng, tmp_path):
    run_layer_test(
        Decoder,
        {"num_layers": 2, **TINY, "normalize_first": normalize_first},
        _inputs(rng, B, T, D),
        call_kwargs={"context": _inputs(rng, B, S, D), "context_padding_mask": SOURCE_PADDING},
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


def test_cached_decoder_step_harness(rng, tmp_path):
    num_kv = 1
    run_layer_test(
        Decoder,
        {"num_layers": 2, **TINY, "cross_attention": False, "num_key_value_heads": num_kv},
        _inputs(rng, B, 1, D),
        call_kwargs={
            "cache": tuple(np.zeros((B, 2, num_kv, T, 4), "float32") for _ in range(2)),
            "cache_update_index": 2,
        },
        expected_output_shape=((B, 1, D), ((B, 2, num_kv, T, 4), (B, 2, num_kv, T, 4))),
        method="call_with_cache",
        run_training=False,  # a decoding step, not a training graph
        tmp_path=tmp_path,
    )


def test_encoder_decoder_trains_in_a_compiled_train_step(rng):
    """Every layer's gradients in the traced (TF graph / JAX jit) train step of `fit`."""
    source_ids = keras.Input((S,), dtype="int32", name="source")
    target_ids = keras.Input((T,), dtype="int32", name="target")
    embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    context = Encoder(num_layers=1, **TINY, num_key_value_heads=1)(embedding(source_ids))
    hidden = _decoder(num_layers=1, use_rotary=True, activation="swiglu")(
        embedding(target_ids), context=context
    )
    model = keras.Model([source_ids, target_ids], embedding(hidden, reverse=True))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    ids = [rng.integers(1, 20, (B, S)), rng.integers(1, 20, (B, T))]
    assert_fit_step(model, ids, rng.integers(1, 20, (B, T)))


# --------------------------------------------------------------------- causality
def _assert_prefix_invariant(call, x, rng, t=2):
    """Outputs at positions <= t ignore the inputs after t; later ones do not."""
    changed = x.copy()
    changed[:, t + 1 :] = _inputs(rng, x.shape[0], x.shape[1] - t - 1, x.shape[2])
    before, after = np.asarray(call(x)), np.asarray(call(changed))
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-6)
    assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-3


@pytest.mark.parametrize("cross_attention", [False, True])
def test_decoder_layer_causal_prefix_invariance(cross_attention, rng):
    layer = DecoderLayer(**TINY, cross_attention=cross_attention)
    context = _inputs(rng, B, S, D) if cross_attention else None
    _assert_prefix_invariant(lambda x: layer(x, context=context), _inputs(rng, B, T, D), rng)


def test_decoder_causal_prefix_invariance(rng):
    decoder = _decoder(use_rotary=True, normalize_first=True)
    context = _inputs(rng, B, S, D)
    _assert_prefix_invariant(lambda x: decoder(x, context=context), _inputs(rng, B, T, D), rng)


def test_without_the_causal_mask_the_prefix_sees_the_future(rng):
    layer = DecoderLayer(**TINY, cross_attention=False)
    x = _inputs(rng, B, T, D)
    changed = x.copy()
    changed[:, -1] += 1.0
    before = np.asarray(layer(x, use_causal_mask=False))
    after = np.asarray(layer(changed, use_causal_mask=False))
    assert np.abs(after[:, 0] - before[:, 0]).max() > 1e-3


# ------------------------------------------------------------- padding invariance
@pytest.mark.parametrize("layer_class", [DecoderLayer, Decoder])
def test_source_padding_leaves_outputs_unchanged(layer_class, rng):
    layer = DecoderLayer(**TINY) if layer_class is DecoderLayer else _decoder()
    x, context = _inputs(rng, B, T, D), _inputs(rng, B, S, D)
    padded_context = np.concatenate([context, _inputs(rng, B, 3, D)], axis=1)
    padded_mask = np.concatenate([SOURCE_PADDING, np.zeros((B, 3), bool)], axis=1)
    outputs = np.asarray(layer(x, context=context, context_padding_mask=SOURCE_PADDING))
    padded = np.asarray(layer(x, context=padded_context, context_padding_mask=padded_mask))
    np.testing.assert_allclose(padded, outputs, atol=1e-5)
    for row, length in enumerate(SOURCE_PADDING.sum(1)):
        alone = np.asarray(layer(x[row : row + 1], context=context[row : row + 1, :length]))
        np.testing.assert_allclose(outputs[row], alone[0], atol=1e-5)
    unmasked = np.asarray(layer(x, context=padded_context))
    assert np.abs(unmasked - outputs).max() > 1e-3  # the mask matters: the test can fail


@pytest.mark.parametrize("layer_class", [DecoderLayer, Decoder])
def test_left_target_padding_leaves_real_positions_unchanged(layer_class, rng):
    layer = DecoderLayer(**TINY, cross_attention=False)
    if layer_class is Decoder:
        layer = _decoder(cross_attention=False)
    x = _inputs(rng, 1, T, D)
    padded = np.concatenate([_inputs(rng, 1, 2, D), x], axis=1)  # 2 junk positions first
    mask = np.array([[False, False] + [True] * T])
    outputs = np.asarray(layer(padded, padding_mask=mask))[:, 2:]
    np.testing.assert_allclose(outputs, layer(x), atol=1e-5)
    assert np.abs(np.asarray(layer(padded))[:, 2:] - outputs).max() > 1e-3


def test_implicit_masks_of_source_and_target_ids():
    source_embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    target_embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8, position="none")
    encoder, decoder = Encoder(num_layers=1, **TINY), _decoder()

    def translate(source_ids, target_ids):
        context = encoder(source_embedding(source_ids))  # carries the source mask
        return np.asarray(decoder(target_embedding(target_ids), context=context))

    source, target = np.array([[5, 6, 7]]), np.array([[8, 9, 10]])
    expected = translate(source, target)
    padded_source = np.array([[5, 6, 7, 0, 0]])
    left_padded_target = np.array([[0, 0, 8, 9, 10]])  # no positions: only the mask differs
    np.testing.assert_allclose(translate(padded_source, target), expected, atol=1e-5)
    np.testing.assert_allclose(
        translate(padded_source, left_padded_target)[:, 2:], expected, atol=1e-5
    )


def test_cross_attention_cache_of_a_masked_context_keeps_the_mask_quietly():
    embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    decoder = _decoder()
    context = Encoder(num_layers=1, **TINY)(embedding(np.array([[5, 6, 0]])))
    decoder(embedding(np.array([[8, 9]])), context=context)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "does not support masking" warning
        cache = decoder.cross_attention_cache(context)
    assert [tuple(c.shape) for c in cache] == [(1, 2, 2, 3, 4)] * 2  # L x (B, 2, K, S, H)
    assert implicit_mask(context) is not None


def test_implicit_source_mask_in_a_functional_model():
    source_embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    target_embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    encoder, decoder = Encoder(num_layers=1, **TINY), _decoder()
    source_ids = keras.Input((None,), dtype="int32")
    target_ids = keras.Input((None,), dtype="int32")
    context = encoder(source_embedding(source_ids))
    model = keras.Model(
        [source_ids, target_ids], decoder(target_embedding(target_ids), context=context)
    )
    target = np.array([[8, 9, 10]], "int32")
    short = np.asarray(model([np.array([[5, 6, 7]], "int32"), target]))
    padded = np.asarray(model([np.array([[5, 6, 7, 0, 0]], "int32"), target]))
    np.testing.assert_allclose(padded, short, atol=1e-5)


# -------------------------------------------------------------------- the KV cache
def _decode_layer(
    layer, x, context=None, cross_attention_cache=None, context_padding_mask=None
):
    """Feeds `x` one position at a time through a `DecoderLayer` cache."""
    attention = layer.self_attention_block.attention
    cache = ops.zeros(
        (x.shape[0], 2, attention.num_key_value_heads, x.shape[1], attention.key_dim)
    )  # (B, 2, K, S_max, H)
    steps = []
    for index in range(x.shape[1]):
        outputs, cache = layer.call_with_cache(
            x[:, index : index + 1],
            cache,
            cache_update_index=ops.convert_to_tensor(index, "int32"),
            context=context,
            context_padding_mask=context_padding_mask,
            cross_attention_cache=cross_attention_cache,
        )
        steps.append(np.asarray(outputs))
    return np.concatenate(steps, axis=1)


def test_decoder_layer_without_cross_attention_decodes_through_the_cache(rng):
    layer = DecoderLayer(**TINY, cross_attention=False, num_key_value_heads=1, use_rotary=True)
    x = _inputs(rng, B, T, D)
    np.testing.assert_allclose(_decode_layer(layer, x), layer(x), atol=1e-5)


def test_decoder_layer_with_cross_attention_decodes_through_the_cache(rng):
    layer = DecoderLayer(**TINY)
    x, context = _inputs(rng, B, T, D), _inputs(rng, B, S, D)
    full = np.asarray(layer(x, context=context, context_padding_mask=SOURCE_PADDING))
    stepwise = _decode_layer(layer, x, context=context, context_padding_mask=SOURCE_PADDING)
    np.testing.assert_allclose(stepwise, full, atol=1e-5)
    cross_cache = layer.compute_cross_attention_cache(context)  # (B, 2, K, S, H)
    assert tuple(cross_cache.shape) == (B, 2, 2, S, 4)
    keys = np.transpose(cross_cache[:, 0], (0, 2, 1, 3))  # (B, S, K, H)
    attention = layer.cross_attention_block.attention
    np.testing.assert_allclose(keys, attention.key_dense(context), atol=1e-6)
    cached = _decode_layer(
        layer, x, cross_attention_cache=cross_cache, context_padding_mask=SOURCE_PADDING
    )
    np.testing.assert_allclose(cached, full, atol=1e-5)


@pytest.mark.parametrize("cross_attention", [False, True])
def test_decoder_stack_decodes_through_initial_cache(cross_attention, rng):
    decoder = _decoder(
        cross_attention=cross_attention,
        num_key_value_heads=1,
        use_rotary=not cross_attention,
        normalize_first=True,
    )
    x, context = _inputs(rng, B, T, D), _inputs(rng, B, S, D)
    kwargs = (
        {"context": context, "context_padding_mask": SOURCE_PADDING} if cross_attention else {}
    )
    full = np.asarray(decoder(x, **kwargs))
    cache = decoder.initial_cache(B, T + 2)  # room to spare: L x (B, 2, K, S_max, H)
    assert [tuple(c.shape) for c in cache] == [(B, 2, 1, T + 2, 4)] * 2
    if cross_attention:
        kwargs = {
            "cross_attention_cache": decoder.cross_attention_cache(context),
            "context_padding_mask": SOURCE_PADDING,
        }
        cross_shapes = [tuple(c.shape) for c in kwargs["cross_attention_cache"]]
        assert cross_shapes == [(B, 2, 1, S, 4)] * 2
    steps = []
    for index in range(T):
        outputs, cache = decoder.call_with_cache(
            x[:, index : index + 1],
            cache,
            cache_update_index=ops.convert_to_tensor(index, "int32"),
            **kwargs,
        )
        steps.append(np.asarray(outputs))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_initial_cache_follows_the_compute_dtype():
    decoder = Decoder(num_layers=1, **TINY, cross_attention=False, dtype="mixed_bfloat16")
    decoder(np.zeros((1, 2, D), "float32"))
    (cache,) = decoder.initial_cache(3, 4)
    assert keras.backend.standardize_dtype(cache.dtype) == "bfloat16"
    assert not np.asarray(cache, "float32").any()


# --------------------------------------------------------------------- the stack
def test_pre_layer_norm_decoder_ends_with_a_layer_norm(rng):
    decoder = _decoder(cross_attention=False, normalize_first=True)
    x = _inputs(rng, B, T, D)
    outputs = np.asarray(decoder(x))
    hidden = x
    for layer in decoder.transformer_layers:
        hidden = layer(hidden)
    assert isinstance(decoder.final_norm, keras.layers.LayerNormalization)
    np.testing.assert_allclose(outputs, decoder.final_norm(hidden), atol=1e-6)
    assert isinstance(_decoder().final_norm, keras.layers.Identity)


def test_scores_of_every_layer_and_sub_layer(rng):
    decoder = _decoder()
    scores = decoder.attention_scores(
        _inputs(rng, B, T, D),
        context=_inputs(rng, B, S, D),
        context_padding_mask=SOURCE_PADDING,
    )
    assert len(scores) == 2
    for layer_scores in scores:
        self_scores = np.asarray(layer_scores["self_attention"])  # (B, N, T, T)
        cross_scores = np.asarray(layer_scores["cross_attention"])  # (B, N, T, S)
        assert self_scores.shape == (B, 2, T, T) and cross_scores.shape == (B, 2, T, S)
        assert (self_scores * np.triu(np.ones((T, T)), 1) == 0).all()
        assert (cross_scores[0, ..., 4:] == 0).all()
        np.testing.assert_allclose(cross_scores.sum(-1), 1.0, atol=1e-6)


# ------------------------------------------------------------------------ errors
def test_self_attention_cache_needs_an_index(rng):
    layer = DecoderLayer(**TINY, cross_attention=False)
    with pytest.raises(
        ValueError, match=r"cache_update_index.*Received: cache_update_index=None"
    ):
        layer.call_with_cache(_inputs(rng, B, 1, D), np.zeros((B, 2, 2, T, 4), "float32"), None)


def test_cross_attention_layer_needs_a_context(rng):
    with pytest.raises(ValueError, match=r"`context`.*Received: context=None"):
        DecoderLayer(**TINY)(_inputs(rng, B, T, D))


def test_hidden_dim_not_divisible_by_num_heads_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`hidden_dim`.*Received: hidden_dim=9$"):
        Decoder(num_layers=1, hidden_dim=9, num_heads=2, intermediate_dim=16)


@pytest.mark.parametrize("argument", ["dropout", "attention_dropout"])
def test_dropout_outside_the_unit_interval_is_a_clear_error(argument):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received: {argument}=1.0$"):
        DecoderLayer(**TINY, **{argument: 1.0})


def test_context_padding_mask_that_does_not_fit_names_the_argument(rng):
    with pytest.raises(
        ValueError,
        match=r"`context_padding_mask`.*Received: context_padding_mask.shape=\(2, 5\)",
    ):
        _decoder()(
            _inputs(rng, B, T, D),
            context=_inputs(rng, B, S, D),
            context_padding_mask=np.ones((B, T), bool),
        )
