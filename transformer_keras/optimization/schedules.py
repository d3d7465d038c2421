"""Learning-rate schedules: the paper's warmup schedule and warmup + cosine decay."""

import keras
from keras import ops

from transformer_keras.utils.validation import (
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
)


@keras.saving.register_keras_serializable(package="transformer_keras")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The schedule of "Attention Is All You Need", section 5.3.

    `lr = scale * hidden_dim^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`:
    a linear warmup for `warmup_steps` steps, then decay with the inverse square
    root of the step. The peak, reached at `step == warmup_steps`, is
    `scale * (hidden_dim * warmup_steps)^-0.5`.

    The formula counts steps from 1; Keras optimizers call a schedule with
    their iteration count, which starts at 0. So `schedule(i)` is the rate of
    the `(i + 1)`-th update.

    Args:
        hidden_dim: the model width `D` (`d_model` in the paper).
        warmup_steps: number of warmup steps (4000 in the paper).
        scale: a constant factor on the whole schedule.

    Call arguments:
        step: the optimizer's 0-based iteration count (int or scalar tensor).

    Returns:
        A float32 scalar learning rate.

    Example:
    >>> schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    >>> round(float(schedule(3999)), 7)  # the peak, 512^-0.5 * 4000^-0.5
    0.0006988
    """

    def __init__(self, hidden_dim, warmup_steps=4000, scale=1.0):
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("warmup_steps", warmup_steps)
        check_positive_float("scale", scale)
        self.hidden_dim = hidden_dim
        self.warmup_steps = warmup_steps
        self.scale = scale

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        decay = ops.rsqrt(step)
        warmup = step * self.warmup_steps**-1.5
        return self.scale * self.hidden_dim**-0.5 * ops.minimum(decay, warmup)

    def get_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }


def warmup_cosine(peak, warmup_steps, total_steps, final_learning_rate=0.0):
    """Linear warmup from 0 to `peak`, then cosine decay to `final_learning_rate`.

    A thin front end to `keras.optimizers.schedules.CosineDecay`, which does
    the work; the decay lasts `total_steps - warmup_steps` steps.

    Args:
        peak: the learning rate at the end of warmup.
        warmup_steps: number of warmup steps (may be 0).
        total_steps: total number of training steps, warmup included.
        final_learning_rate: the learning rate after `total_steps`.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`.

    Example:
    >>> schedule = warmup_cosine(1e-3, warmup_steps=10, total_steps=110)
    >>> [round(float(schedule(step)), 6) for step in (5, 10, 60, 110)]
    [0.0005, 0.001, 0.0005, 0.0]
    """
    check_positive_float("peak", peak)
    check_non_negative_int("warmup_steps", warmup_steps)
    check_positive_int("total_steps", total_steps)
    if total_steps <= warmup_steps:
        raise ValueError(
            f"`total_steps` must be greater than `warmup_steps` ({warmup_steps}). "
            f"Received: total_steps={total_steps!r}"
        )
    if not 0.0 <= final_learning_rate <= peak:
        raise ValueError(
            f"`final_learning_rate` must be in [0, peak={peak}]. "
            f"Received: final_learning_rate={final_learning_rate!r}"
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        alpha=final_learning_rate / peak,
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )
