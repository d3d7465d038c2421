"""Fixtures for the tokenizer tests: small real text and one trained tokenizer per kind.

Training text is the first lines of Multi30k (English and German), read from the
shared data folder (`TRANSFORMER_KERAS_DATA`, default `../shared/data` next to
the repository); tests that need it are skipped with the reason when it is absent.
"""

import pytest

from transformer_keras.data.paths import shared_data_file
from transformer_keras.text import (
    ByteTokenizer,
    CharTokenizer,
    SubwordTokenizer,
    WordTokenizer,
)

NUM_TRAINING_LINES = 300
TOKENIZER_KINDS = ("byte", "char", "word", "subword")


def existing_data_file(relative_path):
    try:
        return shared_data_file(relative_path)
    except FileNotFoundError as error:
        pytest.skip(f"shared data is absent: {error}")


def read_lines(relative_path, count=NUM_TRAINING_LINES):
    with open(existing_data_file(relative_path), encoding="utf-8") as file:
        return [next(file).rstrip("\n") for _ in range(count)]


@pytest.fixture(scope="session")
def tiny_shakespeare():
    return existing_data_file("tinyshakespeare/input.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def english_lines():
    return read_lines("multi30k/train.en")


@pytest.fixture(scope="session")
def all_english_lines():
    """The whole English side of Multi30k train (29,000 lines)."""
    path = existing_data_file("multi30k/train.en")
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def german_lines():
    return read_lines("multi30k/train.de")


@pytest.fixture(scope="session")
def trained_tokenizers(english_lines, german_lines):
    """One tokenizer of each kind, trained once per session on English + German."""
    both_languages = english_lines + german_lines
    return {
        "byte": ByteTokenizer(),
        "char": CharTokenizer.train(both_languages),
        "word": WordTokenizer.train(both_languages, max_vocabulary_size=1000),
        "subword": SubwordTokenizer.train(both_languages, vocabulary_size=500),
    }


@pytest.fixture(params=TOKENIZER_KINDS)
def tokenizer(request, trained_tokenizers):
    return trained_tokenizers[request.param]
