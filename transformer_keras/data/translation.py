"""Parallel text for the translator: loaders and `model.fit`-ready batches.

Sources of sentence pairs, all returned as `tf.data.Dataset`s of
`(source, target)` `tf.string` scalars:

- `tfds_pairs("ted_hrlr_translate/pt_to_en")`, `tfds_pairs("wmt14_translate/de-en")`
  (any TFDS translation builder with `as_supervised=True`);
- `file_pairs("train.de", "train.en")`: two line-aligned files;
- `tsv_pairs("spa.txt", source_column=1, target_column=0, split="train")`:
  tab-separated pair files (the Tatoeba / manythings.org format), with a
  deterministic held-out split (`split_of`).

`translation_batches(pairs, source_tokenizer, target_tokenizer, ...)` turns
pairs into `({"source_ids", "target_ids"}, labels)` batches for teacher
forcing: `target_ids = [start] + y`, `labels = y + [end]`, batched by length
buckets under a token budget, as in the paper (section 5.1).

Legend: B batch, S source length, T target length.
"""

import zlib
from pathlib import Path

import tensorflow as tf

from transformer_keras.data.batching import bucket_by_length
from transformer_keras.utils.validation import check_positive_int

# Fraction of a TSV pair file held out for validation by default.
DEFAULT_VALIDATION_FRACTION = 0.1
SPLITS = ("train", "validation")


def tfds_pairs(name, split="train", data_dir=None, download=True):
    """Sentence pairs of a TFDS translation dataset.

    Args:
        name: a TFDS name with its config, e.g. `"ted_hrlr_translate/pt_to_en"`
            or `"wmt14_translate/de-en"`.
        split: a TFDS split (`"train"`, `"validation"`, `"test"`, slices).
        data_dir: TFDS data directory.
        download: let TFDS download and prepare the data when missing.

    Returns:
        A dataset of `(source, target)` `tf.string` scalars, in the builder's
        supervised order (`pt, en` and `de, en` for the two names above).
    """
    import tensorflow_datasets as tfds

    return tfds.load(
        name, split=split, as_supervised=True, data_dir=data_dir, download=download
    )


def read_lines(path):
    """The lines of a UTF-8 text file, without their line endings."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    return path.read_text(encoding="utf-8").splitlines()


def file_pairs(source_path, target_path):
    """Pairs from two line-aligned files (line `i` of one translates line `i` of the other).

    Raises:
        ValueError: when the files have different numbers of lines.
    """
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise ValueError(
            f"{source_path} and {target_path} must have the same number of lines. "
            f"Received: source lines={len(sources)}, target lines={len(targets)}"
        )
    return pairs_dataset(sources, targets)


def read_pairs(source=None, target=None, pairs=None, source_column=0, target_column=1):
    """`(sources, targets)` lists from two aligned files or one TSV file, or `None`.

    Args:
        source, target: files of one sentence per line, aligned line by line.
        pairs: instead, one tab-separated file (e.g. Tatoeba's `spa.txt`).
        source_column, target_column: the columns of `pairs`.

    Returns:
        `(sources, targets)`, or `None` when no file is given.
    """
    if pairs and (source or target):
        raise ValueError(
            "Give either a source and a target file or a pairs file, not both. "
            f"Received: pairs={pairs!r}, source={source!r}"
        )
    if pairs:
        return read_tsv_pairs(pairs, source_column, target_column)
    if bool(source) != bool(target):
        raise ValueError(
            "A source file needs its target file (and vice versa). "
            f"Received: source={source!r}, target={target!r}"
        )
    if not source:
        return None
    sources, targets = read_lines(source), read_lines(target)
    if len(sources) != len(targets):
        raise ValueError(
            f"{source} and {target} must have the same number of lines. "
            f"Received: source lines={len(sources)}, target lines={len(targets)}"
        )
    return sources, targets


def split_of(text, validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """`"validation"` or `"train"`, from a CRC32 hash of `text`.

    The split depends only on the text, not on the file order or a random
    seed, so it is the same on every machine; hashing the column that can
    repeat (Tatoeba has several translations of one English sentence) keeps
    all pairs of one sentence on the same side.

    Example:
    >>> split_of("Hello."), split_of("Hello.")
    ('train', 'train')
    """
    bucket = zlib.crc32(text.encode("utf-8")) % 10_000
    return "validation" if bucket < validation_fraction * 10_000 else "train"


def read_tsv_pairs(
    path,
    source_column=0,
    target_column=1,
    split=None,
    validation_fraction=DEFAULT_VALIDATION_FRACTION,
    split_column=None,
):
    """Reads a tab-separated pair file into two lists of strings.

    Args:
        path: the file; one pair per line, extra columns (Tatoeba's
            attribution) are ignored.
        source_column, target_column: column indexes of the two languages
            (Tatoeba's `spa.txt` is `English<TAB>Spanish`: Spanish->English is
            `source_column=1, target_column=0`).
        split: `None` (every pair), `"train"` or `"validation"`.
        validation_fraction: share of the held-out split.
        split_column: the column hashed by `split_of`; defaults to
            `target_column`.

    Returns:
        `(sources, targets)` lists.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"`split` must be None or one of {SPLITS}. Received: split={split!r}")
    split_column = target_column if split_column is None else split_column
    needed = max(source_column, target_column, split_column) + 1
    sources, targets = [], []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < needed:
            raise ValueError(
                f"{path}:{number} needs at least {needed} tab-separated columns. "
                f"Received: line={line[:80]!r}"
            )
        if split is not None and split_of(columns[split_column], validation_fraction) != split:
            continue
        sources.append(columns[source_column])
        targets.append(columns[target_column])
    return sources, targets


