"""Query-chunked attention: the memory-saving path for long sequences.

Dense attention holds the whole `(B, N, T, S)` score matrix, and training keeps
its softmax for the backward pass, so memory grows with `T * S`. Here the
queries are cut into chunks of `chunk_size` rows; each chunk attends to all
keys through the same `keras.ops.dot_product_attention` as the dense path, one
chunk after the other, so only one `(B, N, chunk_size, S)` score block is alive
at a time. `keras.remat` makes the backward pass recompute a chunk's scores
instead of storing them.

Every output row is computed by the dense op itself, so the result equals the
dense path up to float rounding, including rows whose keys are all masked. The
boolean mask stays a full `(B, T, S)` tensor: one byte per entry, `4 * N` times
smaller than the float32 scores it replaces.

Legend: B batch, T query length, S key length, N heads, H head size,
C number of chunks, Q chunk size (query rows per chunk).
"""

import functools

import keras
from keras import ops

from transformer_keras.utils.validation import check_positive_int


def chunked_dot_product_attention(query, key, value, chunk_size, mask=None, scale=None):
    """`keras.ops.dot_product_attention`, computed `chunk_size` query rows at a time.

    Args:
        query: `(B, T, N, H)`.
        key: `(B, S, N, H)`.
        value: `(B, S, N, H)`.
        chunk_size: positive int `Q`, query rows per chunk. When the static
            query length is at most `chunk_size`, this is one dense call.
        mask: boolean, True = may attend, of rank 4 and broadcastable to
            `(B, N, T, S)`, e.g. `(B, 1, T, S)` or `(B, 1, 1, S)`; or `None`.
        scale: factor of the scores; defaults to `1 / sqrt(H)`.

    Returns:
        `(B, T, N, H)`, equal to `ops.dot_product_attention(query, key, value,
        mask=mask, scale=scale)`.

    Example:
    >>> import numpy as np
    >>> q = np.random.rand(1, 10, 2, 4).astype("float32")
    >>> out = chunked_dot_product_attention(q, q, q, chunk_size=4)
    >>> np.allclose(out, ops.dot_product_attention(q, q, q), atol=1e-6)
    True
    """
    check_positive_int("chunk_size", chunk_size)
    if mask is not None and len(mask.shape) != 4:
        raise ValueError(
            "`mask` must have rank 4, broadcastable to (B, N, T, S). "
            f"Received: mask.shape={tuple(mask.shape)}"
        )
    attend = functools.partial(ops.dot_product_attention, scale=scale)
    query_length = query.shape[1]
    if query_length is not None and query_length <= chunk_size:
        return attend(query, key, value, mask=mask)

    length = query_length if query_length is not None else ops.shape(query)[1]
    padding = -length % chunk_size  # rows added so that T becomes a multiple of Q
    query_chunks = _split_rows(query, axis=1, padding=padding, chunk_size=chunk_size)
    # A mask whose query axis is 1 (key padding only) is the same for every chunk.
    mask_per_chunk = mask is not None and mask.shape[2] != 1
    if mask_per_chunk:
        mask_chunks = _split_rows(mask, axis=2, padding=padding, chunk_size=chunk_size)

    def attend_chunk(chunk):
        query_chunk, mask_chunk = chunk if mask_per_chunk else (chunk, mask)
        # The mask is closed over: the rematerialized function only takes the
        # tensors it differentiates (TensorFlow cannot take a gradient of a bool).
        return keras.remat(functools.partial(attend, mask=mask_chunk))(
            query_chunk, key, value
        )  # (B, Q, N, H)

    outputs = _map_one_at_a_time(
        attend_chunk,
        (query_chunks, mask_chunks) if mask_per_chunk else query_chunks,
        dtype=query.dtype,
    )  # (C, B, Q, N, H)
    batch, _, heads, head_size = ops.shape(outputs)[1:]
    outputs = ops.transpose(outputs, (1, 0, 2, 3, 4))  # (B, C, Q, N, H)
    outputs = ops.reshape(outputs, (batch, -1, heads, head_size))  # (B, C * Q, N, H)
    return outputs[:, :length]  # (B, T, N, H)


def _split_rows(tensor, axis, padding, chunk_size):
    """Pads `axis` (the query axis) to a multiple of `chunk_size` and cuts it.

    `(..., T, ...)` with `T` at `axis` becomes `(C, ..., Q, ...)`: the chunks
    lead, so the map walks over them. Padded rows are zeros (queries) or
    False (masks); their outputs are dropped.
    """
    if not isinstance(padding, int) or padding:
        pad_width = [[0, 0]] * len(tensor.shape)
        pad_width[axis] = [0, padding]
        tensor = ops.pad(tensor, pad_width)  # (..., C * Q, ...)
    shape = list(ops.shape(tensor))
    chunked = ops.reshape(
        tensor, shape[:axis] + [-1, chunk_size] + shape[axis + 1 :]
    )  # (..., C, Q, ...)
    order = [axis] + [i for i in range(len(shape) + 1) if i != axis]
    return ops.transpose(chunked, order)  # (C, ..., Q, ...)


def _map_one_at_a_time(function, elements, dtype):
    """`ops.map` whose iterations never overlap, so one score block is alive.

    `ops.map` is `tf.map_fn` on TensorFlow, whose graph mode runs up to 10
    iterations at once (10 score blocks in memory); `parallel_iterations=1`
    keeps them sequential, and `tf.map_fn` (unlike `ops.scan`) also compiles
    with XLA when differentiated. Other backends' `map` is sequential already.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.map(function, elements)
    import tensorflow as tf

    return tf.map_fn(function, elements, parallel_iterations=1, fn_output_signature=dtype)
