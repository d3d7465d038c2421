"""Hugging Face checkpoints (a local folder, or `hf://name` when online) into our models.

- BERT (`model_type` "bert") -> `TransformerClassifier.from_pretrained(path, num_classes)`;
- GPT-2 (`"gpt2"`) -> `TransformerLM.from_pretrained(path)`;
- Marian / opus-mt (`"marian"`) -> `Transformer.from_pretrained(path)`.

Each loader reads `config.json` into `Backbone` arguments, builds the task with
the matching in-graph tokenizer (`text.load_huggingface_tokenizer`), and
copies every tensor into its variable, checking its shape; the first tensor
that does not fit, or that is missing, is named in the error.
"""

from transformer_keras.models.huggingface.bert import bert_backbone_arguments, load_bert
from transformer_keras.models.huggingface.gpt2 import gpt2_backbone_arguments, load_gpt2
from transformer_keras.models.huggingface.marian import load_marian, marian_backbone_arguments

__all__ = [
    "bert_backbone_arguments",
    "gpt2_backbone_arguments",
    "load_bert",
    "load_gpt2",
    "load_marian",
    "marian_backbone_arguments",
]
