"""BERT's masking rule (`mask_tokens`), pre-training texts and batches."""

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.data.masked_language_modeling import (
    mask_tokens,
    masked_lm_batches,
    num_masked_positions,
    read_text_lines,
)

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


def test_read_text_lines_first_column_distinct_in_order(tmp_path):
    (tmp_path / "pairs.txt").write_text("Go.\tVe.\nGo.\tVete.\n\nHi.\tHola.\n")
    (tmp_path / "lines.en").write_text("A dog runs.\nHi.\n")
    texts = read_text_lines([tmp_path / "pairs.txt", tmp_path / "lines.en"], texts=["first"])
    assert texts == ["first", "Go.", "Hi.", "A dog runs."]
    with pytest.raises(FileNotFoundError, match="absent"):
        read_text_lines(tmp_path / "absent.txt")


def test_batches_have_a_known_length_and_mask_every_epoch():
    texts = [" ".join(["w"] * n) for n in range(1, 21)] + [""]

    def encode(batch):
        words = tf.strings.split(batch).to_tensor("", shape=[None, 20])
        return tf.where(words == "w", 5, 0)  # (B, 20)

    def mask(ids):
        return mask_tokens(ids, MASK_ID, VOCABULARY_SIZE, max_selections=3)

    batches = masked_lm_batches(texts, encode, mask, batch_size=4, seed=0)
    assert int(batches.cardinality()) == 6
    epochs = [list(batches.as_numpy_iterator()) for _ in range(2)]
    assert sum(len(labels) for _, labels in epochs[0]) == len(texts)
    for features, labels in epochs[0]:
        assert features["token_ids"].shape[1] <= 20 and 1 <= labels.shape[1] <= 3
        assert (labels[labels != 0] == 5).all()
    first = np.concatenate([f["mask_positions"].ravel() for f, _ in epochs[0]])
    second = np.concatenate([f["mask_positions"].ravel() for f, _ in epochs[1]])
    assert not np.array_equal(first, second)  # dynamic masking


def test_docstring_examples_run():
    import doctest

    import transformer_keras.data.masked_language_modeling as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
