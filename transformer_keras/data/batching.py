"""Batching variable-length examples with little padding, keeping every example.

- `bucket_by_length`: batches of similar lengths whose padded size
  (examples x longest) stays within a token budget, as in the paper
  (section 5.1), via `tf.data.Dataset.bucket_by_sequence_length`.
- `length_aware_batches`: fixed-size batches of examples sorted by length
  within a shuffled window of many batches.

Elements may be tensors, tuples or dicts; every component with a leading
sequence axis is padded to the longest in its batch (with `padding_values`,
default 0 or ""). Legend: B batch, T length.
"""

import tensorflow as tf

from transformer_keras.utils.validation import check_positive_int


def longest_component_length(*element):
    """Default length of an element: the largest leading size of its sequence components."""
    lengths = [tf.shape(x)[0] for x in tf.nest.flatten(element) if x.shape.rank]
    if not lengths:
        raise ValueError(
            "An element needs at least one component with a sequence axis to have a length. "
            f"Received: element={element!r}"
        )
    return tf.reduce_max(tf.stack(lengths))


def default_bucket_upper_bounds(max_length, min_length=8, step=1.1):
    """Geometrically spaced bucket sizes `min_length, ~x1.1, ..., max_length`.

    Example:
    >>> default_bucket_upper_bounds(16)
    [8, 9, 10, 11, 12, 13, 14, 15, 16]
    """
    bounds, bound = [], min(min_length, max_length)
    while bound < max_length:
        bounds.append(bound)
        bound = max(bound + 1, int(bound * step + 0.5))
    return bounds + [max_length]


def _with_length_check(dataset, length_fn, max_length):
    def check(*element):
        length = length_fn(*element)
        tf.debugging.assert_less_equal(
            tf.cast(length, tf.int64),
            tf.constant(max_length, tf.int64),
            message=f"bucket_by_length: an element is longer than max_length={max_length}; "
            "truncate it before batching",
        )
        return element if len(element) > 1 else element[0]

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE)


