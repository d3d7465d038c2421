"""BERT's masking rule for masked-language-model pre-training.

`mask_tokens` picks 15% of the real tokens of each row (never padding, never
the ids listed as unselectable) and replaces 80% of the picked tokens by the
mask id, 10% by a random id and leaves 10% unchanged (Devlin et al. 2019,
section 3.1). The selection and the replacement are TensorFlow Text's
`RandomItemSelector`, `MaskValuesChooser` and `mask_language_model`, the ops
KerasHub's `MaskedLMMaskGenerator` is built on: `mask_tokens` runs on
TensorFlow (in `tf.data`), and imports it when called; the checks below do not
need it.

Legend: B batch, T length, P masked positions per row (at most `max_selections`).
"""

import math

from transformer_keras.utils.validation import check_positive_int


def mask_tokens(
    token_ids,
    mask_token_id,
    vocabulary_size,
    max_selections,
    mask_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    pad_id=0,
    unselectable_ids=(),
    pad_to_max_selections=False,
):
    """BERT's masking of a batch of token ids, for a masked language model.

    Args:
        token_ids: `(B, T)` int ids right-padded with `pad_id` (dense), or a
            `(B, None)` ragged tensor without padding.
        mask_token_id: the id that replaces most picked tokens.
        vocabulary_size: random replacements are drawn uniformly from
            `[0, vocabulary_size)`; pass the tokenizer's size so that the
            mask id itself (the model's last id) is never drawn.
        max_selections: the most tokens picked per row.
        mask_rate: fraction of each row's selectable tokens to pick (rounded
            up: every non-empty row gets at least one).
        mask_token_rate: fraction of the picked tokens replaced by the mask id.
        random_token_rate: fraction of the picked tokens replaced by a random
            id; the rest (`1 - mask_token_rate - random_token_rate`) keep their
            own id.
        pad_id: the padding id (of dense inputs and of unused label slots).
        unselectable_ids: ids never picked (e.g. start and end tokens).
        pad_to_max_selections: give the position and label outputs
            `P = max_selections` columns. By default `P` is the largest number
            of picks of a row of this batch (at least 1), so that a model
            projects no more empty slots to the vocabulary than needed.

    Returns:
        `(features, labels)`: `features` is a dict with `"token_ids"` `(B, T)`
        int32 (the masked ids, padded with `pad_id`), `"padding_mask"`
        `(B, T)` bool (True at the real tokens of the input) and
        `"mask_positions"` `(B, P)` int32; `labels` `(B, P)` int32 holds the
        original ids at the picked positions and `pad_id` in unused slots
        (`MaskedSparseCategoricalCrossentropy(pad_id=...)` then scores the
        picked tokens only).

    Example:
    >>> import tensorflow as tf
    >>> ids = tf.constant([[5, 6, 7, 8, 0, 0]])
    >>> features, labels = mask_tokens(ids, mask_token_id=9, vocabulary_size=9,
    ...                                max_selections=3, mask_rate=0.5)
    >>> tuple(features["mask_positions"].shape), tuple(labels.shape)  # 2 of 4 picked
    ((1, 2), (1, 2))
    >>> features["padding_mask"].numpy().tolist()
    [[True, True, True, True, False, False]]
    """
    check_positive_int("max_selections", max_selections)
    check_positive_int("vocabulary_size", vocabulary_size)
    check_masking_rates(mask_rate, mask_token_rate, random_token_rate)
    import tensorflow as tf
    import tensorflow_text as tf_text  # loaded on first use: a large library

    if isinstance(token_ids, tf.RaggedTensor):
        ragged = tf.cast(token_ids, tf.int32)  # (B, None)
        width = tf.cast(tf.reduce_max(tf.concat([ragged.row_lengths(), [0]], 0)), tf.int32)
    else:
        dense = tf.cast(tf.convert_to_tensor(token_ids), tf.int32)  # (B, T)
        ragged = tf.RaggedTensor.from_tensor(dense, padding=pad_id)  # trailing padding only
        width = tf.shape(dense)[1]
    # One random key per token, drawn once for the batch: each row picks its
    # tokens in the order of their keys. `RandomItemSelector`'s default,
    # `tf.random.shuffle` per row inside a parallel `map_fn`, hands the random
    # draws to the rows in the order the threads run, so that a seeded run
    # would not mask the same tokens twice.
    keys = tf.random.uniform(tf.shape(ragged.flat_values))  # (B * T',) one per token

    def shuffle_by_key(positions):  # (N,) flat positions of one row
        return tf.gather(positions, tf.argsort(tf.gather(keys, positions)))

    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=max_selections,
        selection_rate=mask_rate,
        unselectable_ids=[int(i) for i in unselectable_ids],
        shuffle_fn=shuffle_by_key,
    )
    chooser = tf_text.MaskValuesChooser(
        vocabulary_size,
        mask_token_id,
        mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
    )
    masked, positions, labels = tf_text.mask_language_model(
        ragged, item_selector=selector, mask_values_chooser=chooser
    )  # (B, None) each
    batch = tf.shape(ragged.row_lengths())[0]
    padded_masked = tf.cast(masked, tf.int32).to_tensor(pad_id, shape=[batch, width])  # (B, T)
    real = tf.sequence_mask(ragged.row_lengths(), width)  # (B, T)
    if pad_to_max_selections:
        selections = max_selections
    else:  # The batch's most picks, at least 1: no output projection of empty slots.
        selections = tf.maximum(tf.cast(tf.reduce_max(positions.row_lengths()), tf.int32), 1)
    return (
        {
            "token_ids": padded_masked,
            "padding_mask": real,
            "mask_positions": tf.cast(positions, tf.int32).to_tensor(
                0, shape=[batch, selections]
            ),  # (B, P)
        },
        tf.cast(labels, tf.int32).to_tensor(pad_id, shape=[batch, selections]),  # (B, P)
    )


def check_masking_rates(mask_rate, mask_token_rate, random_token_rate):
    """Raises a `ValueError` unless `mask_rate` is in (0, 1], the other two in
    [0, 1] and `mask_token_rate + random_token_rate <= 1`."""
    for name, value, low_open in (
        ("mask_rate", mask_rate, True),
        ("mask_token_rate", mask_token_rate, False),
        ("random_token_rate", random_token_rate, False),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}")
        if not (0.0 < value if low_open else 0.0 <= value) or value > 1.0:
            interval = "(0, 1]" if low_open else "[0, 1]"
            raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    if mask_token_rate + random_token_rate > 1.0:
        raise ValueError(
            "`mask_token_rate + random_token_rate` must be at most 1. Received: "
            f"mask_token_rate={mask_token_rate}, random_token_rate={random_token_rate}"
        )


def num_masked_positions(sequence_length, mask_rate=0.15):
    """`P` that never truncates the selection of a `sequence_length`-token row."""
    check_positive_int("sequence_length", sequence_length)
    return max(1, math.ceil(sequence_length * mask_rate))
