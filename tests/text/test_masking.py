"""BERT's masking rule: `mask_tokens` and its settings."""

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.text.masking import mask_tokens, num_masked_positions

pytestmark = pytest.mark.tf_only

VOCABULARY_SIZE = 1000  # ids 0-999 from the tokenizer; 1000 is the mask id
MASK_ID = 1000


def _rows(lengths, seed=0):
    """`(B, T)` ids in [4, V) right-padded with 0, one row per length."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), "int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(4, VOCABULARY_SIZE, length)
    return ids


def _mask(ids, **kwargs):
    kwargs = {"max_selections": 20, **kwargs}
    features, labels = mask_tokens(ids, MASK_ID, VOCABULARY_SIZE, **kwargs)
    return {key: value.numpy() for key, value in features.items()}, labels.numpy()


def test_fifteen_percent_of_the_real_tokens_of_each_row_are_picked():
    lengths = [90, 50, 30, 10, 7, 1]
    features, labels = _mask(_rows(lengths))
    picked = (labels != 0).sum(axis=1)
    np.testing.assert_array_equal(picked, [14, 8, 5, 2, 2, 1])  # ceil(0.15 * length)
    # As many columns as the row with the most picks.
    assert features["mask_positions"].shape == labels.shape == (6, 14)
    features, labels = _mask(_rows(lengths), pad_to_max_selections=True)
    assert features["mask_positions"].shape == labels.shape == (6, 20)
    np.testing.assert_array_equal((labels != 0).sum(axis=1), [14, 8, 5, 2, 2, 1])


def test_max_selections_caps_the_picks_and_fixes_the_width():
    features, labels = _mask(_rows([100, 10]), max_selections=4)
    assert labels.shape == features["mask_positions"].shape == (2, 4)
    np.testing.assert_array_equal((labels != 0).sum(axis=1), [4, 2])


def test_labels_are_the_original_ids_at_the_picked_positions():
    ids = _rows([50, 30, 12])
    features, labels = _mask(ids)
    for row in range(len(ids)):
        used = labels[row] != 0
        positions = features["mask_positions"][row][used]
        assert len(set(positions.tolist())) == used.sum()  # distinct positions
        np.testing.assert_array_equal(labels[row][used], ids[row, positions])
        # Tokens that were not picked are unchanged.
        untouched = np.ones(ids.shape[1], bool)
        untouched[positions] = False
        np.testing.assert_array_equal(
            features["token_ids"][row][untouched], ids[row][untouched]
        )


def _seeded_masks(seed):
    """The labels of 3 epochs of 64 identical rows, masked in a `tf.data` map.

    The map runs in order: batches masked in parallel take the random draws in
    thread order unless op determinism is on (`set_seed(..., deterministic=True)`,
    which the resume tests use).
    """
    tf.random.set_seed(seed)
    rows = tf.data.Dataset.from_tensors(tf.constant(_rows([24] * 64))).repeat(3)
    masked = rows.map(lambda ids: mask_tokens(ids, MASK_ID, VOCABULARY_SIZE, 20)[1])
    return np.stack([labels.numpy() for labels in masked])  # (3, 64, 4)


def test_a_seed_fixes_every_row_s_picks():
    # Identical rows: a draw handed to a different row would show.
    first = _seeded_masks(7)
    np.testing.assert_array_equal(first, _seeded_masks(7))
    assert not np.array_equal(first[0], first[1])  # every epoch masks anew
    assert len({row.tobytes() for row in first[0]}) > 32  # rows pick independently


def test_every_position_is_picked_equally_often():
    tf.random.set_seed(0)
    # (4000, 20): the token at each position is the position + 4.
    ids = np.tile(np.arange(4, 24, dtype="int32"), (4000, 1))
    features, labels = _mask(ids)
    counts = np.bincount(features["mask_positions"][labels != 0], minlength=20)
    # 3 of 20 positions per row: 600 picks each expected, standard deviation 23.
    assert counts.sum() == 4000 * 3
    assert np.all(np.abs(counts - 600) < 150), counts


def test_eighty_ten_ten_rule():
    tf.random.set_seed(1)
    ids = _rows([90] * 400)
    features, labels = _mask(ids)
    rows, slots = np.nonzero(labels)
    positions = features["mask_positions"][rows, slots]
    new = features["token_ids"][rows, positions]
    original = labels[rows, slots]
    masked = np.mean(new == MASK_ID)
    kept = np.mean(new == original)
    random = np.mean((new != MASK_ID) & (new != original))
    assert len(new) == 400 * 14
    assert abs(masked - 0.8) < 0.02, masked
    assert abs(kept - 0.1) < 0.015, kept
    assert abs(random - 0.1) < 0.015, random
    # Random replacements come from the tokenizer's ids: never the mask id.
    assert new[(new != MASK_ID)].max() < VOCABULARY_SIZE


def test_padding_is_never_picked_and_stays_padding():
    lengths = [3, 9, 1, 17]
    ids = _rows(lengths)
    for seed in range(5):
        tf.random.set_seed(seed)
        features, labels = _mask(ids, mask_rate=0.9)
        real = ids != 0
        np.testing.assert_array_equal(features["padding_mask"], real)
        np.testing.assert_array_equal(features["token_ids"][~real], 0)
        for row, length in enumerate(lengths):
            used = labels[row] != 0
            assert (features["mask_positions"][row][used] < length).all()


def test_unselectable_ids_are_never_picked():
    ids = _rows([60] * 20)
    ids[:, ::2] = 7  # half the tokens are, say, a start token
    features, labels = _mask(ids, mask_rate=0.5, max_selections=40, unselectable_ids=[7])
    assert (labels != 0).sum(axis=1).tolist() == [15] * 20  # half of 30 selectable
    assert not (labels == 7).any()


def test_ragged_input_gives_the_dense_result():
    ids = _rows([5, 3])
    ragged = tf.ragged.constant([row[row != 0].tolist() for row in ids])
    features, labels = _mask(ragged, mask_token_rate=1.0, random_token_rate=0.0)
    np.testing.assert_array_equal(features["padding_mask"], ids != 0)
    assert ((features["token_ids"] == MASK_ID).sum(axis=1) == (labels != 0).sum(axis=1)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mask_rate": 0.0}, "Received: mask_rate=0.0"),
        ({"mask_token_rate": 1.5}, "Received: mask_token_rate=1.5"),
        ({"mask_token_rate": 0.9, "random_token_rate": 0.2}, "random_token_rate=0.2"),
        ({"max_selections": 0}, "Received: max_selections=0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _mask(_rows([4]), **kwargs)


def test_num_masked_positions():
    assert num_masked_positions(64) == 10
    assert num_masked_positions(1) == 1


def test_docstring_examples_run():
    import doctest

    import transformer_keras.text.masking as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
