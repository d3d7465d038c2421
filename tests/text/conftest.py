"""Fixtures for the tokenizer tests: small real text and one trained tokenizer per kind.

Training text is the first lines of Multi30k (English and German), read from the
shared data folder (`TRANSFORMER_KERAS_DATA`, default `../shared/data` next to
the repository).
"""

import os
import pathlib

import pytest

from transformer_keras.text import ByteTokenizer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
NUM_TRAINING_LINES = 300
TOKENIZER_KINDS = ("byte",)


def data_dir():
    return pathlib.Path(
        os.environ.get("TRANSFORMER_KERAS_DATA", REPO_ROOT.parent / "shared" / "data")
    )


def read_lines(relative_path, count=NUM_TRAINING_LINES):
    path = data_dir() / relative_path
    if not path.exists():
        pytest.skip(f"shared data file {path} is absent (set TRANSFORMER_KERAS_DATA)")
    with open(path, encoding="utf-8") as file:
        return [next(file).rstrip("\n") for _ in range(count)]


@pytest.fixture(scope="session")
def english_lines():
    return read_lines("multi30k/train.en")


@pytest.fixture(scope="session")
def german_lines():
    return read_lines("multi30k/train.de")


@pytest.fixture(scope="session")
def trained_tokenizers(english_lines, german_lines):
    """One tokenizer of each kind, trained once per session on English + German."""
    return {"byte": ByteTokenizer()}


@pytest.fixture(params=TOKENIZER_KINDS)
def tokenizer(request, trained_tokenizers):
    return trained_tokenizers[request.param]
