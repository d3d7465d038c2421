"""Labelled text for classification: TFDS names, TSV/CSV files, a folder per class.

Every loader returns a `TextClassificationData`: an unbatched `tf.data.Dataset`
of `(text: tf.string [], label: int64 [])` pairs plus the label names (label id
`i` is `label_names[i]`). `classification_batches.py` turns it into
`(token_ids, labels)` batches for `model.fit`.

TensorFlow backend only (tf.data).
"""

import csv
import dataclasses
import os

import tensorflow as tf

# Columns tried, in order, when no text column is named.
TEXT_COLUMN_CANDIDATES = ("sentence", "text", "review", "content")
DEFAULT_LABEL_COLUMN = "label"


@dataclasses.dataclass(frozen=True)
class TextClassificationData:
    """Labelled texts and the names of their labels.

    Attributes:
        dataset: unbatched `tf.data.Dataset` of `(text, label)`, a `tf.string`
            scalar and an int64 scalar in `[0, len(label_names))`.
        label_names: tuple of class names; label id `i` is `label_names[i]`.
        num_examples: number of pairs.
    """

    dataset: tf.data.Dataset
    label_names: tuple
    num_examples: int

    @property
    def num_classes(self):
        return len(self.label_names)

    def take(self, count):
        """The first `count` examples (e.g. a quick run on part of a corpus)."""
        return TextClassificationData(
            self.dataset.take(count), self.label_names, min(count, self.num_examples)
        )

    def texts_and_labels(self):
        """All pairs as Python lists `([str], [int])` (for small data)."""
        texts, labels = [], []
        for text, label in self.dataset.as_numpy_iterator():
            texts.append(text.decode("utf-8", errors="replace"))
            labels.append(int(label))
        return texts, labels


# ---------------------------------------------------------------------- TFDS
def load_tfds(name, split, data_dir=None, download=True):
    """A TFDS text classification dataset, e.g. `"imdb_reviews"` or `"glue/sst2"`.

    The text is the dataset's `Text` feature and the label its `ClassLabel`
    feature, whose names become `label_names`. An unlabelled split (label -1,
    as GLUE's test splits) is an error.

    Args:
        name: TFDS name.
        split: TFDS split, e.g. `"train"`, `"validation"`, `"test[:10%]"`.
        data_dir: TFDS data directory.
        download: let TFDS download and prepare the data when missing.

    Returns:
        A `TextClassificationData`.

    Example:
    >>> data = load_tfds("glue/sst2", split="validation")  # doctest: +SKIP
    >>> data.label_names  # doctest: +SKIP
    ('negative', 'positive')
    """
    import tensorflow_datasets as tfds

    dataset, info = tfds.load(
        name, split=split, data_dir=data_dir, download=download, with_info=True
    )
    text_key = _feature_key(info.features, tfds.features.Text, name)
    label_key = _feature_key(info.features, tfds.features.ClassLabel, name)
    label_names = tuple(info.features[label_key].names)
    num_examples = int(dataset.cardinality())
    if num_examples < 0:  # unknown: count once
        num_examples = int(dataset.reduce(0, lambda count, _: count + 1))
    dataset = dataset.map(
        lambda example: (example[text_key], tf.cast(example[label_key], tf.int64)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    for _, label in dataset.take(1):
        if label < 0:
            raise ValueError(
                f"The {split!r} split of {name!r} is unlabelled (label -1); choose a "
                f"labelled split. Received: split={split!r}"
            )
    return TextClassificationData(dataset, label_names, num_examples)


def _feature_key(features, feature_type, name):
    keys = [key for key, feature in features.items() if isinstance(feature, feature_type)]
    if len(keys) != 1:
        raise ValueError(
            f"TFDS dataset {name!r} has no single {feature_type.__name__} feature "
            f"(features: {sorted(features)}). Received: name={name!r}"
        )
    return keys[0]


# ---------------------------------------------------------- TSV / CSV files
def load_delimited_file(
    path, text_column=None, label_column=DEFAULT_LABEL_COLUMN, label_names=None, delimiter=None
):
    """A TSV or CSV file with a header row, e.g. SST-2's `sentence<TAB>label`.

    Labels may be strings (`"pos"`) or integers (`0`, `1`). Without
    `label_names`, the names are the distinct label values, sorted (numerically
    when they are all integers), and there must be at least two. With
    `label_names` (e.g. the training file's, to read its validation file), a
    label that equals a name maps to that name's id, an integer label `i` to id
    `i`; any other label is an error.

    Args:
        path: the file. `.tsv` files are tab separated with no quoting (the
            GLUE convention), anything else comma separated with CSV quoting.
        text_column: header of the text column. Defaults to the first of
            `sentence`, `text`, `review`, `content` present.
        label_column: header of the label column.
        label_names: known label names (see above).
        delimiter: overrides the delimiter guessed from the extension.

    Returns:
        A `TextClassificationData`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a missing column, a malformed row, an unknown label, or
            fewer than two classes.

    Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.tsv"
    >>> _ = path.write_text("sentence\\tlabel\\nfine film\\tpos\\nawful\\tneg\\n")
    >>> data = load_delimited_file(path)
    >>> data.label_names, data.texts_and_labels()
    (('neg', 'pos'), (['fine film', 'awful'], [1, 0]))
    """
    path = os.fspath(path)
    rows, header = _read_rows(path, delimiter)
    text_index = _column_index(header, text_column, "text_column", path)
    label_index = _column_index(header, label_column, "label_column", path)
    texts, raw_labels = [], []
    for line_number, row in rows:
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line_number}: expected {len(header)} fields like the "
                f"header, found {len(row)}. Received: delimiter={_delimiter(path, delimiter)!r}"
            )
        texts.append(row[text_index])
        raw_labels.append(row[label_index].strip())
    if label_names is None:
        label_names = _infer_label_names(raw_labels, path)
    label_ids = _label_ids(raw_labels, tuple(label_names), path)
    return from_texts(texts, label_ids, label_names)


