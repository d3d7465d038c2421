"""Cross-entropy over token ids that ignores padding targets.

Legend: B batch, T target length, V vocabulary (or C classes).
"""

import keras
from keras import ops

from transformer_keras.optimization.token_weights import squeeze_class_axis, token_weights
from transformer_keras.utils.validation import check_rate


@keras.saving.register_keras_serializable(package="transformer_keras")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy averaged over real (non-padding) targets only.

    A batch's loss is `sum(w * loss) / sum(w)` over its real tokens, where `w`
    is 1 (or the given `sample_weight`) on real targets and 0 on `pad_id`
    targets: a batch with much padding weighs its few real tokens fully instead
    of being diluted by padding positions. This is Keras' own
    `"mean_with_sample_weight"` reduction with the padding folded into the
    weights.

    Label smoothing follows the paper (section 5.4): the target distribution is
    `(1 - label_smoothing) * one_hot + label_smoothing / V`, uniform over the
    whole vocabulary. The loss always runs in float32, also under
    `mixed_float16` / `mixed_bfloat16` (the logits are cast first).

    Args:
        from_logits: whether `y_pred` holds logits (True) or probabilities.
        label_smoothing: in [0, 1); 0.1 in the paper.
        pad_id: target id excluded from the loss; `None` keeps every target
            (use `None` for a classifier whose class 0 is a real class).
        reduction: a Keras reduction; the default gives the mean over real tokens.
        name: the loss name.

    Call arguments:
        y_true: `(B, T)` target ids with `(B, T, V)` predictions, or `(B,)` /
            `(B, 1)` class ids with `(B, C)` predictions.
        y_pred: logits or probabilities.
        sample_weight: optional `(B,)` or `y_true`-shaped weights.

    Returns:
        A float32 scalar (or per-token losses with `reduction="none"`).

    Example:
    >>> import numpy as np
    >>> loss = MaskedSparseCategoricalCrossentropy(pad_id=0)
    >>> logits = np.log(np.array([[[0.1, 0.9], [0.5, 0.5]]]))  # (1, 2, 2)
    >>> round(float(loss(np.array([[1, 0]]), logits)), 4)  # -log(0.9); padding ignored
    0.1054
    """

    def __init__(
        self,
        from_logits=True,
        label_smoothing=0.0,
        pad_id=0,
        reduction="mean_with_sample_weight",
        name="masked_sparse_categorical_crossentropy",
    ):
        check_rate("label_smoothing", label_smoothing)
        if pad_id is not None and (isinstance(pad_id, bool) or not isinstance(pad_id, int)):
            raise ValueError(
                f"`pad_id` must be an integer or None. Received: pad_id={pad_id!r}"
            )
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = squeeze_class_axis(ops.convert_to_tensor(y_true), y_pred)
        weights = token_weights(y_true, self.pad_id, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=weights)

    def call(self, y_true, y_pred):
        # Padding targets may hold any id (even -1); give them a valid one, weight 0 hides them.
        y_true = ops.cast(y_true, "int32")
        if self.pad_id is not None:
            y_true = ops.where(ops.equal(y_true, self.pad_id), 0, y_true)
        if not self.label_smoothing:
            return keras.losses.sparse_categorical_crossentropy(
                y_true, y_pred, from_logits=self.from_logits
            )
        one_hot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)  # (B, T, V)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
        }
