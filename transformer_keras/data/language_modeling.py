"""Next-token prediction data: texts -> one id stream -> windows of `T + 1` ids.

The texts come from local files (`read_text_files`) or TFDS
(`load_tfds_texts`, e.g. `"tiny_shakespeare"`). `encode_texts` turns them into
one contiguous stream of ids (each text between the tokenizer's start and end
tokens, so a model learns how texts begin and end: an empty prompt is
meaningful and generation can stop at the end token);
`split_ids` holds out the last 10% as validation, as nanoGPT does;
`window_dataset` cuts a stream into `(inputs, targets)` batches, where
`targets` are `inputs` shifted by one token.

Two ways to cut windows:
- contiguous (default): windows of `T + 1` ids starting every `T` ids, so each
  id is a target exactly once per epoch (evaluation, epoch-based training);
- `random_offsets=True`: an endless stream of windows at random offsets, as
  nanoGPT's `get_batch` (iteration-based training with `steps_per_epoch`).

TensorFlow backend only (tf.data). Legend: B batch, T sequence length, N ids.
"""

import importlib
import inspect
from pathlib import Path

import numpy as np
import tensorflow as tf

from transformer_keras.utils.validation import check_positive_int


def read_text_files(paths):
    """The contents of UTF-8 text files, one string per file.

    Undecodable bytes become U+FFFD instead of failing the whole run.

    Args:
        paths: a path or a list of paths.

    Returns:
        A list of strings, in the order of `paths`.

    Raises:
        FileNotFoundError: a path does not exist or is not a file.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise ValueError(f"`paths` must name at least one file. Received: paths={paths!r}")
    texts = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"No text file at '{path}'.")
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


# Standard-library modules whose documentation is the offline demo corpus.
PYTHON_DOCUMENTATION_MODULES = (
    "builtins", "collections", "itertools", "functools", "os", "pathlib", "re", "string",
    "textwrap", "json", "csv", "random", "statistics", "math", "datetime", "argparse",
    "logging", "unittest", "typing", "dataclasses", "inspect", "shutil", "subprocess",
    "threading", "io", "enum", "heapq", "bisect", "contextlib", "operator", "decimal",
    "fractions", "urllib.parse", "sqlite3", "zipfile", "tarfile", "email.message",
    "http.client", "asyncio",
)  # fmt: skip


def python_documentation_texts(modules=PYTHON_DOCUMENTATION_MODULES):
    """Docstrings of standard-library modules, their classes, functions and methods.

    An English corpus that ships with every Python installation (about 340 KB
    of text for the default modules on Python 3.11), so demos train offline
    without copying third-party text. Each distinct docstring is one text, in
    a fixed order.

    Args:
        modules: names of importable modules.

    Returns:
        A list of strings.
    """
    texts, seen = [], set()

    def add(documented):
        text = inspect.getdoc(documented)
        if text and text not in seen:
            seen.add(text)
            texts.append(text)

    for name in modules:
        module = importlib.import_module(name)
        add(module)
        for member_name, member in sorted(vars(module).items()):
            defined_here = getattr(member, "__module__", name) == name or name == "builtins"
            if member_name.startswith("_") or not defined_here:
                continue
            if not (inspect.isclass(member) or inspect.isroutine(member)):
                continue
            add(member)
            if inspect.isclass(member):
                for attribute_name, attribute in sorted(vars(member).items()):
                    if not attribute_name.startswith("_") and (
                        inspect.isroutine(attribute) or isinstance(attribute, property)
                    ):
                        add(attribute)
    return texts


def load_tfds_texts(name="tiny_shakespeare", split="train", text_key="text", data_dir=None):
    """The texts of a TFDS text dataset split, e.g. Tiny Shakespeare.

    `tiny_shakespeare` holds one example per split (`train`, `validation`,
    `test`), the whole text of that split.

    Args:
        name: TFDS dataset name.
        split: TFDS split, e.g. `"train"` or `"train+validation"`.
        text_key: the feature that holds the text.
        data_dir: TFDS data directory.

    Returns:
        A list of strings.

    Example:
    >>> texts = load_tfds_texts("tiny_shakespeare", "train")  # doctest: +SKIP
    >>> texts[0][:14]  # doctest: +SKIP
    'First Citizen:'
    """
    import tensorflow_datasets as tfds

    dataset = tfds.load(name, split=split, data_dir=data_dir)
    return [
        example[text_key].decode("utf-8", errors="replace")
        for example in tfds.as_numpy(dataset)
    ]


def encode_texts(texts, tokenizer, add_start=True, add_end=True):
    """Tokenizes texts into one contiguous stream of ids.

    Args:
        texts: a list of strings (or a single string).
        tokenizer: a `transformer_keras.text` tokenizer.
        add_start: put the tokenizer's start id before each text.
        add_end: put the tokenizer's end id after each text.

    Returns:
        A 1-D int32 NumPy array.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    pieces = []
    for text in texts:
        if add_start:
            pieces.append(np.array([tokenizer.start_id], np.int32))
        pieces.append(np.asarray(tokenizer.tokenize(tf.constant(text)), np.int32))
        if add_end:
            pieces.append(np.array([tokenizer.end_id], np.int32))
    if not pieces:
        raise ValueError(f"`texts` must hold at least one text. Received: texts={texts!r}")
    return np.concatenate(pieces)


