import doctest

import pytest
import tensorflow as tf

from transformer_keras.text import ByteTokenizer

pytestmark = pytest.mark.tf_only

VALID_TEXTS = [
    "plain ASCII",
    "accents: café naïve Ærøskøbing ñ",
    "中文字符和日本語のかな",
    "emoji 😀🚀👩‍👩‍👧 and flags 🇩🇪",
    "control \x01\x07\x1b\t\r\n characters",
    "",
    "  leading and trailing whitespace  ",
]


def test_ids_are_utf8_bytes_after_the_special_ids():
    tokenizer = ByteTokenizer()
    assert tokenizer.vocabulary_size == 260
    assert tokenizer("Aé").numpy().tolist() == [0x41 + 4, 0xC3 + 4, 0xA9 + 4]
    assert (tokenizer.unknown_id, tokenizer.start_id, tokenizer.end_id) == (1, 2, 3)


def test_round_trip_is_lossless_on_any_valid_utf8():
    tokenizer = ByteTokenizer()
    texts = tokenizer.detokenize(tokenizer(VALID_TEXTS))
    assert [text.decode("utf-8") for text in texts.numpy()] == VALID_TEXTS


def test_invalid_utf8_round_trips_byte_for_byte():
    tokenizer = ByteTokenizer()
    raw = [b"\xff\xfe\x80", b"ok \xc3", bytes(range(1, 256))]
    ids = tokenizer(tf.constant(raw))
    assert ids.to_list()[0] == [0xFF + 4, 0xFE + 4, 0x80 + 4]
    assert tokenizer.detokenize(ids).numpy().tolist() == raw


def test_id_to_token_names_bytes_readably():
    tokenizer = ByteTokenizer()
    assert tokenizer.id_to_token(0x41 + 4) == "A"
    assert tokenizer.id_to_token(0xC3 + 4) == "<0xC3>"
    assert tokenizer.id_to_token(0x0A + 4) == "<0x0A>"
    assert tokenizer.token_to_id("\n") == 0x0A + 4
    assert tokenizer.token_to_id("<0x0A>") == 0x0A + 4
    assert [tokenizer.id_to_token(i) for i in range(4)] == [
        "[PAD]",
        "[UNK]",
        "[START]",
        "[END]",
    ]
    for token_id in range(tokenizer.vocabulary_size):
        assert tokenizer.token_to_id(tokenizer.id_to_token(token_id)) == token_id
    with pytest.raises(ValueError, match="Received: token='é'"):
        tokenizer.token_to_id("é")


def test_docstring_examples_run():
    from transformer_keras.text import base, byte_tokenizer

    for module in (
        base,
        byte_tokenizer,
    ):
        assert doctest.testmod(module).failed == 0
