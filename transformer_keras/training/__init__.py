"""Training: callbacks, the resumable fit, its saved state and distribution strategies.

Schedules, optimizers, losses and metrics live in `transformer_keras.optimization`.
"""

from transformer_keras.training.callbacks import (
    BleuCallback,
    TextSampleCallback,
    best_weights_path,
    default_callbacks,
)

__all__ = [
    "BleuCallback",
    "TextSampleCallback",
    "best_weights_path",
    "default_callbacks",
]