def _delimiter(path, delimiter):
    if delimiter is not None:
        return delimiter
    return "\t" if path.lower().endswith(".tsv") else ","


def _read_rows(path, delimiter):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such data file: {path}")
    delimiter = _delimiter(path, delimiter)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with open(path, encoding="utf-8", errors="replace", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty; expected a header row. Received: path={path!r}")
        rows = [(reader.line_num, row) for row in reader if row]
    return rows, [column.strip() for column in header]


def _column_index(header, column, argument, path):
    if column is None and argument == "text_column":
        column = next((c for c in TEXT_COLUMN_CANDIDATES if c in header), None)
        if column is None:
            raise ValueError(
                f"{path} has none of the text columns {list(TEXT_COLUMN_CANDIDATES)}; "
                f"its columns are {header}; name one. Received: text_column=None"
            )
    if column not in header:
        raise ValueError(
            f"{path} has no column {column!r}; its columns are {header}. "
            f"Received: {argument}={column!r}"
        )
    return header.index(column)


def _is_integer(value):
    try:
        int(value)
    except ValueError:
        return False
    return True


def _infer_label_names(raw_labels, path):
    distinct = set(raw_labels)
    if all(_is_integer(label) for label in distinct):
        names = tuple(sorted(distinct, key=int))
    else:
        names = tuple(sorted(distinct))
    if len(names) < 2:
        raise ValueError(
            f"{path} has {len(names)} distinct label(s); a classifier needs at least 2. "
            f"Received: labels={list(names)}"
        )
    return names


def _label_ids(raw_labels, label_names, path):
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for label in raw_labels:
        if label in index:
            ids.append(index[label])
        elif _is_integer(label) and 0 <= int(label) < len(label_names):
            ids.append(int(label))
        else:
            raise ValueError(
                f"{path} has a label that is not one of {list(label_names)}. "
                f"Received: label={label!r}"
            )
    return ids


# ------------------------------------------------------------ class folders
def load_directory(path, label_names=None):
    """A folder with one sub-folder of `.txt` files per class.

    Uses `keras.utils.text_dataset_from_directory`; the sub-folder names,
    sorted, are the label names (or pass `label_names` to fix the order).

    Args:
        path: the folder.
        label_names: sub-folder names in label-id order.

    Returns:
        A `TextClassificationData`.

    Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label, text in [("neg", "awful"), ("pos", "fine film")]:
    ...     (root / label).mkdir()
    ...     _ = (root / label / "0.txt").write_text(text)
    >>> load_directory(root).label_names
    ('neg', 'pos')
    """
    import keras

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such data folder: {path}")
    classes = label_names or sorted(
        entry for entry in os.listdir(path) if os.path.isdir(os.path.join(path, entry))
    )
    if len(classes) < 2:
        raise ValueError(
            f"{path} must hold one sub-folder per class and at least 2 classes. "
            f"Received: label_names={list(classes)}"
        )
    dataset = keras.utils.text_dataset_from_directory(
        path,
        class_names=list(classes),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    dataset = dataset.map(lambda text, label: (text, tf.cast(label, tf.int64)))
    return TextClassificationData(dataset, tuple(classes), int(dataset.cardinality()))


# ------------------------------------------------------------ from memory
def from_texts(texts, labels, label_names):
    """In-memory lists of texts and integer label ids.

    Example:
    >>> from_texts(["good", "bad"], [1, 0], ("neg", "pos")).num_examples
    2
    """
    label_names = tuple(str(name) for name in label_names)
    labels = list(labels)
    if len(texts) != len(labels):
        raise ValueError(
            f"`texts` and `labels` must have the same length ({len(texts)}). "
            f"Received: len(labels)={len(labels)}"
        )
    if any(not 0 <= label < len(label_names) for label in labels):
        raise ValueError(
            f"Every label must be in [0, {len(label_names)}). "
            f"Received: labels with range [{min(labels)}, {max(labels)}]"
        )
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int64))
    )
    return TextClassificationData(dataset, label_names, len(labels))


def load_classification_data(source, split=None, **kwargs):
    """Dispatches to the loader for `source`: a folder, a file or a TFDS name.

    Args:
        source: a folder of class folders, a `.tsv`/`.csv` file, or a TFDS
            name (when no such path exists and `split` is given).
        split: the TFDS split (TFDS only).
        **kwargs: passed to the loader.
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        # A folder per class has no columns.
        kwargs = {k: v for k, v in kwargs.items() if k not in ("text_column", "label_column")}
        return load_directory(source, **kwargs)
    if os.path.exists(source) or split is None:
        return load_delimited_file(source, **kwargs)
    return load_tfds(source, split=split, **kwargs)
