"""Masked-language-model batches of unlabelled text.

`masked_lm_batches` turns texts into length-aware batches masked afresh every
epoch (dynamic masking) by a model's rule (`MaskedLanguageModel.mask`, built on
`transformer_keras.text.masking.mask_tokens`); `read_text_lines` reads the
texts. TensorFlow backend only (tf.data).

Legend: B batch, T length, P masked positions per row.
"""

import math
from pathlib import Path

import tensorflow as tf

from transformer_keras.data.batching import length_aware_batches
from transformer_keras.utils.validation import check_positive_int


def read_text_lines(paths, texts=()):
    """Unlabelled texts for pre-training: one text per line of each file.

    Of a line with tabs only the first column is kept (the English side of
    Tatoeba's `English<TAB>Spanish`, the sentence of a GLUE TSV row, whose
    header line is then one short text). Blank lines are skipped and each
    distinct text is kept once, in order of first appearance; undecodable
    bytes become U+FFFD.

    Args:
        paths: a path or a list of paths to UTF-8 text files.
        texts: texts to put first (e.g. the labelled training texts).

    Returns:
        A list of strings.

    Raises:
        FileNotFoundError: a path does not exist or is not a file.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    unique = dict.fromkeys(text for text in texts if text.strip())
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"No text file at '{path}'.")
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                text = line.rstrip("\r\n").split("\t", 1)[0]
                if text.strip():
                    unique.setdefault(text)
    return list(unique)


def masked_lm_batches(texts, encode, mask, batch_size, shuffle=True, seed=None):
    """Batches of `(features, labels)` for `MaskedLanguageModel.fit`.

    Texts are tokenized in chunks by `encode`, grouped by length
    (`length_aware_batches`, each batch padded to its longest row) and masked
    per batch by `mask`, so that every epoch masks different tokens.

    Args:
        texts: a list of strings or a `tf.data.Dataset` of `tf.string` scalars.
        encode: `(B,)` strings -> `(B, T)` int32 ids right-padded with 0 (e.g.
            `MaskedLanguageModel.encode`).
        mask: `(B, T)` ids -> `(features, labels)` (e.g.
            `MaskedLanguageModel.mask`, which calls `mask_tokens`).
        batch_size: texts per batch.
        shuffle: reshuffle every epoch.
        seed: shuffle seed.

    Returns:
        A prefetched `tf.data.Dataset`.
    """
    check_positive_int("batch_size", batch_size)
    if not isinstance(texts, tf.data.Dataset):
        texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
    num_texts = int(texts.cardinality())
    if num_texts < 0:
        raise ValueError(
            "`texts` must be a list or a dataset of known length. "
            f"Received: texts with cardinality={num_texts}"
        )
    if shuffle:
        texts = texts.shuffle(min(max(num_texts, 1), 100_000), seed=seed)
    ids = (
        texts.batch(1024)
        .map(encode, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(_without_padding, num_parallel_calls=tf.data.AUTOTUNE)
    )
    batches = length_aware_batches(ids, batch_size, shuffle=shuffle, seed=seed)
    batches = batches.map(mask, num_parallel_calls=tf.data.AUTOTUNE)
    # Known length: Keras then shows progress and does not warn at the epoch's end.
    batches = batches.apply(
        tf.data.experimental.assert_cardinality(math.ceil(num_texts / batch_size))
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def _without_padding(token_ids):
    """`(T,)` right-padded ids -> `(T',)` without trailing pad ids (0), `T' >= 1`:
    a text without tokens keeps one pad id (a row with nothing to mask)."""
    length = tf.reduce_sum(tf.cast(token_ids != 0, tf.int32))
    return token_ids[: tf.maximum(length, 1)]
