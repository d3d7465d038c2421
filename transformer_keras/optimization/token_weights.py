"""Turning padding targets into per-token weights (shared by the loss and metrics).

Legend: B batch, T target length.
"""

from keras import ops


def squeeze_class_axis(y_true, y_pred):
    """`(B, 1)` class targets become `(B,)`, as Keras' sparse losses accept both."""
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        return ops.squeeze(y_true, axis=-1)
    return y_true


def token_weights(y_true, pad_id, sample_weight=None, dtype="float32"):
    """Weights shaped like `y_true`: 0 on `pad_id` targets, `sample_weight` elsewhere.

    Args:
        y_true: `(B, T)` or `(B,)` target ids.
        pad_id: the id to ignore, or `None` to keep every target.
        sample_weight: optional `(B,)` per-example or `y_true`-shaped weights.
        dtype: the weights' dtype.

    Returns:
        A tensor of `y_true`'s shape.
    """
    weights = ops.ones(ops.shape(y_true), dtype=dtype)
    if pad_id is not None:
        weights = ops.cast(ops.not_equal(y_true, pad_id), dtype)
    if sample_weight is not None:
        sample_weight = ops.cast(sample_weight, dtype)
        while len(sample_weight.shape) < len(weights.shape):
            sample_weight = ops.expand_dims(sample_weight, -1)  # (B,) -> (B, 1)
        weights = weights * sample_weight
    return weights
