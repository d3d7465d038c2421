import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.text.corpus import python_texts, text_batches

pytestmark = pytest.mark.tf_only

TEXTS = ["one", "two", "three"]


def batches_as_lists(dataset):
    return [[text.decode() for text in batch] for batch in dataset.as_numpy_iterator()]


@pytest.mark.parametrize(
    "texts",
    [
        TEXTS,
        tuple(TEXTS),
        np.array(TEXTS),
        tf.constant(TEXTS),
        (text for text in TEXTS),
        tf.data.Dataset.from_tensor_slices(TEXTS),
    ],
    ids=["list", "tuple", "array", "tensor", "generator", "dataset"],
)
def test_text_batches_accepts_the_usual_containers(texts):
    assert batches_as_lists(text_batches(texts, batch_size=2)) == [["one", "two"], ["three"]]


def test_text_batches_keeps_batched_datasets_as_they_are():
    batched = tf.data.Dataset.from_tensor_slices(TEXTS).batch(3)
    assert text_batches(batched, batch_size=2) is batched


def test_python_texts_decodes_and_stops_at_max_texts():
    raw = tf.constant([b"caf\xc3\xa9", b"bad \xff", b"third"])
    assert list(python_texts(raw)) == ["café", "bad \ufffd", "third"]
    assert list(python_texts(raw, max_texts=2)) == ["café", "bad \ufffd"]


@pytest.mark.parametrize(
    "texts",
    [
        "one string",
        b"one string",
        [1, 2],
        [["nested"]],
        tf.data.Dataset.range(3),
        tf.data.Dataset.from_tensor_slices({"text": TEXTS}),
    ],
    ids=["str", "bytes", "ints", "nested", "int-dataset", "dict-dataset"],
)
def test_text_batches_rejects_what_is_not_a_collection_of_texts(texts):
    with pytest.raises(ValueError, match=r"Received: texts_or_dataset"):
        text_batches(texts)
