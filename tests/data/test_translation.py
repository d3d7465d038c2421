"""Tests of the parallel-text loaders and batching (data/translation.py)."""

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.data import translation
from transformer_keras.text import ByteTokenizer

pytestmark = pytest.mark.tf_only

TOKENIZER = ByteTokenizer()


def _strings(dataset):
    return [(s.decode(), t.decode()) for s, t in dataset.as_numpy_iterator()]


def test_file_pairs_reads_aligned_lines(tmp_path):
    (tmp_path / "train.de").write_text("ein Hund\nzwei Katzen\n", encoding="utf-8")
    (tmp_path / "train.en").write_text("a dog\ntwo cats\n", encoding="utf-8")
    pairs = translation.file_pairs(tmp_path / "train.de", tmp_path / "train.en")
    assert _strings(pairs) == [("ein Hund", "a dog"), ("zwei Katzen", "two cats")]


def test_file_pairs_rejects_misaligned_files(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\n")
    (tmp_path / "a.en").write_text("one\n")
    with pytest.raises(ValueError, match="same number of lines.*Received: source lines=2"):
        translation.file_pairs(tmp_path / "a.de", tmp_path / "a.en")
    with pytest.raises(FileNotFoundError, match="missing.en"):
        translation.file_pairs(tmp_path / "a.de", tmp_path / "missing.en")


def _tatoeba_file(tmp_path, count=400):
    # English<TAB>Spanish<TAB>attribution, two translations for each English sentence.
    lines = []
    for index in range(count // 2):
        for variant in ("a", "b"):
            lines.append(f"Sentence {index}.\tFrase {index}{variant}.\tCC-BY 2.0 (France)")
    path = tmp_path / "spa.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_tsv_split_is_deterministic_disjoint_and_keeps_sentences_together(tmp_path):
    path = _tatoeba_file(tmp_path)
    columns = dict(source_column=1, target_column=0)
    train = translation.read_tsv_pairs(path, split="train", **columns)
    validation = translation.read_tsv_pairs(path, split="validation", **columns)
    everything = translation.read_tsv_pairs(path, **columns)
    assert train == translation.read_tsv_pairs(path, split="train", **columns)
    assert len(train[0]) + len(validation[0]) == len(everything[0]) == 400
    assert set(train[1]).isdisjoint(validation[1])  # English sentences never straddle
    assert 0.03 < len(validation[0]) / 400 < 0.2  # about 10 %
    assert validation[0][0].startswith("Frase") and validation[1][0].startswith("Sentence")
    dataset = translation.tsv_pairs(path, split="validation", **columns)
    assert _strings(dataset)[0] == (validation[0][0], validation[1][0])


def test_tsv_errors(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("only one column\n")
    with pytest.raises(ValueError, match="bad.tsv:1 needs at least 2"):
        translation.read_tsv_pairs(path)
    with pytest.raises(ValueError, match="Received: split='test'"):
        translation.read_tsv_pairs(path, split="test")


@pytest.mark.parametrize(
    "name, languages",
    [("ted_hrlr_translate/pt_to_en", ("pt", "en")), ("wmt14_translate/de-en", ("de", "en"))],
)
def test_tfds_pairs_with_mock_data(name, languages):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        pairs = translation.tfds_pairs(name, split="train")
        assert pairs.element_spec == (
            tf.TensorSpec([], tf.string),
            tf.TensorSpec([], tf.string),
        )
        assert len(list(pairs)) == 3
        # The supervised order is (source, target).
        assert tfds.builder(name).info.supervised_keys == languages


def test_tokenize_pairs_adds_end_and_start_and_truncates():
    pairs = translation.pairs_dataset(["abc", "abcdefgh"], ["xy", "uvwxyz"])
    rows = list(translation.tokenize_pairs(pairs, TOKENIZER, TOKENIZER, max_length=4))
    start, end = TOKENIZER.start_id, TOKENIZER.end_id
    abc = TOKENIZER.tokenize("abc").numpy().tolist()
    xy = TOKENIZER.tokenize("xy").numpy().tolist()
    assert rows[0][0].numpy().tolist() == abc + [end]
    assert rows[0][1].numpy().tolist() == [start] + xy + [end]
    # Truncated to 4 tokens with the end kept; targets hold start + 3 + end.
    assert rows[1][0].numpy().tolist() == abc + [end]
    assert rows[1][1].numpy().tolist() == [start] + TOKENIZER.tokenize(
        "uvw"
    ).numpy().tolist() + [end]


def test_translation_batches_respect_the_token_budget_and_keep_every_pair():
    rng = np.random.default_rng(0)
    sources = ["s" * int(n) for n in rng.integers(1, 30, 60)]
    targets = ["t" * int(n) for n in rng.integers(1, 30, 60)]
    batches = translation.translation_batches(
        translation.pairs_dataset(sources, targets),
        TOKENIZER,
        TOKENIZER,
        max_length=32,
        token_budget=128,
        shuffle=True,
    )
    seen = []
    for inputs, labels in batches:
        source_ids, target_ids = inputs["source_ids"].numpy(), inputs["target_ids"].numpy()
        longest = max(source_ids.shape[1], target_ids.shape[1] + 1)
        assert len(source_ids) * longest <= 128
        # Teacher forcing: labels are the inputs shifted by one, ending with the end id.
        np.testing.assert_array_equal(labels.numpy()[:, :-1], target_ids[:, 1:])
        assert np.all(target_ids[:, 0] == TOKENIZER.start_id)
        for source_row, label_row in zip(source_ids, labels.numpy()):
            seen.append(((source_row != 0).sum() - 1, (label_row != 0).sum() - 1))
    expected = [(len(s), len(t)) for s, t in zip(sources, targets)]
    assert sorted(seen) == sorted(expected)
