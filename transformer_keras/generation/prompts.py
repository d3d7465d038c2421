"""The Python side of `generate`: checking the arguments and batching the prompts.

Everything here runs eagerly before the compiled loop, so a bad argument is a
`ValueError` naming it (the exported graph checks the same rules with
`tf.debugging` assertions).

Legend: B batch.
"""

import numpy as np

# Longest continuation `generate` produces in one call (Python and SavedModel).
MAX_NEW_TOKENS = 4096


def is_int(value):
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_max_new_tokens(max_new_tokens):
    if not is_int(max_new_tokens) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(
            f"`max_new_tokens` must be an integer in [1, {MAX_NEW_TOKENS}]. "
            f"Received: max_new_tokens={max_new_tokens!r}"
        )


def check_token_id(name, value, vocabulary_size):
    if not is_int(value) or not 0 <= int(value) < vocabulary_size:
        raise ValueError(
            f"`{name}` must hold token ids in [0, {vocabulary_size}). "
            f"Received: {name}={value!r}"
        )


def resolve_seed(seed):
    """`seed` as an int32-range integer; `None` draws a random one."""
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    if not is_int(seed):
        raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    return int(seed) % (2**31 - 1)


def batch_prompts(prompts, vocabulary_size, tokenize=None):
    """Normalizes `generate`'s prompts into one ragged batch of ids.

    Args:
        prompts: a string (or bytes), a list of token ids, or a list of either
            kind (not mixed). `[]` is one empty prompt.
        vocabulary_size: ids must lie in `[0, vocabulary_size)`.
        tokenize: `(B,) strings -> ragged ids`; `None` when the model has no
            tokenizer (then text and empty prompts are errors, as an empty
            prompt starts from the tokenizer's start token).

    Returns:
        `(single, as_text, ids)`: whether one prompt was given (not a list of
        them), whether the prompts are text, and a `(B, None)` int32
        `tf.RaggedTensor` with int64 row splits.

    Example:
    >>> single, as_text, ids = batch_prompts([[5, 6], [7]], vocabulary_size=10)
    >>> single, as_text, ids.to_list()
    (False, False, [[5, 6], [7]])
    """
    import tensorflow as tf

    if isinstance(prompts, np.ndarray):
        prompts = prompts.tolist()
    if not isinstance(prompts, str | bytes | list | tuple):
        raise ValueError(
            "`prompts` must be a string, a list of token ids, or a list of those. "
            f"Received: prompts={prompts!r}"
        )
    single = isinstance(prompts, str | bytes) or all(is_int(x) for x in prompts)
    batch = [prompts] if single else list(prompts)
    if all(isinstance(prompt, str | bytes) for prompt in batch):
        if tokenize is None:
            raise ValueError(
                "Text prompts need a model with a tokenizer; pass token ids instead. "
                f"Received: prompts={prompts!r}"
            )
        texts = [p.encode("utf-8") if isinstance(p, str) else p for p in batch]
        ids = tokenize(tf.constant(texts))  # (B, None)
        return single, True, ids.with_row_splits_dtype(tf.int64)
    rows = []
    for prompt in batch:
        if isinstance(prompt, np.ndarray):
            prompt = prompt.tolist()
        if not isinstance(prompt, list | tuple) or not all(is_int(x) for x in prompt):
            raise ValueError(
                "`prompts` must be strings or lists of token ids, not a mix. "
                f"Received: prompts={prompts!r}"
            )
        for token in prompt:
            check_token_id("prompts", token, vocabulary_size)
        if not prompt and tokenize is None:
            raise ValueError(
                "An empty prompt starts from the tokenizer's start token, and this model "
                f"has no tokenizer. Received: prompts={prompts!r}"
            )
        rows.append([int(token) for token in prompt])
    ids = tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1, inner_shape=())  # (B, None)
    return single, False, ids.with_row_splits_dtype(tf.int64)
