"""The interface every tokenizer shares, checked on each kind (see `conftest.py`)."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.text.base import UNKNOWN_TEXT

pytestmark = pytest.mark.tf_only

TEXTS = ["A man in a blue shirt is standing on a ladder.", "Two dogs play.", ""]


def ragged_ids(tokenizer, texts=TEXTS):
    return tokenizer.tokenize(tf.constant(texts)).to_list()


def test_tokenize_returns_ragged_int32_rows(tokenizer):
    ids = tokenizer(tf.constant(TEXTS))
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.dtype == tf.int32
    assert ids.shape.as_list() == [3, None]
    rows = ids.to_list()
    assert rows[2] == []
    assert all(len(row) > 0 for row in rows[:2])
    flat = [token for row in rows for token in row]
    specials = {tokenizer.pad_id, tokenizer.start_id, tokenizer.end_id}
    assert specials.isdisjoint(flat)
    assert all(0 <= token < tokenizer.vocabulary_size for token in flat)


def test_special_ids_are_distinct_and_named(tokenizer):
    assert tokenizer.pad_id == 0
    ids = [tokenizer.pad_id, tokenizer.unknown_id, tokenizer.start_id, tokenizer.end_id]
    assert len(set(ids)) == 4
    for token_id in ids:
        assert tokenizer.token_to_id(tokenizer.id_to_token(token_id)) == token_id


def test_id_to_token_and_token_to_id_are_inverse(tokenizer):
    for token_id in ragged_ids(tokenizer)[0]:
        assert tokenizer.token_to_id(tokenizer.id_to_token(token_id)) == token_id


@pytest.mark.parametrize("bad_id", [-1, "3", 1.0, True])
def test_id_to_token_rejects_bad_ids(tokenizer, bad_id):
    with pytest.raises(ValueError, match=r"Received: id="):
        tokenizer.id_to_token(bad_id)
    with pytest.raises(ValueError, match=r"Received: id="):
        tokenizer.id_to_token(tokenizer.vocabulary_size)


def test_token_to_id_rejects_unknown_tokens(tokenizer):
    with pytest.raises(ValueError, match=r"Received: token="):
        tokenizer.token_to_id("no such token, surely")


def test_scalar_text_gives_one_row(tokenizer):
    ids = tokenizer.tokenize(TEXTS[1])
    assert ids.shape.rank == 1
    assert ids.numpy().tolist() == ragged_ids(tokenizer)[1]
    assert tokenizer.detokenize(ids).shape.rank == 0
    assert tokenizer.encode(TEXTS[1], 4).shape == (4,)


def test_encode_right_truncation_keeps_first_tokens_and_specials(tokenizer):
    content = ragged_ids(tokenizer)[0][:3]
    encoded = tokenizer.encode([TEXTS[0]], 5, add_start=True, add_end=True)
    assert encoded.dtype == tf.int32
    assert encoded.numpy().tolist() == [[tokenizer.start_id, *content, tokenizer.end_id]]


def test_encode_left_truncation_keeps_last_tokens_and_specials(tokenizer):
    content = ragged_ids(tokenizer)[0][-3:]
    encoded = tokenizer.encode([TEXTS[0]], 5, add_start=True, add_end=True, truncate="left")
    assert encoded.numpy().tolist() == [[tokenizer.start_id, *content, tokenizer.end_id]]
    left_no_specials = tokenizer.encode([TEXTS[0]], 2, truncate="left")
    assert left_no_specials.numpy().tolist() == [ragged_ids(tokenizer)[0][-2:]]


def test_encode_pads_short_rows_with_pad_id(tokenizer):
    short = ragged_ids(tokenizer)[1]
    length = len(short) + 4
    encoded = tokenizer.encode(TEXTS[1:], length, add_end=True).numpy().tolist()
    assert encoded[0] == [*short, tokenizer.end_id] + [0] * 3
    assert encoded[1] == [tokenizer.end_id] + [0] * (length - 1)


def test_encode_with_room_only_for_specials(tokenizer):
    encoded = tokenizer.encode(TEXTS[:1], 2, add_start=True, add_end=True)
    assert encoded.numpy().tolist() == [[tokenizer.start_id, tokenizer.end_id]]
    assert tokenizer.encode(TEXTS[:1], 1, add_start=True).numpy().tolist() == [
        [tokenizer.start_id]
    ]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sequence_length": 0}, "sequence_length"),
        ({"sequence_length": "8"}, "sequence_length"),
        ({"sequence_length": 1, "add_start": True, "add_end": True}, "sequence_length"),
        ({"sequence_length": 8, "truncate": "middle"}, "truncate"),
        ({"sequence_length": 8, "add_start": "yes"}, "add_start"),
        ({"sequence_length": 8, "add_end": 1}, "add_end"),
    ],
)
def test_encode_rejects_bad_arguments(tokenizer, kwargs, name):
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        tokenizer.encode(TEXTS, **kwargs)


def test_rejects_non_string_and_matrix_texts(tokenizer):
    with pytest.raises(ValueError, match=r"Received: texts with dtype="):
        tokenizer.tokenize([1, 2])
    with pytest.raises(ValueError, match=r"Received: texts.shape="):
        tokenizer.tokenize([["a", "b"]])
    with pytest.raises(ValueError, match=r"Received: ids with dtype="):
        tokenizer.detokenize([[1.0, 2.0]])


def test_detokenize_drops_pad_and_start_and_stops_at_end(tokenizer):
    content = ragged_ids(tokenizer)[1]
    expected = tokenizer.detokenize([content]).numpy()[0]
    start, end, pad = tokenizer.start_id, tokenizer.end_id, tokenizer.pad_id
    noisy = [start, *content, end, *content, pad]
    padded = [pad, start, *content] + [pad] * (len(content) + 1)
    dense = tokenizer.detokenize([noisy, padded])
    assert dense.numpy().tolist() == [expected, expected]
    ragged = tokenizer.detokenize(tf.ragged.constant([noisy, [start, *content]]))
    assert ragged.numpy().tolist() == [expected, expected]


def test_detokenize_renders_unknown_and_out_of_range_ids_as_placeholder(tokenizer):
    texts = tokenizer.detokenize(
        [[tokenizer.unknown_id], [tokenizer.vocabulary_size], [-5]]
    ).numpy()
    placeholder = UNKNOWN_TEXT.encode("utf-8")
    assert [text.strip() for text in texts] == [placeholder] * 3


def test_detokenize_accepts_int64_and_empty_rows(tokenizer):
    texts = tokenizer.detokenize(tf.zeros([2, 3], tf.int64))
    assert texts.numpy().tolist() == [b"", b""]


BAD_TEXTS = [
    b"",
    b"   \t\n  ",
    b"caf\xc3\xa9 \xff\xfe broken \xc3",  # invalid UTF-8 bytes
    "long words " * 5000,
    "汉字 😀 naïve",
]


def test_bad_inputs_never_crash(tokenizer):
    ids = tokenizer.tokenize(tf.constant(BAD_TEXTS))
    assert ids.nrows() == len(BAD_TEXTS)
    assert ids.to_list()[0] == []
    encoded = tokenizer.encode(tf.constant(BAD_TEXTS), 16, add_start=True, add_end=True)
    assert encoded.shape == (len(BAD_TEXTS), 16)
    texts = tokenizer.detokenize(encoded).numpy()
    assert texts.shape == (len(BAD_TEXTS),)
    assert texts[0] == b""


def test_zero_texts_give_empty_outputs(tokenizer):
    no_texts = tf.constant([], tf.string)
    assert tokenizer.tokenize(no_texts).shape.as_list() in ([0, None], [0, 0])
    assert tokenizer.tokenize(no_texts).nrows() == 0
    assert tokenizer.encode(no_texts, 6, add_start=True).shape == (0, 6)
    assert tokenizer.detokenize(tf.zeros([0, 6], tf.int32)).shape == (0,)


def test_works_in_batched_dataset_map(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2)
    encoded = dataset.map(lambda texts: tokenizer.encode(texts, 8, add_end=True))
    ragged = dataset.map(tokenizer)
    expected = tokenizer.encode(TEXTS, 8, add_end=True).numpy()
    np.testing.assert_array_equal(np.concatenate(list(encoded.as_numpy_iterator())), expected)
    rows = [row for batch in ragged for row in batch.to_list()]
    assert rows == ragged_ids(tokenizer)


def test_works_in_tf_function_with_unknown_batch(tokenizer):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(texts):
        return tokenizer.detokenize(tokenizer.encode(texts, 64, add_start=True, add_end=True))

    eager = tokenizer.detokenize(tokenizer.encode(TEXTS, 64, add_start=True, add_end=True))
    assert round_trip(tf.constant(TEXTS)).numpy().tolist() == eager.numpy().tolist()


def test_serialized_config_round_trip(tokenizer):
    config = keras.saving.serialize_keras_object(tokenizer)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(tokenizer)
    assert keras.saving.serialize_keras_object(restored) == config


def test_keras_file_round_trip_of_functional_model(tokenizer, tmp_path):
    texts = keras.Input(shape=(), dtype="string")
    model = keras.Model(texts, tokenizer(texts))
    path = tmp_path / "tokenizer_model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored(tf.constant(TEXTS)).to_list() == ragged_ids(tokenizer)
    restored_tokenizer = restored.layers[-1]
    assert restored_tokenizer.vocabulary_size == tokenizer.vocabulary_size
    encoded = tokenizer.encode(TEXTS, 12, add_start=True)
    assert restored_tokenizer.detokenize(encoded).numpy().tolist() == (
        tokenizer.detokenize(encoded).numpy().tolist()
    )


class _ExportedTokenizers(tf.Module):
    """A string-in signature per tokenizer, as an export module would declare it."""

    def __init__(self, tokenizers):
        super().__init__()
        self.tokenizers = tokenizers
        for kind, tokenizer in tokenizers.items():
            setattr(self, f"round_trip_{kind}", _round_trip_function(tokenizer))


def _round_trip_function(tokenizer):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(texts):
        ids = tokenizer.encode(texts, 24, add_start=True, add_end=True)  # (B, 24)
        return {"ids": ids, "texts": tokenizer.detokenize(ids)}

    return round_trip


RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops
exported = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
result = {}
for kind in json.loads(sys.argv[3]):
    outputs = getattr(exported, "round_trip_" + kind)(texts)
    result[kind] = {"ids": outputs["ids"].numpy().tolist(),
                    "texts": [t.decode("utf-8", "replace") for t in outputs["texts"].numpy()]}
assert "transformer_keras" not in sys.modules
print(json.dumps(result))
"""


@pytest.mark.slow
def test_saved_model_reloads_without_the_package(trained_tokenizers, tmp_path):
    texts = [*TEXTS, "Zwei Männer stehen am Herd. 😀"]
    export_dir = str(tmp_path / "tokenizers")
    tf.saved_model.save(_ExportedTokenizers(dict(trained_tokenizers)), export_dir)
    kinds = sorted(trained_tokenizers)
    completed = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, export_dir, json.dumps(texts), json.dumps(kinds)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    reloaded = json.loads(completed.stdout.strip().splitlines()[-1])
    for kind in kinds:
        tokenizer = trained_tokenizers[kind]
        ids = tokenizer.encode(texts, 24, add_start=True, add_end=True)
        decoded = tokenizer.detokenize(ids).numpy()
        assert reloaded[kind]["ids"] == ids.numpy().tolist(), kind
        assert reloaded[kind]["texts"] == [t.decode("utf-8", "replace") for t in decoded], kind
