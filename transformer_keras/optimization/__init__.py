"""What `compile()` takes: schedules, optimizers, masked losses and metrics.

The tasks' `compile()` defaults are built from these; they sit below
`models/` so that a model can name its own defaults.
"""

from transformer_keras.optimization.losses import MaskedSparseCategoricalCrossentropy
from transformer_keras.optimization.metrics import MaskedAccuracy, Perplexity
from transformer_keras.optimization.optimizers import AdamWExcluding, adamw, paper_adam
from transformer_keras.optimization.schedules import TransformerSchedule, warmup_cosine

__all__ = [
    "AdamWExcluding",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "Perplexity",
    "TransformerSchedule",
    "adamw",
    "paper_adam",
    "warmup_cosine",
]
