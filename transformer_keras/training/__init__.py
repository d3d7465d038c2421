"""Training: schedules, masked losses and metrics, optimizers and callbacks."""

from transformer_keras.training.callbacks import (
    BleuCallback,
    TextSampleCallback,
    best_weights_path,
    default_callbacks,
)
from transformer_keras.training.losses import MaskedSparseCategoricalCrossentropy
from transformer_keras.training.metrics import MaskedAccuracy, Perplexity
from transformer_keras.training.optimizers import AdamWExcluding, adamw, paper_adam
from transformer_keras.training.schedules import TransformerSchedule, warmup_cosine

__all__ = [
    "AdamWExcluding",
    "BleuCallback",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "Perplexity",
    "TextSampleCallback",
    "TransformerSchedule",
    "adamw",
    "best_weights_path",
    "default_callbacks",
    "paper_adam",
    "warmup_cosine",
]
