"""The TensorFlow edge of decoding: ragged prompts in, ragged continuations out.

Inside a `tf.function` (and an exported SavedModel) prompts of different
lengths arrive as a `tf.RaggedTensor`; `pack_prompts` turns them into the
right-padded buffer that `decode.decode` takes, and `continuations` cuts its
output back into ragged rows. On other backends the host does the same with
lists (`prompts.pack_prompt_rows`, `prompts.continuation_rows`).

Legend: B batch, P longest prompt, L buffer length.
"""

import tensorflow as tf


def pack_prompts(prompts, context_length, start_id=None, pad_id=0):
    """Ragged prompts -> a right-padded `(B, P)` int32 buffer and `(B,)` lengths.

    Args:
        prompts: `tf.RaggedTensor` of token ids, `(B, None)`.
        context_length: prompts longer than this keep their last tokens.
        start_id: the token an empty prompt starts from; `None` leaves empty
            prompts empty (then `decode` rejects them).
        pad_id: fills the buffer after each prompt.

    Returns:
        `(token_ids (B, P) int32, lengths (B,) int32)`.

    Example:
    >>> ids, lengths = pack_prompts(tf.ragged.constant([[5, 6, 7], []]), 2, start_id=1)
    >>> ids.numpy().tolist(), lengths.numpy().tolist()
    ([[6, 7], [1, 0]], [2, 1])
    """
    prompts = tf.cast(prompts, tf.int32)[:, -context_length:]
    if start_id is not None:
        empty = tf.cast(prompts.row_lengths() == 0, tf.int64)  # (B,)
        starts = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(empty)], tf.constant(start_id, tf.int32)), empty
        )  # (B, 0 or 1)
        prompts = tf.concat([starts, prompts], axis=1)
    lengths = tf.cast(prompts.row_lengths(), tf.int32)
    return prompts.to_tensor(default_value=pad_id), lengths


def continuations(token_ids, prompt_lengths, lengths, stop_token_id=-1):
    """The new tokens of each row, without the prompt and the stop token.

    Args:
        token_ids: `(B, L)` from `decode`.
        prompt_lengths: `(B,)` prompt lengths given to `decode`.
        lengths: `(B,)` lengths returned by `decode`.
        stop_token_id: dropped when it ends a row.

    Returns:
        A `(B, None)` int32 `tf.RaggedTensor`.

    Example:
    >>> tokens = tf.constant([[3, 4, 5, 0], [12, 13, 14, 15]])
    >>> continuations(tokens, tf.constant([1, 2]), tf.constant([3, 4]), 5).to_list()
    [[4], [14, 15]]
    """
    positions = tf.range(tf.shape(token_ids)[1])[None, :]  # (1, L)
    last = tf.gather(token_ids, tf.maximum(lengths - 1, 0), batch_dims=1)  # (B,)
    ends = lengths - tf.cast((last == stop_token_id) & (lengths > prompt_lengths), tf.int32)
    keep = (positions >= prompt_lengths[:, None]) & (positions < ends[:, None])  # (B, L)
    return tf.ragged.boolean_mask(token_ids, keep)
