"""Tests of `data/language_modeling.py`: reading, encoding, splitting, windowing."""

import numpy as np
import pytest

from transformer_keras.data.language_modeling import (
    encode_texts,
    load_tfds_texts,
    num_windows,
    python_documentation_texts,
    read_text_files,
    split_ids,
    window_dataset,
)
from transformer_keras.text import ByteTokenizer

pytestmark = pytest.mark.tf_only


def batches_of(dataset, count=None):
    pairs = list(dataset.take(count) if count else dataset)
    return [(inputs.numpy(), targets.numpy()) for inputs, targets in pairs]


def test_contiguous_windows_predict_every_id_exactly_once():
    ids = np.arange(1, 24)  # 23 ids -> (23 - 1) // 5 = 4 windows of 6
    batches = batches_of(window_dataset(ids, sequence_length=5, batch_size=3))
    assert [inputs.shape for inputs, _ in batches] == [(3, 5), (1, 5)]
    inputs = np.concatenate([b[0] for b in batches])
    targets = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])  # shifted by one
    np.testing.assert_array_equal(targets.ravel(), ids[1:21])  # each target once, in order
    assert num_windows(len(ids), 5) == len(inputs) == 4


def test_drop_remainder_keeps_full_batches_only():
    batches = batches_of(window_dataset(np.arange(1, 24), 5, 3, drop_remainder=True))
    assert [inputs.shape for inputs, _ in batches] == [(3, 5)]


def test_shuffled_windows_are_the_same_windows_in_another_order():
    ids = np.arange(1, 102)
    plain = batches_of(window_dataset(ids, 4, batch_size=100))[0][0]
    shuffled = batches_of(window_dataset(ids, 4, batch_size=100, shuffle=True, seed=1))[0][0]
    assert not np.array_equal(plain, shuffled)
    assert sorted(map(tuple, plain)) == sorted(map(tuple, shuffled))


def test_random_offset_windows_are_slices_of_the_stream():
    ids = np.arange(1, 41)
    dataset = window_dataset(ids, 6, batch_size=8, random_offsets=True, seed=3)
    batches = batches_of(dataset, count=20)  # endless: take some
    starts = set()
    for inputs, targets in batches:
        assert inputs.shape == targets.shape == (8, 6)
        np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
        for row, target_row in zip(inputs, targets):
            start = row[0] - 1
            np.testing.assert_array_equal(row, ids[start : start + 6])
            assert target_row[-1] <= ids[-1]
            starts.add(start)
    assert starts == set(range(0, 34))  # every offset 0 .. N - T - 1 is drawn
    again = batches_of(window_dataset(ids, 6, 8, random_offsets=True, seed=3), count=20)
    np.testing.assert_array_equal(batches[0][0], again[0][0])


def test_too_short_streams_and_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="Received: ids.shape=\\(5,\\)"):
        window_dataset(np.arange(5), sequence_length=5, batch_size=2)
    with pytest.raises(ValueError, match="Received: sequence_length=0"):
        window_dataset(np.arange(5), sequence_length=0, batch_size=2)
    with pytest.raises(ValueError, match="Received: batch_size=-1"):
        window_dataset(np.arange(50), sequence_length=5, batch_size=-1)


def test_validation_is_the_last_tenth():
    train, validation = split_ids(np.arange(100))
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(validation, np.arange(90, 100))
    train, validation = split_ids(np.arange(10), validation_fraction=0.0)
    assert len(train) == 10 and len(validation) == 0
    for fraction in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="Received: validation_fraction="):
            split_ids(np.arange(10), fraction)


def test_encode_texts_puts_each_text_between_start_and_end_ids():
    tokenizer = ByteTokenizer()
    ids = encode_texts(["ab", "", "c"], tokenizer)
    start, end = tokenizer.start_id, tokenizer.end_id
    assert ids.tolist() == [start, 101, 102, end, start, end, start, 103, end]
    assert encode_texts("ab", tokenizer, add_start=False, add_end=False).tolist() == [101, 102]


def test_read_text_files_reads_utf8_and_replaces_bad_bytes(tmp_path):
    (tmp_path / "a.txt").write_text("caf\u00e9\n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"ok \xff")
    assert read_text_files([tmp_path / "a.txt", tmp_path / "b.txt"]) == [
        "caf\u00e9\n",
        "ok \ufffd",
    ]
    assert read_text_files(str(tmp_path / "a.txt")) == ["caf\u00e9\n"]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_text_files([tmp_path / "missing.txt"])


def test_tiny_shakespeare_from_tfds_feeds_the_windows():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        texts = load_tfds_texts("tiny_shakespeare", "train")
    assert len(texts) == 3 and all(isinstance(text, str) and text for text in texts)
    ids = encode_texts(texts, ByteTokenizer())
    inputs, targets = batches_of(window_dataset(ids, 4, batch_size=2), count=1)[0]
    assert inputs.shape == (2, 4)
    np.testing.assert_array_equal(targets.ravel()[:3], ids[1:4])


def test_python_documentation_is_an_offline_english_corpus():
    texts = python_documentation_texts()
    assert len(texts) > 500 and len(set(texts)) == len(texts)
    assert sum(map(len, texts)) > 200_000
    assert any("Return" in text for text in texts)
    assert python_documentation_texts(["json"]) == python_documentation_texts(["json"])


def test_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(
            importlib.import_module("transformer_keras.data.language_modeling")
        ).failed
        == 0
    )
