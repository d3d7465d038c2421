"""Training text for the tokenizers' `train` methods, in any of the usual containers."""

import numpy as np
import tensorflow as tf

DEFAULT_BATCH_SIZE = 1024


def text_batches(texts_or_dataset, batch_size=DEFAULT_BATCH_SIZE):
    """A `tf.data.Dataset` of `(None,)` `tf.string` batches.

    Args:
        texts_or_dataset: a list/tuple/array/tensor of strings, any iterable of
            strings, or a `tf.data.Dataset` of `tf.string` scalars or `(None,)`
            batches.
        batch_size: batch size used when the texts are not batched yet.

    Returns:
        A dataset of `(None,)` string batches.
    """
    if isinstance(texts_or_dataset, tf.data.Dataset):
        spec = texts_or_dataset.element_spec
        if (
            not isinstance(spec, tf.TensorSpec)
            or spec.dtype != tf.string
            or spec.shape.rank not in (0, 1)
        ):
            raise ValueError(
                "`texts_or_dataset` must yield tf.string scalars or (None,) batches. "
                f"Received: texts_or_dataset with element_spec={spec}"
            )
        if spec.shape.rank == 0:
            return texts_or_dataset.batch(batch_size)
        return texts_or_dataset
    if isinstance(texts_or_dataset, str | bytes):
        raise ValueError(
            "`texts_or_dataset` must be a collection of texts, not one string. "
            f"Received: texts_or_dataset={texts_or_dataset[:50]!r}"
        )
    if not isinstance(texts_or_dataset, np.ndarray | tf.Tensor):
        texts_or_dataset = list(texts_or_dataset)
    texts = tf.convert_to_tensor(texts_or_dataset, dtype_hint=tf.string)
    if texts.dtype != tf.string or texts.shape.rank != 1:
        raise ValueError(
            "`texts_or_dataset` must be a flat collection of strings. "
            f"Received: texts_or_dataset with dtype={texts.dtype!r}, shape={texts.shape}"
        )
    return tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)


def python_texts(texts_or_dataset, max_texts=None):
    """Yields the texts as Python `str` (invalid UTF-8 replaced by U+FFFD)."""
    count = 0
    for batch in text_batches(texts_or_dataset).as_numpy_iterator():
        for text in batch:
            if max_texts is not None and count >= max_texts:
                return
            count += 1
            yield text.decode("utf-8", errors="replace")
