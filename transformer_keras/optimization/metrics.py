"""Token-level accuracy and perplexity that ignore padding targets.

Both accumulate over batches weighted by their number of real tokens, so the
epoch value equals the value over all real tokens at once, whatever the batch
lengths. Legend: B batch, T target length, V vocabulary.
"""

import keras
from keras import ops

from transformer_keras.optimization.token_weights import squeeze_class_axis, token_weights


class _MaskedTokenMean(keras.metrics.Mean):
    """A `keras.metrics.Mean` of a per-token value, weighted by real tokens.

    Values and weights are flattened to one axis before `Mean.update_state`:
    it averages per example first, which would weigh batches of different
    lengths unequally.
    """

    def __init__(self, pad_id=0, name=None, dtype=None):
        if pad_id is not None and (isinstance(pad_id, bool) or not isinstance(pad_id, int)):
            raise ValueError(
                f"`pad_id` must be an integer or None. Received: pad_id={pad_id!r}"
            )
        super().__init__(name=name, dtype=dtype)
        self.pad_id = pad_id

    def per_token_values(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, "float32")
        y_true = squeeze_class_axis(ops.convert_to_tensor(y_true), y_pred)
        weights = token_weights(y_true, self.pad_id, sample_weight)
        # Padding targets may hold any id (even -1); give them a valid one, weight 0 hides them.
        safe_true = ops.where(weights > 0, ops.cast(y_true, "int32"), 0)
        values = self.per_token_values(safe_true, y_pred)
        # (B, T) -> (B * T,): one weight per token.
        return super().update_state(
            ops.reshape(values, (-1,)), sample_weight=ops.reshape(weights, (-1,))
        )

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="transformer_keras")
class MaskedAccuracy(_MaskedTokenMean):
    """Fraction of real (non-`pad_id`) targets whose arg-max prediction is right.

    Args:
        pad_id: target id to ignore; `None` counts every target.
        name: the metric name.
        dtype: the metric's dtype.

    Call arguments (`update_state`):
        y_true: `(B, T)` ids with `(B, T, V)` predictions, or `(B,)` with `(B, C)`.
        y_pred: logits or probabilities.
        sample_weight: optional `(B,)` or `y_true`-shaped weights.

    Returns:
        `result()`: the accuracy over all real tokens seen since the last reset.

    Example:
    >>> metric = MaskedAccuracy(pad_id=0)
    >>> metric.update_state([[2, 1, 0]], [[[0, 0, 1], [0, 0, 1], [1, 0, 0]]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, pad_id=0, name="masked_accuracy", dtype=None):
        super().__init__(pad_id=pad_id, name=name, dtype=dtype)
        self._direction = "up"  # lets callbacks with mode="auto" monitor it

    def per_token_values(self, y_true, y_pred):
        return keras.metrics.sparse_categorical_accuracy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="transformer_keras")
class Perplexity(_MaskedTokenMean):
    """`exp` of the mean cross-entropy over real (non-`pad_id`) targets.

    Args:
        from_logits: whether predictions are logits (True) or probabilities.
        pad_id: target id to ignore; `None` counts every target.
        name: the metric name.
        dtype: the metric's dtype.

    Call arguments (`update_state`):
        y_true: `(B, T)` target ids.
        y_pred: `(B, T, V)` logits or probabilities.
        sample_weight: optional `(B,)` or `(B, T)` weights.

    Returns:
        `result()`: the perplexity over all real tokens seen since the last reset.

    Example:
    >>> import numpy as np
    >>> metric = Perplexity(pad_id=0)
    >>> metric.update_state([[1, 2, 0]], np.zeros((1, 3, 4)))  # uniform over 4 ids
    >>> round(float(metric.result()), 4)
    4.0
    """

    def __init__(self, from_logits=True, pad_id=0, name="perplexity", dtype=None):
        super().__init__(pad_id=pad_id, name=name, dtype=dtype)
        self.from_logits = from_logits
        self._direction = "down"  # lets callbacks with mode="auto" monitor it

    def per_token_values(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=self.from_logits
        )

    def result(self):
        return ops.exp(super().result())

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}
