"""Classification loaders: TSV/CSV, class folders, TFDS (mock data), in-memory texts."""

import pytest

from transformer_keras.data.classification import (
    from_texts,
    load_classification_data,
    load_delimited_file,
    load_directory,
    load_tfds,
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
    assert load_classification_data(sst2_style_tsv).texts_and_labels() == (texts, labels)


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
        dispatched = load_classification_data(name, split=split)  # not a path: TFDS
    assert data.label_names == (label_names or ("negative", "positive"))
    assert data.num_examples == len(pairs) == 5
    assert dispatched.label_names == data.label_names
    assert all(isinstance(text, bytes) and label in (0, 1) for text, label in pairs)


def test_from_texts_checks_its_arguments():
    with pytest.raises(ValueError, match="Received: len\\(labels\\)=1"):
        from_texts(["a", "b"], [0], ("n", "p"))
    with pytest.raises(ValueError, match=r"range \[0, 2\]"):
        from_texts(["a", "b"], [0, 2], ("n", "p"))


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


@pytest.mark.tf_only
def test_docstring_examples_run():
    import doctest

    import transformer_keras.data.classification as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
