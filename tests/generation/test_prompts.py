"""Tests of `generation/prompts.py`: generate's argument checks and prompt batching.

The ragged batches are TensorFlow's (`tf_only`); the checks run on any backend.
"""

import numpy as np
import pytest

from transformer_keras.generation.prompts import (
    MAX_NEW_TOKENS,
    batch_prompts,
    check_max_new_tokens,
    check_prompts,
    resolve_seed,
)


def fake_tokenize(texts):
    import tensorflow as tf

    return tf.strings.unicode_decode(texts, "UTF-8")  # code points as ids


@pytest.mark.tf_only
def test_single_prompts_and_batches():
    assert batch_prompts([5, 6], 10)[:2] == (True, False)
    assert batch_prompts(np.array([[5, 6], [7, 8]]), 10)[2].to_list() == [[5, 6], [7, 8]]
    single, as_text, ids = batch_prompts("ab", 200, fake_tokenize)
    assert (single, as_text, ids.to_list()) == (True, True, [[97, 98]])
    single, as_text, ids = batch_prompts(["a", b"b", ""], 200, fake_tokenize)
    assert (single, as_text, ids.to_list()) == (False, True, [[97], [98], []])
    assert ids.row_splits.dtype == "int64"


@pytest.mark.tf_only
def test_an_empty_list_is_one_empty_prompt():
    single, _, ids = batch_prompts([], 10, fake_tokenize)
    assert single and ids.to_list() == [[]]


BAD_PROMPTS = [
    ([[5, 10]], "token ids in \\[0, 10\\)"),
    ([[True]], "not a mix"),
    ([["a"], [5]], "not a mix"),
    (5, "must be a string"),
    ("text", "need a model with a tokenizer"),
    ([[]], "start token"),
]


@pytest.mark.parametrize("prompts, message", BAD_PROMPTS)
def test_bad_prompts_name_the_argument(prompts, message):
    with pytest.raises(ValueError, match=f"{message}.*Received: prompts="):
        check_prompts(prompts, 10, has_tokenizer=False)


@pytest.mark.tf_only
@pytest.mark.parametrize("prompts, message", BAD_PROMPTS)
def test_ragged_batches_name_bad_prompts_too(prompts, message):
    with pytest.raises(ValueError, match=f"{message}.*Received: prompts="):
        batch_prompts(prompts, 10)


def test_checked_prompts_are_lists_of_ids_or_utf8_bytes():
    ids = np.array([[5, 6], [7, 8]])
    assert check_prompts(ids, 10, False) == (False, False, [[5, 6], [7, 8]])
    assert check_prompts([], 10, True) == (True, False, [[]])
    assert check_prompts(["a", b"b", "\u00e9"], 10, True) == (
        False,
        True,
        [b"a", b"b", "\u00e9".encode()],
    )


def test_max_new_tokens_and_seed():
    check_max_new_tokens(1)
    check_max_new_tokens(MAX_NEW_TOKENS)
    for bad in (0, MAX_NEW_TOKENS + 1, 2.0, True):
        with pytest.raises(ValueError, match="Received: max_new_tokens="):
            check_max_new_tokens(bad)
    assert resolve_seed(5) == 5 and resolve_seed(np.int64(2**31)) == 1
    assert 0 <= resolve_seed(None) < 2**31 - 1
    with pytest.raises(ValueError, match="Received: seed="):
        resolve_seed("1")


@pytest.mark.tf_only  # `batch_prompts`' example builds a ragged tensor
def test_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(importlib.import_module("transformer_keras.generation.prompts")).failed
        == 0
    )
