import doctest

import pytest

pytestmark = pytest.mark.tf_only


def test_docstring_examples_run():
    from transformer_keras.text.pretrained import (
        byte_pair_tokenizer,
        huggingface,
        marian_tokenizer,
        wordpiece_tokenizer,
    )

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    for module in (byte_pair_tokenizer, huggingface, marian_tokenizer, wordpiece_tokenizer):
        results = doctest.testmod(module, optionflags=flags, report=True)
        assert results.failed == 0, module.__name__
        assert results.attempted > 0 or module is huggingface, module.__name__
