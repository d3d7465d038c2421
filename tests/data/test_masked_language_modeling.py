"""Pre-training texts and masked-language-model batches."""

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.data.masked_language_modeling import masked_lm_batches, read_text_lines
from transformer_keras.text.masking import mask_tokens

pytestmark = pytest.mark.tf_only

VOCABULARY_SIZE = 1000  # ids 0-999 from the tokenizer; 1000 is the mask id
MASK_ID = 1000


def test_read_text_lines_first_column_distinct_in_order(tmp_path):
    (tmp_path / "pairs.txt").write_text("Go.\tVe.\nGo.\tVete.\n\nHi.\tHola.\n")
    (tmp_path / "lines.en").write_text("A dog runs.\nHi.\n")
    texts = read_text_lines([tmp_path / "pairs.txt", tmp_path / "lines.en"], texts=["first"])
    assert texts == ["first", "Go.", "Hi.", "A dog runs."]
    with pytest.raises(FileNotFoundError, match="absent"):
        read_text_lines(tmp_path / "absent.txt")


def test_batches_have_a_known_length_and_mask_every_epoch():
    texts = [" ".join(["w"] * n) for n in range(1, 21)] + [""]

    def encode(batch):
        words = tf.strings.split(batch).to_tensor("", shape=[None, 20])
        return tf.where(words == "w", 5, 0)  # (B, 20)

    def mask(ids):
        return mask_tokens(ids, MASK_ID, VOCABULARY_SIZE, max_selections=3)

    batches = masked_lm_batches(texts, encode, mask, batch_size=4, seed=0)
    assert int(batches.cardinality()) == 6
    epochs = [list(batches.as_numpy_iterator()) for _ in range(2)]
    assert sum(len(labels) for _, labels in epochs[0]) == len(texts)
    for features, labels in epochs[0]:
        assert features["token_ids"].shape[1] <= 20 and 1 <= labels.shape[1] <= 3
        assert (labels[labels != 0] == 5).all()
    first = np.concatenate([f["mask_positions"].ravel() for f, _ in epochs[0]])
    second = np.concatenate([f["mask_positions"].ravel() for f, _ in epochs[1]])
    assert not np.array_equal(first, second)  # dynamic masking
