"""Held-out splits and length-aware token batches of labelled texts."""

import collections

import numpy as np
import pytest

from transformer_keras.data.classification import from_texts
from transformer_keras.data.classification_batches import classification_batches, split_data

pytestmark = pytest.mark.tf_only


def test_split_is_deterministic_and_disjoint():
    texts = [f"text {i}" for i in range(20)]
    data = from_texts(texts, [i % 2 for i in range(20)], ("even", "odd"))
    train, validation = split_data(data, 0.2, seed=3)
    assert (train.num_examples, validation.num_examples) == (16, 4)
    train_texts, validation_texts = (
        train.texts_and_labels()[0],
        validation.texts_and_labels()[0],
    )
    assert train.texts_and_labels()[0] == train_texts  # same on every pass
    assert sorted(train_texts + validation_texts) == sorted(texts)
    assert split_data(data, 0.2, seed=3)[1].texts_and_labels()[0] == validation_texts
    with pytest.raises(ValueError, match="Received: validation_fraction=1.5"):
        split_data(data, 1.5)


def _fake_preprocess(texts):
    """One id per word (its length + 3), padded to 6 and truncated there."""
    import tensorflow as tf

    words = tf.strings.split(texts)  # (B, None)
    ids = tf.cast(tf.strings.length(words), tf.int32) + 3
    return ids[:, :6].to_tensor(default_value=0, shape=[None, 6])


def test_batches_keep_every_example_and_trim_padding():
    texts = ["a bb", "", "a bb ccc dddd eeeee ffffff ggggggg", "x", "yy zz"] * 3
    labels = [0, 1, 0, 1, 1] * 3
    data = from_texts(texts, labels, ("n", "p"))
    batches = classification_batches(data, _fake_preprocess, batch_size=4, length_multiple=1)
    batches = list(batches.as_numpy_iterator())
    seen = collections.Counter()
    for token_ids, batch_labels in batches:
        assert token_ids.dtype == np.int32 and token_ids.shape[1] <= 6
        # Padded only to the longest text of the batch (at least one column).
        assert token_ids.shape[1] == max(1, (token_ids != 0).sum(axis=1).max())
        for row, label in zip(token_ids, batch_labels):
            seen[(tuple(row[row != 0]), int(label))] += 1
    expected = collections.Counter()
    for token_ids, label in zip(_fake_preprocess(texts).numpy(), labels):
        expected[(tuple(token_ids[token_ids != 0]), label)] += 1
    assert seen == expected


def test_training_batches_reshuffle_each_epoch():
    data = from_texts([f"{i}" for i in range(64)], [i % 2 for i in range(64)], ("n", "p"))
    dataset = classification_batches(
        data, _fake_preprocess, batch_size=64, shuffle=True, seed=1
    )
    first, second = (next(iter(dataset))[1].numpy() for _ in range(2))
    assert sorted(first) == sorted(second) and list(first) != list(second)


def test_batch_lengths_are_rounded_up_within_the_preprocessed_width():
    texts = ["a", "a b", "a b c", "a b c d e", "a b c d e f g"]
    data = from_texts(texts, [0] * 5, ("n", "p"))
    batches = classification_batches(data, _fake_preprocess, batch_size=1, length_multiple=4)
    widths = sorted(token_ids.shape[1] for token_ids, _ in batches.as_numpy_iterator())
    assert widths == [4, 4, 4, 6, 6]  # 1, 2, 3 -> 4; 5 and 7 (truncated to 6) -> 6


def test_docstring_examples_run():
    import doctest

    import transformer_keras.data.classification_batches as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