def tsv_pairs(path, source_column=0, target_column=1, split=None, **kwargs):
    """`read_tsv_pairs` as a dataset of `(source, target)` strings."""
    return pairs_dataset(*read_tsv_pairs(path, source_column, target_column, split, **kwargs))


def pairs_dataset(sources, targets):
    """Two lists of strings -> a dataset of `(source, target)` `tf.string` scalars."""
    return tf.data.Dataset.from_tensor_slices(
        (tf.constant(sources, tf.string), tf.constant(targets, tf.string))
    )


def tokenize_pairs(pairs, source_tokenizer, target_tokenizer, max_length):
    """Pairs -> `(source_ids, target_ids)` int32 vectors, ready for batching.

    `source_ids = x + [end]` and `target_ids = [start] + y + [end]`, each
    truncated to `max_length` tokens keeping the end token (`target_ids` may
    hold `max_length + 1`: `[start] + y + [end]` gives `max_length` inputs and
    `max_length` labels).
    """
    check_positive_int("max_length", max_length)

    # Plain graph code: no AutoGraph needed (and none to trip over in tokenizers).
    @tf.autograph.experimental.do_not_convert
    def tokenize_pair(source, target):
        source_ids = source_tokenizer.tokenize(source)[: max_length - 1]
        target_ids = target_tokenizer.tokenize(target)[: max_length - 1]
        end = tf.constant([target_tokenizer.end_id], tf.int32)
        start = tf.constant([target_tokenizer.start_id], tf.int32)
        source_end = tf.constant([source_tokenizer.end_id], tf.int32)
        return (
            tf.concat([tf.cast(source_ids, tf.int32), source_end], 0),
            tf.concat([start, tf.cast(target_ids, tf.int32), end], 0),
        )

    return pairs.map(tokenize_pair, num_parallel_calls=tf.data.AUTOTUNE)


def to_teacher_forcing(source_ids, target_ids):
    """Padded `(B, S)` and `(B, T + 1)` ids -> `({"source_ids", "target_ids"}, labels)`."""
    inputs = {"source_ids": source_ids, "target_ids": target_ids[:, :-1]}  # (B, S), (B, T)
    return inputs, target_ids[:, 1:]  # labels (B, T)


def translation_batches(
    pairs,
    source_tokenizer,
    target_tokenizer,
    max_length,
    token_budget,
    shuffle=False,
    seed=0,
    shuffle_buffer=50_000,
):
    """Sentence pairs -> `model.fit` batches of similar lengths under a token budget.

    Pairs are tokenized once (and cached), optionally shuffled every epoch,
    then grouped by length so that each batch holds about `token_budget`
    tokens (batch size times its longest sequence) instead of a fixed number
    of sentences, as in the paper.

    Args:
        pairs: a dataset of `(source, target)` `tf.string` scalars.
        source_tokenizer, target_tokenizer: tokenizers of `transformer_keras.text`
            (the same one for a joint vocabulary).
        max_length: most tokens per sentence (longer ones are truncated).
        token_budget: most padded tokens per batch (batch size times its
            longest side); at least `max_length + 1`.
        shuffle: reshuffle the pairs every epoch (training).
        seed: shuffle seed.
        shuffle_buffer: shuffle buffer size.

    Returns:
        A dataset of `({"source_ids": (B, S), "target_ids": (B, T)}, (B, T))`
        int32 tensors, each side padded with its tokenizer's `pad_id`.
    """
    ids = tokenize_pairs(pairs, source_tokenizer, target_tokenizer, max_length).cache()
    if shuffle:
        ids = ids.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    # The longer side of a pair sets its length, so both padded sides fit the budget.
    padding = tuple(
        tf.constant(tokenizer.pad_id, tf.int32)
        for tokenizer in (source_tokenizer, target_tokenizer)
    )
    batches = bucket_by_length(
        ids, token_budget, max_length=max_length + 1, padding_values=padding
    )
    return batches.map(to_teacher_forcing).prefetch(tf.data.AUTOTUNE)