def bucket_by_length(
    dataset,
    token_budget,
    max_length,
    length_fn=None,
    upper_bounds=None,
    padded_shapes=None,
    padding_values=None,
    drop_remainder=False,
):
    """Batches of similar-length elements, each at most `token_budget` padded tokens.

    Bucket `i` holds elements with `upper_bounds[i-1] < length <= upper_bounds[i]`
    in batches of `token_budget // upper_bounds[i]` elements; a batch is padded
    to its own longest element, so `batch size x longest <= token_budget`.
    The last, partly filled batch of each bucket is kept (unless
    `drop_remainder`), so no element is lost.

    Args:
        dataset: a `tf.data.Dataset` of tensors, tuples or dicts.
        token_budget: most padded tokens per batch; at least `max_length`.
        max_length: the longest element allowed; a longer one stops iteration
            with an `InvalidArgumentError` (truncate before batching).
        length_fn: called like a `map` function on an element, returns its
            length. Defaults to the longest component. For a pair, give the
            longer side so both padded sides stay within the budget.
        upper_bounds: increasing bucket sizes ending at `max_length`; defaults
            to `default_bucket_upper_bounds(max_length)`.
        padded_shapes: as in `tf.data.Dataset.padded_batch` (default: pad
            every unknown axis to the batch's longest).
        padding_values: as in `tf.data.Dataset.padded_batch` (default 0 / "").
        drop_remainder: drop each bucket's last partial batch.

    Returns:
        A `tf.data.Dataset` of padded batches.

    Example:
    >>> import tensorflow as tf
    >>> rows = tf.ragged.constant([[1] * n for n in range(1, 9)])  # lengths 1 .. 8
    >>> dataset = tf.data.Dataset.from_tensor_slices(rows).map(lambda row: row)  # dense rows
    >>> batches = bucket_by_length(dataset, 8, max_length=8, upper_bounds=[2, 4, 8])
    >>> sorted(tuple(batch.shape) for batch in batches)
    [(1, 5), (1, 6), (1, 7), (1, 8), (2, 2), (2, 4)]
    """
    check_positive_int("max_length", max_length)
    check_positive_int("token_budget", token_budget)
    if token_budget < max_length:
        raise ValueError(
            f"`token_budget` must hold one element of `max_length` = {max_length} tokens. "
            f"Received: token_budget={token_budget}"
        )
    upper_bounds = list(upper_bounds or default_bucket_upper_bounds(max_length))
    if upper_bounds != sorted(set(upper_bounds)) or upper_bounds[-1] != max_length:
        raise ValueError(
            f"`upper_bounds` must increase strictly and end at max_length={max_length}. "
            f"Received: upper_bounds={upper_bounds}"
        )
    length_fn = length_fn or longest_component_length
    return _with_length_check(dataset, length_fn, max_length).bucket_by_sequence_length(
        element_length_func=length_fn,
        bucket_boundaries=[bound + 1 for bound in upper_bounds[:-1]],  # TF buckets are [lo, hi)
        bucket_batch_sizes=[max(token_budget // bound, 1) for bound in upper_bounds],
        padded_shapes=padded_shapes,
        padding_values=padding_values,
        drop_remainder=drop_remainder,
    )


def length_aware_batches(
    dataset,
    batch_size,
    length_fn=None,
    shuffle=True,
    window_batches=32,
    seed=None,
    padded_shapes=None,
    padding_values=None,
    drop_remainder=False,
):
    """Fixed-size batches of similar lengths: sort a window of examples, then batch.

    Each window of `batch_size * window_batches` (shuffled) examples is sorted
    by length and cut into batches, which are then shuffled again, so a batch
    pads little but the order of batches stays random.

    Args:
        dataset: a `tf.data.Dataset` of tensors, tuples or dicts.
        batch_size: examples per batch.
        length_fn: called like a `map` function on an element, returns its
            length. Defaults to the longest component.
        shuffle: shuffle examples before sorting and batches after; without
            it the order is deterministic (sorted within each window).
        window_batches: how many batches' worth of examples are sorted together.
        seed: shuffle seed.
        padded_shapes: as in `tf.data.Dataset.padded_batch`.
        padding_values: as in `tf.data.Dataset.padded_batch` (default 0 / "").
        drop_remainder: drop the last partial batch.

    Returns:
        A `tf.data.Dataset` of padded batches.

    Example:
    >>> import tensorflow as tf
    >>> rows = tf.ragged.constant([[1] * n for n in [5, 1, 4, 2]])
    >>> dataset = tf.data.Dataset.from_tensor_slices(rows).map(lambda row: row)  # dense rows
    >>> [tuple(b.shape) for b in length_aware_batches(dataset, batch_size=2, shuffle=False)]
    [(2, 2), (2, 5)]
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("window_batches", window_batches)
    length_fn = length_fn or longest_component_length
    window = batch_size * window_batches
    if shuffle:
        dataset = dataset.shuffle(window, seed=seed, reshuffle_each_iteration=True)

    def with_length(*element):
        return length_fn(*element), element if len(element) > 1 else element[0]

    def sort_window(lengths, elements):
        order = tf.argsort(lengths, stable=True)  # (W,)
        return tf.nest.map_structure(lambda x: tf.gather(x, order), elements)

    # Sequence components of a window are ragged `(W, None)`; after `unbatch`, the
    # identity map turns them back into dense `(T,)` tensors for `padded_batch`.
    dataset = (
        dataset.map(with_length, num_parallel_calls=tf.data.AUTOTUNE)
        .ragged_batch(window)
        .map(sort_window, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(lambda *element: element if len(element) > 1 else element[0])
        .padded_batch(
            batch_size,
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
    )
    if shuffle:
        dataset = dataset.shuffle(window_batches, seed=seed, reshuffle_each_iteration=True)
    return dataset
