"""Attention masks: the one place where masks are built and merged.

Convention for the whole package: masks are boolean and `True` means
"may attend". A padding mask has shape `(B, T)`; an attention mask has shape
`(B, T, S)` (query positions by key positions).

Legend: B batch, T query length, S key length.
"""

import contextlib

import numpy as np
from keras import ops

try:  # Keras keeps the implicit mask on the tensor; the accessors are not public.
    from keras.src.backend.common.masking import get_keras_mask as _get_keras_mask
    from keras.src.backend.common.masking import set_keras_mask as _set_keras_mask
except ImportError:  # pragma: no cover - older or newer Keras layouts

    def _get_keras_mask(x):
        return getattr(x, "_keras_mask", None)

    def _set_keras_mask(x, mask):
        x._keras_mask = mask


def implicit_mask(tensor):
    """The Keras mask carried by `tensor` (e.g. from an embedding), or `None`.

    Explicit masks always win: layers only fall back to this one.
    """
    return None if tensor is None else _get_keras_mask(tensor)


def set_implicit_mask(tensor, mask):
    """Attaches `mask` to `tensor` as its Keras mask (what `implicit_mask` reads)."""
    _set_keras_mask(tensor, mask)


def consume_implicit_mask(tensor):
    """Reads and detaches the Keras mask of `tensor` (as Keras' own attention does).

    A layer that turns the mask into an explicit argument detaches it, so the
    projections it feeds do not warn about a mask they cannot use.
    """
    mask = implicit_mask(tensor)
    if mask is not None:
        _set_keras_mask(tensor, None)
    return mask


@contextlib.contextmanager
def detached_implicit_masks(*tensors):
    """Detaches the Keras masks of `tensors` for a block, then restores them.

    Yields the masks (or `None`s). Inside the block, sub-layers that cannot use
    a mask (projections) do not warn about one; after it, the caller's tensors
    carry their masks again, so another consumer of the same tensor still sees
    its padding.
    """
    saved = [implicit_mask(tensor) for tensor in tensors]
    for tensor, mask in zip(tensors, saved):
        if mask is not None:
            _set_keras_mask(tensor, None)
    try:
        yield saved
    finally:
        for tensor, mask in zip(tensors, saved):
            if mask is not None:
                _set_keras_mask(tensor, mask)


def causal_mask(query_length, key_length=None, offset=0):
    """Lower-triangular mask: query `t` may attend to keys `0 .. offset + t`.

    With a KV cache the queries sit at positions `offset .. offset + T - 1` of a
    key axis of length `S`, so the same function serves training (offset 0,
    `S == T`) and one-token-at-a-time decoding (`T == 1`, offset = step).

    Args:
        query_length: int or scalar tensor, `T`.
        key_length: int or scalar tensor, `S`. Defaults to `query_length`.
        offset: int or scalar tensor, the position of the first query.

    Returns:
        A boolean tensor of shape `(1, T, S)`.

    Example:
    >>> ops.convert_to_numpy(causal_mask(3))[0].astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    key_length = query_length if key_length is None else key_length
    offset = ops.cast(offset, "int32")
    # (T, 1) query positions against (1, S) key positions.
    query_positions = ops.arange(query_length, dtype="int32")[:, None] + offset
    key_positions = ops.arange(key_length, dtype="int32")[None, :]
    return ops.expand_dims(key_positions <= query_positions, 0)  # (1, T, S)


def padding_mask_from_ids(token_ids, pad_id=0):
    """`(B, T)` boolean mask that is `True` at real tokens (`id != pad_id`).

    Example:
    >>> ops.convert_to_numpy(padding_mask_from_ids([[5, 6, 0]])).tolist()
    [[True, True, False]]
    """
    return ops.not_equal(token_ids, pad_id)


def check_padding_mask(name, mask, batch_size, length):
    """Raises a `ValueError` naming `name` when a `(B, T)` mask does not fit.

    Layers call this on the padding masks they receive, with the static batch
    size and length of the inputs the mask belongs to (`None` when unknown), so
    that the error names the argument the user passed. A batch of 1 broadcasts.
    """
    if mask is None:
        return
    shape = tuple(mask.shape) if hasattr(mask, "shape") else np.shape(mask)
    expected = (batch_size, length)
    fits = len(shape) == 2 and all(
        actual is None or size is None or actual == size or (axis == 0 and actual == 1)
        for axis, (actual, size) in enumerate(zip(shape, expected))
    )
    if not fits:
        wanted = tuple("?" if size is None else size for size in expected)
        raise ValueError(
            f"`{name}` must be a boolean (batch, length) mask of shape {wanted} to fit "
            f"the inputs (True = real token). Received: {name}.shape={shape}"
        )


def _check_rank(name, mask, rank):
    if len(mask.shape) != rank:
        raise ValueError(
            f"`{name}` must have rank {rank} (boolean, True = attend). "
            f"Received: {name}.shape={tuple(mask.shape)}"
        )


def _check_length(name, mask, axis, expected):
    actual = mask.shape[axis]
    if actual is not None and expected is not None and actual != expected:
        raise ValueError(
            f"`{name}` does not fit the inputs: axis {axis} has length "
            f"{actual}, the inputs have length {expected}. "
            f"Received: {name}.shape={tuple(mask.shape)}"
        )


def merge_attention_masks(
    query_length,
    key_length,
    query_padding_mask=None,
    key_padding_mask=None,
    attention_mask=None,
    use_causal_mask=False,
    causal_offset=0,
):
    """Merges every mask source into one `(B, T, S)` boolean mask, or `None`.

    Args:
        query_length: static or dynamic `T`.
        key_length: static or dynamic `S`.
        query_padding_mask: `(B, T)`, True at real query tokens.
        key_padding_mask: `(B, S)`, True at real key tokens.
        attention_mask: `(B, T, S)` or `(T, S)` explicit mask.
        use_causal_mask: add the causal constraint.
        causal_offset: position of the first query (KV-cache decoding).

    Returns:
        A boolean tensor broadcastable to `(B, T, S)`, or `None` when there is
        nothing to mask.

    Example:
    >>> mask = merge_attention_masks(2, 2, key_padding_mask=[[True, False]])
    >>> tuple(mask.shape)  # (B, 1, S): broadcasts over the queries
    (1, 1, 2)
    """
    static_t = query_length if isinstance(query_length, int) else None
    static_s = key_length if isinstance(key_length, int) else None
    merged = None

    def _and(a, b):
        return b if a is None else ops.logical_and(a, b)

    if query_padding_mask is not None:
        query_padding_mask = ops.cast(query_padding_mask, "bool")
        _check_rank("query_padding_mask", query_padding_mask, 2)
        _check_length("query_padding_mask", query_padding_mask, 1, static_t)
        merged = _and(merged, query_padding_mask[:, :, None])  # (B, T, 1)
    if key_padding_mask is not None:
        key_padding_mask = ops.cast(key_padding_mask, "bool")
        _check_rank("key_padding_mask", key_padding_mask, 2)
        _check_length("key_padding_mask", key_padding_mask, 1, static_s)
        merged = _and(merged, key_padding_mask[:, None, :])  # (B, 1, S)
    if use_causal_mask:
        merged = _and(merged, causal_mask(query_length, key_length, causal_offset))
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        if len(attention_mask.shape) == 2:
            attention_mask = attention_mask[None]  # (1, T, S)
        _check_rank("attention_mask", attention_mask, 3)
        _check_length("attention_mask", attention_mask, 1, static_t)
        _check_length("attention_mask", attention_mask, 2, static_s)
        merged = _and(merged, attention_mask)
    return merged
