"""masks.py: causal and padding masks, merging them, and the polarity True = attend."""

import keras
import numpy as np
import pytest

from transformer_keras.layers import masks


def _numpy(mask):
    return np.asarray(keras.ops.convert_to_numpy(mask))


def test_causal_mask_lets_each_query_see_itself_and_the_past():
    expected = np.tril(np.ones((4, 4), bool))[None]  # (1, T, S)
    np.testing.assert_array_equal(_numpy(masks.causal_mask(4)), expected)


def test_causal_mask_with_offset_places_the_queries_inside_a_cache():
    # Queries at positions 2 and 3 of a 5-slot cache.
    np.testing.assert_array_equal(
        _numpy(masks.causal_mask(2, 5, offset=2))[0],
        [[True, True, True, False, False], [True, True, True, True, False]],
    )
    offset = keras.ops.convert_to_tensor(2, "int32")
    np.testing.assert_array_equal(
        _numpy(masks.causal_mask(2, 5, offset=offset)), _numpy(masks.causal_mask(2, 5, 2))
    )


def test_padding_mask_is_true_at_real_tokens():
    np.testing.assert_array_equal(
        _numpy(masks.padding_mask_from_ids(np.array([[5, 0, 7, 0]]))), [[1, 0, 1, 0]]
    )
    np.testing.assert_array_equal(
        _numpy(masks.padding_mask_from_ids(np.array([[5, 9, 7]]), pad_id=9)), [[1, 0, 1]]
    )


def test_merge_returns_none_when_there_is_nothing_to_mask():
    assert masks.merge_attention_masks(3, 4) is None


def test_merge_combines_every_source_with_logical_and():
    query_padding = np.array([[True, True, False]])
    key_padding = np.array([[True, False, True]])
    explicit = np.array([[True, True, True], [True, True, True], [False, True, True]])
    merged = _numpy(
        masks.merge_attention_masks(
            3,
            3,
            query_padding_mask=query_padding,
            key_padding_mask=key_padding,
            attention_mask=explicit,
            use_causal_mask=True,
        )
    )
    expected = (
        query_padding[:, :, None]
        & key_padding[:, None, :]
        & np.tril(np.ones((3, 3), bool))[None]
        & explicit[None]
    )
    assert merged.shape == (1, 3, 3)
    np.testing.assert_array_equal(merged, expected)


def test_merge_accepts_integer_masks_as_booleans():
    merged = _numpy(masks.merge_attention_masks(2, 2, key_padding_mask=np.array([[1, 0]])))
    assert merged.dtype == bool
    np.testing.assert_array_equal(np.broadcast_to(merged, (1, 2, 2)), [[[1, 0], [1, 0]]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"key_padding_mask": np.ones((1, 3, 1), bool)},
            r"rank 2.*Received: key_padding_mask.shape=\(1, 3, 1\)$",
        ),
        (
            {"query_padding_mask": np.ones((1, 4), bool)},
            r"`query_padding_mask`.*Received: query_padding_mask.shape=\(1, 4\)$",
        ),
        (
            {"attention_mask": np.ones((2, 3), bool)},
            r"`attention_mask`.*Received: attention_mask.shape=\(1, 2, 3\)$",
        ),
    ],
)
def test_merge_rejects_masks_that_do_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        masks.merge_attention_masks(2 if "query_padding_mask" in kwargs else 3, 3, **kwargs)


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.ones((2, 4), bool), r"Received: padding_mask.shape=\(2, 4\)$"),
        (np.ones((3, 5), bool), r"Received: padding_mask.shape=\(3, 5\)$"),
        (np.ones((2, 5, 1), bool), r"Received: padding_mask.shape=\(2, 5, 1\)$"),
        ([[True, False]], r"Received: padding_mask.shape=\(1, 2\)$"),
    ],
    ids=["length", "batch", "rank", "list"],
)
def test_check_padding_mask_names_the_argument(mask, message):
    with pytest.raises(ValueError, match=message):
        masks.check_padding_mask("padding_mask", mask, 2, 5)


def test_check_padding_mask_accepts_fitting_broadcast_and_unknown_shapes():
    masks.check_padding_mask("padding_mask", np.ones((2, 5), bool), 2, 5)
    masks.check_padding_mask("padding_mask", np.ones((1, 5), bool), 2, 5)
    masks.check_padding_mask("padding_mask", np.ones((2, 5), bool), None, None)
    masks.check_padding_mask("padding_mask", None, 2, 5)


def test_consume_implicit_mask_reads_and_detaches_the_keras_mask():
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(np.array([[3, 0]]))
    assert masks.implicit_mask(embedded) is not None
    np.testing.assert_array_equal(_numpy(masks.consume_implicit_mask(embedded)), [[1, 0]])
    assert masks.implicit_mask(embedded) is None
    assert masks.implicit_mask(None) is None


def test_detached_implicit_masks_hides_the_masks_inside_and_restores_them_after():
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(np.array([[3, 0]]))
    plain = keras.ops.ones((1, 2, 4))
    with masks.detached_implicit_masks(embedded, plain) as (mask, no_mask):
        assert masks.implicit_mask(embedded) is None
        np.testing.assert_array_equal(_numpy(mask), [[True, False]])
        assert no_mask is None
    np.testing.assert_array_equal(_numpy(masks.implicit_mask(embedded)), [[True, False]])
    assert masks.implicit_mask(plain) is None
    with pytest.raises(RuntimeError), masks.detached_implicit_masks(embedded):
        raise RuntimeError("the mask comes back anyway")
    assert masks.implicit_mask(embedded) is not None
