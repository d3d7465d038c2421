"""From labelled texts to batches: a held-out split and length-aware token batches.

`classification_batches` turns a `TextClassificationData` into
`(token_ids, labels)` batches for `model.fit` / `evaluate`; `split_data` holds
out a deterministic validation set. TensorFlow backend only (tf.data).

Legend: B batch, T length.
"""

import math

import tensorflow as tf

from transformer_keras.data.batching import length_aware_batches
from transformer_keras.data.classification import TextClassificationData
from transformer_keras.utils.validation import check_positive_int


def split_data(data, validation_fraction=0.1, seed=0):
    """A deterministic `(train, validation)` split of one `TextClassificationData`.

    Example:
    >>> from transformer_keras.data.classification import from_texts
    >>> data = from_texts(["a", "b", "c", "d"], [0, 1, 0, 1], ("n", "p"))
    >>> train, validation = split_data(data, 0.25)
    >>> train.num_examples, validation.num_examples
    (3, 1)
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            "`validation_fraction` must be in (0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    num_validation = max(1, round(data.num_examples * validation_fraction))
    if num_validation >= data.num_examples:
        raise ValueError(
            f"Too few examples ({data.num_examples}) to hold out a validation set. "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    shuffled = data.dataset.shuffle(
        data.num_examples, seed=seed, reshuffle_each_iteration=False
    )
    return (
        TextClassificationData(
            shuffled.skip(num_validation), data.label_names, data.num_examples - num_validation
        ),
        TextClassificationData(shuffled.take(num_validation), data.label_names, num_validation),
    )


def classification_batches(
    data, preprocess, batch_size, shuffle=False, seed=None, length_multiple=8
):
    """`(token_ids (B, T) int32, labels (B,) int64)` batches for `fit` / `evaluate`.

    Texts are tokenized in chunks by `preprocess` (e.g.
    `TransformerClassifier.preprocess`, which truncates), padding is trimmed per
    example, and `length_aware_batches` groups texts of similar length so a
    batch pads only to its own longest text, rounded up to a multiple of
    `length_multiple` (few distinct shapes, so an XLA-compiled step compiles a
    few times only). Every example is kept; batches are prefetched.

    Args:
        data: a `TextClassificationData`.
        preprocess: `(B,)` strings -> `(B, T)` int32 ids right-padded with 0.
        batch_size: examples per batch.
        shuffle: reshuffle the examples every epoch (training).
        seed: shuffle seed.
        length_multiple: batch lengths are rounded up to a multiple of this.

    Returns:
        A `tf.data.Dataset`.
    """
    check_positive_int("length_multiple", length_multiple)
    dataset = data.dataset
    if shuffle:
        dataset = dataset.shuffle(
            min(max(data.num_examples, 1), 100_000), seed=seed, reshuffle_each_iteration=True
        )
    dataset = (
        dataset.batch(1024)
        .map(lambda texts, labels: (preprocess(texts), labels), tf.data.AUTOTUNE)
        .unbatch()
        .map(lambda ids, label: (_without_padding(ids), label), tf.data.AUTOTUNE)
    )
    dataset = length_aware_batches(dataset, batch_size, shuffle=shuffle, seed=seed)
    full_length = preprocess(tf.constant([""])).shape[1]  # the longest a batch gets
    dataset = dataset.map(
        lambda ids, labels: (_pad_to_multiple(ids, length_multiple, full_length), labels),
        tf.data.AUTOTUNE,
    )
    # Known length: Keras then shows progress and does not warn at the epoch's end.
    num_batches = math.ceil(data.num_examples / batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _pad_to_multiple(token_ids, multiple, full_length):
    """`(B, T)` -> `(B, T')` with pad ids: `T'` is the next multiple of `multiple`,
    at most `full_length` (the preprocessed width)."""
    length = tf.shape(token_ids)[1]
    target = tf.minimum((length + multiple - 1) // multiple * multiple, full_length)
    return tf.pad(token_ids, [[0, 0], [0, tf.maximum(target - length, 0)]])


def _without_padding(token_ids):
    """`(T,)` right-padded ids -> `(T',)` without trailing pad ids (0), `T' >= 1`.

    An empty text keeps one pad id, so that no batch has zero length.
    """
    length = tf.reduce_sum(tf.cast(token_ids != 0, tf.int32))
    return token_ids[: tf.maximum(length, 1)]
