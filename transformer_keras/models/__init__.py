"""Task models built from `Backbone`s: classifier, language model, translator."""

from transformer_keras.models.backbone import Backbone
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.models.language_model import TransformerLM
from transformer_keras.models.masked_language_model import MaskedLanguageModel
from transformer_keras.models.seq2seq import Transformer
from transformer_keras.models.task import Task

__all__ = [
    "Backbone",
    "MaskedLanguageModel",
    "Task",
    "Transformer",
    "TransformerClassifier",
    "TransformerLM",
]
