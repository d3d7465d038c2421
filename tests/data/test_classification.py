"""Classification loaders: TSV/CSV, class folders, TFDS (mock data), splits and batches."""

import collections

import numpy as np
import pytest

from transformer_keras.data.classification import (
    classification_batches,
    from_texts,
    load_classification_data,
    load_delimited_file,
    load_directory,
    load_tfds,
    split_data,
)

pytestmark = pytest.mark.tf_only


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sst2_style_tsv(tmp_path):
    # GLUE style: a header, tab separated, quotes are text (no quoting), int labels.
    return _write(
        tmp_path / "train.tsv",
        'sentence\tlabel\nit \'s a "charming" film \t1\nclumsy , dull \t0\n"and" \t1\n',
    )


def test_tsv_with_integer_labels_keeps_quotes(sst2_style_tsv):
    data = load_delimited_file(sst2_style_tsv)
    assert data.label_names == ("0", "1")
    assert data.num_examples == data.num_classes + 1 == 3
    texts, labels = data.texts_and_labels()
    assert texts == ['it \'s a "charming" film ', "clumsy , dull ", '"and" ']
    assert labels == [1, 0, 1]


def test_csv_with_string_labels_and_quoted_commas(tmp_path):
    path = _write(
        tmp_path / "reviews.csv",
        'id,review,sentiment\n1,"Great, really great",pos\n2,Awful,neg\n3,"So-so, ok",meh\n',
    )
    data = load_delimited_file(path, text_column="review", label_column="sentiment")
    assert data.label_names == ("meh", "neg", "pos")  # sorted
    assert data.texts_and_labels() == (
        ["Great, really great", "Awful", "So-so, ok"],
        [2, 1, 0],
    )


def test_integer_labels_sort_numerically(tmp_path):
    path = _write(tmp_path / "stars.csv", "text,label\na,10\nb,2\nc,1\n")
    data = load_delimited_file(path)
    assert data.label_names == ("1", "2", "10")
    assert data.texts_and_labels()[1] == [2, 1, 0]


def test_known_label_names_map_names_and_indices(tmp_path):
    path = _write(tmp_path / "dev.tsv", "sentence\tlabel\nx\tpositive\ny\t0\n")
    data = load_delimited_file(path, label_names=("negative", "positive"))
    assert data.texts_and_labels()[1] == [1, 0]
    # A single class is fine when the names are known (a small validation file).
    one_class = _write(tmp_path / "one.tsv", "sentence\tlabel\nx\t1\n")
    assert load_delimited_file(one_class, label_names=("0", "1")).num_examples == 1


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        (
            "sentence\tlabel\nx\t1\ny\t1\n",
            {},
            r"1 distinct label\(s\).*Received: labels=\['1'\]",
        ),
        ("sentence\tlabel\nx\t1\n", {"text_column": "txt"}, "Received: text_column='txt'"),
        ("sentence\tlabel\nx\t1\n", {"label_column": "y"}, "Received: label_column='y'"),
        ("body\tlabel\nx\t1\n", {}, r"columns are \['body', 'label'\]"),
        ("sentence\tlabel\nx\t1\ty\n", {}, "line 2: expected 2 fields"),
        ("sentence\tlabel\nx\tmaybe\n", {"label_names": ("0", "1")}, "Received: label='maybe'"),
        ("", {}, "is empty"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, content, kwargs, message):
    path = _write(tmp_path / "bad.tsv", content)
    with pytest.raises(ValueError, match=message):
        load_delimited_file(path, **kwargs)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_delimited_file(tmp_path / "absent.tsv")
    with pytest.raises(FileNotFoundError, match="No such data folder"):
        load_directory(tmp_path / "absent")


def test_invalid_utf8_in_a_file_is_replaced(tmp_path):
    path = tmp_path / "bytes.tsv"
    path.write_bytes(b"sentence\tlabel\nbad \xff byte\t0\nok\t1\n")
    assert load_delimited_file(path).texts_and_labels()[0][0] == "bad \ufffd byte"


@pytest.fixture
def class_folders(tmp_path):
    for label, texts in {"pos": ["good", "great"], "neg": ["bad"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            _write(tmp_path / label / f"{i}.txt", text)
    return tmp_path


def test_folder_per_class(class_folders):
    data = load_directory(class_folders)
    assert data.label_names == ("neg", "pos") and data.num_examples == 3
    pairs = sorted(zip(*data.texts_and_labels()))
    assert pairs == [("bad", 0), ("good", 1), ("great", 1)]
    assert load_classification_data(class_folders).label_names == ("neg", "pos")


def test_folder_with_one_class_is_an_error(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match=r"Received: label_names=\['only'\]"):
        load_directory(tmp_path)


@pytest.mark.parametrize(
    "name, split, label_names",
    [("imdb_reviews", "train", ("neg", "pos")), ("glue/sst2", "validation", None)],
)
def test_tfds_with_mock_data(name, split, label_names):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5):
        data = load_tfds(name, split=split)
        pairs = list(data.dataset.as_numpy_iterator())
    assert data.label_names == (label_names or ("negative", "positive"))
    assert data.num_examples == len(pairs) == 5
    assert all(isinstance(text, bytes) and label in (0, 1) for text, label in pairs)


def test_from_texts_checks_its_arguments():
    with pytest.raises(ValueError, match="Received: len\\(labels\\)=1"):
        from_texts(["a", "b"], [0], ("n", "p"))
    with pytest.raises(ValueError, match=r"range \[0, 2\]"):
        from_texts(["a", "b"], [0, 2], ("n", "p"))


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


def test_tfds_unlabelled_split_is_an_error():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def unlabelled(self, *args, **kwargs):  # GLUE test splits: every label is -1
        return tf.data.Dataset.from_tensor_slices(
            {"sentence": ["a", "b"], "label": [-1, -1], "idx": [0, 1]}
        ).map(lambda example: {**example, "label": tf.cast(example["label"], tf.int64)})

    with tfds.testing.mock_data(as_dataset_fn=unlabelled):
        with pytest.raises(ValueError, match="Received: split='test'"):
            load_tfds("glue/sst2", split="test")


def test_take_keeps_names_and_counts():
    data = from_texts(["a", "b", "c"], [0, 1, 0], ("n", "p")).take(2)
    assert (data.num_examples, data.label_names) == (2, ("n", "p"))
    assert data.texts_and_labels() == (["a", "b"], [0, 1])
    assert from_texts(["a"], [0], ("n", "p")).take(5).num_examples == 1


def test_batch_lengths_are_rounded_up_within_the_preprocessed_width():
    texts = ["a", "a b", "a b c", "a b c d e", "a b c d e f g"]
    data = from_texts(texts, [0] * 5, ("n", "p"))
    batches = classification_batches(data, _fake_preprocess, batch_size=1, length_multiple=4)
    widths = sorted(token_ids.shape[1] for token_ids, _ in batches.as_numpy_iterator())
    assert widths == [4, 4, 4, 6, 6]  # 1, 2, 3 -> 4; 5 and 7 (truncated to 6) -> 6


@pytest.mark.tf_only
def test_docstring_examples_run():
    import doctest

    import transformer_keras.data.classification as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
