"""Training recipes: each family's defaults and data wiring over the one fit pipeline.

`train_classifier`, `train_language_model`, `train_translator` and
`train_masked_lm` take data, an output folder, a recipe (its defaults are the
settings behind the README's figures) and `RunOptions`; they train resumably,
keep the best weights and export. The command line, the notebooks and the
benchmarks call them.
"""

from transformer_keras.recipes.classifier import ClassifierRecipe, train_classifier
from transformer_keras.recipes.language_model import LanguageModelRecipe, train_language_model
from transformer_keras.recipes.masked_lm import MaskedLMRecipe, train_masked_lm
from transformer_keras.recipes.pipeline import RunOptions, TrainingResult
from transformer_keras.recipes.translator import TranslatorRecipe, train_translator

__all__ = [
    "ClassifierRecipe",
    "LanguageModelRecipe",
    "MaskedLMRecipe",
    "RunOptions",
    "TrainingResult",
    "TranslatorRecipe",
    "train_classifier",
    "train_language_model",
    "train_masked_lm",
    "train_translator",
]
