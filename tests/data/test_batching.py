import doctest

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from transformer_keras.data.batching import (  # noqa: E402
    bucket_by_length,
    default_bucket_upper_bounds,
    length_aware_batches,
)

pytestmark = pytest.mark.tf_only


def sequences(rng, count, max_length):
    """`count` id sequences of random lengths 1..max_length with non-zero ids."""
    return [rng.integers(1, 50, size=rng.integers(1, max_length + 1)) for _ in range(count)]


def sequence_dataset(rows):
    return tf.data.Dataset.from_generator(
        lambda: iter(rows), output_signature=tf.TensorSpec([None], tf.int64)
    )


def unpadded(batch, padding=0):
    """Rows of a padded `(B, T)` batch without their trailing padding, as tuples."""
    return [tuple(row[row != padding]) for row in np.asarray(batch)]


def test_bucket_by_length_respects_the_token_budget_and_keeps_every_example(rng):
    rows = sequences(rng, count=300, max_length=40)
    batches = list(bucket_by_length(sequence_dataset(rows), token_budget=96, max_length=40))
    for batch in batches:
        assert batch.shape[0] * batch.shape[1] <= 96
    kept = [row for batch in batches for row in unpadded(batch)]
    assert sorted(kept) == sorted(tuple(row) for row in rows)
    # Buckets group similar lengths: the budget is well used on average.
    padded = sum(batch.shape[0] * batch.shape[1] for batch in batches)
    assert sum(len(row) for row in rows) / padded > 0.6


def test_bucket_by_length_batches_nested_pairs_by_their_longer_side(rng):
    sources = sequences(rng, count=120, max_length=20)
    targets = sequences(rng, count=120, max_length=20)
    labels = np.arange(120)
    dataset = tf.data.Dataset.from_generator(
        lambda: zip(sources, targets, labels),
        output_signature=(
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([], tf.int64),
        ),
    )
    batches = bucket_by_length(
        dataset,
        token_budget=40,
        max_length=20,
        length_fn=lambda source, target, label: tf.maximum(tf.size(source), tf.size(target)),
        padding_values=(np.int64(-1), np.int64(-1), np.int64(0)),
    )
    seen = {}
    for source, target, label in batches:
        assert source.shape[0] * max(source.shape[1], target.shape[1]) <= 40
        for s, t, index in zip(unpadded(source, -1), unpadded(target, -1), label.numpy()):
            seen[index] = (s, t)
    assert sorted(seen) == list(labels)
    assert all(seen[i] == (tuple(sources[i]), tuple(targets[i])) for i in labels)


def test_bucket_by_length_stops_on_an_element_longer_than_max_length():
    dataset = sequence_dataset([np.ones(3, "int64"), np.ones(9, "int64")])
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than max_length=8"):
        list(bucket_by_length(dataset, token_budget=16, max_length=8))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"token_budget": 10, "max_length": 16}, "Received: token_budget=10"),
        ({"token_budget": 64, "max_length": 0}, "Received: max_length=0"),
        ({"token_budget": 64, "max_length": 16, "upper_bounds": [8, 4, 16]}, "upper_bounds="),
        ({"token_budget": 64, "max_length": 16, "upper_bounds": [8, 12]}, "upper_bounds="),
    ],
)
def test_bucket_by_length_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        bucket_by_length(sequence_dataset([]), **arguments)


def test_default_bucket_upper_bounds_grow_geometrically_to_max_length():
    bounds = default_bucket_upper_bounds(256)
    assert bounds[0] == 8 and bounds[-1] == 256 and bounds == sorted(set(bounds))
    assert all(b / a <= 1.15 for a, b in zip(bounds[8:], bounds[9:-1]))
    assert default_bucket_upper_bounds(5) == [5]


def test_length_aware_batches_are_fixed_size_sorted_per_window_and_complete(rng):
    rows = sequences(rng, count=103, max_length=30)
    batches = list(
        length_aware_batches(
            sequence_dataset(rows), batch_size=8, shuffle=False, window_batches=4
        )
    )
    assert [batch.shape[0] for batch in batches] == [8] * 12 + [7]
    kept = [row for batch in batches for row in unpadded(batch)]
    assert sorted(kept) == sorted(tuple(row) for row in rows)
    for window in range(0, 12, 4):  # each window of 32 examples comes out sorted
        lengths = [
            len(row) for batch in batches[window : window + 4] for row in unpadded(batch)
        ]
        assert lengths == sorted(lengths)
    sorted_padding = sum(b.shape[0] * b.shape[1] for b in batches)
    plain_padding = sum(b.shape[0] * b.shape[1] for b in sequence_dataset(rows).padded_batch(8))
    assert sorted_padding < 0.75 * plain_padding


def test_length_aware_batches_shuffle_dict_elements_with_strings(rng):
    rows = sequences(rng, count=50, max_length=12)
    texts = [f"text {i}" for i in range(50)]
    dataset = tf.data.Dataset.from_generator(
        lambda: ({"ids": ids, "text": text} for ids, text in zip(rows, texts)),
        output_signature={
            "ids": tf.TensorSpec([None], tf.int64),
            "text": tf.TensorSpec([], tf.string),
        },
    )
    batches = length_aware_batches(dataset, batch_size=4, seed=3, window_batches=3)
    first_epoch = [(b["text"].numpy().tolist(), unpadded(b["ids"])) for b in batches]
    second_epoch = [b["text"].numpy().tolist() for b in batches]
    pairs = [
        (t.decode(), ids) for texts_, rows_ in first_epoch for t, ids in zip(texts_, rows_)
    ]
    assert sorted(pairs) == sorted(zip(texts, (tuple(r) for r in rows)))
    assert second_epoch != [texts_ for texts_, _ in first_epoch]  # reshuffled each epoch


def test_length_aware_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        length_aware_batches(sequence_dataset([]), batch_size=0)
    with pytest.raises(ValueError, match="Received: window_batches=-1"):
        length_aware_batches(sequence_dataset([]), batch_size=2, window_batches=-1)


def test_docstring_examples_run():
    from transformer_keras.data import batching

    assert doctest.testmod(batching).failed == 0