def split_ids(ids, validation_fraction=0.1):
    """Splits an id stream into its first part (training) and last part (validation).

    Args:
        ids: 1-D ids.
        validation_fraction: in [0, 1); the last `int(N * fraction)` ids are
            the validation part. 0 gives an empty validation part.

    Returns:
        `(train_ids, validation_ids)`, 1-D NumPy int32 arrays.
    """
    if isinstance(validation_fraction, bool) or not 0.0 <= validation_fraction < 1.0:
        raise ValueError(
            "`validation_fraction` must be in [0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    ids = np.asarray(ids, np.int32)
    boundary = len(ids) - int(len(ids) * validation_fraction)
    return ids[:boundary], ids[boundary:]


def window_dataset(
    ids,
    sequence_length,
    batch_size,
    shuffle=False,
    random_offsets=False,
    seed=None,
    drop_remainder=False,
):
    """`(inputs, targets)` batches of next-token prediction windows.

    Args:
        ids: 1-D id stream of `N` ids; it needs at least `T + 1` ids.
        sequence_length: `T`, the model's context (`max_sequence_length`).
        batch_size: `B`.
        shuffle: shuffle the contiguous windows (once per epoch).
        random_offsets: draw windows at random offsets forever, nanoGPT style;
            pair it with `steps_per_epoch` in `fit`.
        seed: seed of the shuffling or of the offsets.
        drop_remainder: drop a last, smaller batch (contiguous windows).

    Returns:
        A `tf.data.Dataset` of `(inputs (B, T), targets (B, T))` int32 pairs,
        prefetched.

    Example:
    >>> batches = window_dataset(np.arange(1, 12), sequence_length=4, batch_size=2)
    >>> inputs, targets = next(iter(batches))
    >>> inputs.numpy().tolist(), targets.numpy().tolist()
    ([[1, 2, 3, 4], [5, 6, 7, 8]], [[2, 3, 4, 5], [6, 7, 8, 9]])
    """
    check_positive_int("sequence_length", sequence_length)
    check_positive_int("batch_size", batch_size)
    ids = np.asarray(ids, np.int32)
    if ids.ndim != 1 or len(ids) < sequence_length + 1:
        raise ValueError(
            f"`ids` must be a 1-D stream of at least sequence_length + 1 = "
            f"{sequence_length + 1} ids. Received: ids.shape={ids.shape}"
        )
    stream = tf.constant(ids)
    if random_offsets:
        num_offsets = len(ids) - sequence_length  # window starts 0 .. N - T - 1
        offsets = tf.data.Dataset.random(seed=seed).map(
            lambda value: tf.cast(value % num_offsets, tf.int32)
        )
        windows = offsets.map(lambda start: stream[start : start + sequence_length + 1])
        windows = windows.batch(batch_size, drop_remainder=True)
    else:
        # (N,) -> (W, T + 1): windows starting every T ids, overlapping by one.
        frames = tf.signal.frame(stream, sequence_length + 1, sequence_length)
        windows = tf.data.Dataset.from_tensor_slices(frames)
        if shuffle:
            windows = windows.shuffle(len(frames), seed=seed, reshuffle_each_iteration=True)
        windows = windows.batch(batch_size, drop_remainder=drop_remainder)
    pairs = windows.map(_shift, num_parallel_calls=tf.data.AUTOTUNE)
    return pairs.prefetch(tf.data.AUTOTUNE)


def _shift(windows):
    """`(B, T + 1)` windows -> `(inputs (B, T), targets (B, T))`."""
    return windows[:, :-1], windows[:, 1:]


def num_windows(num_ids, sequence_length):
    """How many contiguous windows `window_dataset` cuts from `num_ids` ids."""
    return max(0, (num_ids - 1) // sequence_length)
