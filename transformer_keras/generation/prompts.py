"""The Python side of `generate`: checking the arguments and batching the prompts.

Everything here runs eagerly before the compiled loop, so a bad argument is a
`ValueError` naming it (the exported graph checks the same rules with
`tf.debugging` assertions). On TensorFlow the prompts go into the traced
function as one ragged tensor (`batch_prompts`); on JAX the host packs them
into a padded array (`pack_prompt_rows`) and reads the continuations back
(`continuation_rows`).

Legend: B batch, P longest prompt, L buffer length.
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


def check_prompts(prompts, vocabulary_size, has_tokenizer):
    """Normalizes `generate`'s prompts into a batch; raises `ValueError` naming them.

    Args:
        prompts: a string (or bytes), a list of token ids, or a list of either
            kind (not mixed). `[]` is one empty prompt.
        vocabulary_size: ids must lie in `[0, vocabulary_size)`.
        has_tokenizer: whether the model has a tokenizer (without one, text
            and empty prompts are errors, as an empty prompt starts from the
            tokenizer's start token).

    Returns:
        `(single, as_text, batch)`: whether one prompt was given (not a list
        of them), whether the prompts are text, and the batch: a list of
        UTF-8 byte strings or a list of lists of int ids.

    Example:
    >>> check_prompts([[5, 6], [7]], vocabulary_size=10, has_tokenizer=False)
    (False, False, [[5, 6], [7]])
    >>> check_prompts("hi", vocabulary_size=10, has_tokenizer=True)
    (True, True, [b'hi'])
    """
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
        if not has_tokenizer:
            raise ValueError(
                "Text prompts need a model with a tokenizer; pass token ids instead. "
                f"Received: prompts={prompts!r}"
            )
        return single, True, [p.encode("utf-8") if isinstance(p, str) else p for p in batch]
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
        if not prompt and not has_tokenizer:
            raise ValueError(
                "An empty prompt starts from the tokenizer's start token, and this model "
                f"has no tokenizer. Received: prompts={prompts!r}"
            )
        rows.append([int(token) for token in prompt])
    return single, False, rows


def batch_prompts(prompts, vocabulary_size, tokenize=None):
    """Normalizes `generate`'s prompts into one ragged batch of ids (TensorFlow).

    Args:
        prompts, vocabulary_size: see `check_prompts`.
        tokenize: `(B,) strings -> ragged ids`; `None` when the model has no
            tokenizer.

    Returns:
        `(single, as_text, ids)`: see `check_prompts`; `ids` is a `(B, None)`
        int32 `tf.RaggedTensor` with int64 row splits.

    Example:
    >>> single, as_text, ids = batch_prompts([[5, 6], [7]], vocabulary_size=10)
    >>> single, as_text, ids.to_list()
    (False, False, [[5, 6], [7]])
    """
    import tensorflow as tf

    single, as_text, batch = check_prompts(prompts, vocabulary_size, tokenize is not None)
    if as_text:
        ids = tokenize(tf.constant(batch))  # (B, None)
    else:
        ids = tf.ragged.constant(batch, dtype=tf.int32, ragged_rank=1, inner_shape=())
    return single, as_text, ids.with_row_splits_dtype(tf.int64)  # (B, None)


def pack_prompt_rows(rows, context_length, start_id=None, pad_id=0):
    """Lists of ids -> a right-padded `(B, P)` int32 array and `(B,)` lengths, on the host.

    The host's `ragged.pack_prompts` (backends without ragged tensors): prompts
    longer than `context_length` keep their last tokens, an empty prompt
    starts from `start_id` (`None` leaves it empty).

    Example:
    >>> ids, lengths = pack_prompt_rows([[5, 6, 7], []], 2, start_id=1)
    >>> ids.tolist(), lengths.tolist()
    ([[6, 7], [1, 0]], [2, 1])
    """
    rows = [list(row)[-context_length:] if context_length else [] for row in rows]
    if start_id is not None:
        rows = [row or [int(start_id)] for row in rows]
    lengths = np.array([len(row) for row in rows], "int32")  # (B,)
    ids = np.full((len(rows), int(lengths.max(initial=0))), pad_id, "int32")  # (B, P)
    for row_ids, row in zip(ids, rows):
        row_ids[: len(row)] = row
    return ids, lengths


def continuation_rows(token_ids, prompt_lengths, lengths, stop_token_id=-1):
    """The new tokens of each row as lists, without the prompt and the stop token.

    The host's `ragged.continuations`: `token_ids` `(B, L)` and the lengths as
    NumPy arrays (or lists).

    Example:
    >>> continuation_rows([[3, 4, 5, 0], [12, 13, 14, 15]], [1, 2], [3, 4], 5)
    [[4], [14, 15]]
    """
    rows = []
    for row, start, end in zip(np.asarray(token_ids), prompt_lengths, lengths):
        start, end = int(start), int(end)
        if end > start and int(row[end - 1]) == stop_token_id:
            end -= 1
        rows.append([int(token) for token in row[start:end]])
    return rows
