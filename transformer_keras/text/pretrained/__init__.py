"""Tokenizers of pretrained checkpoints, with Hugging Face's ids, as TensorFlow ops.

| architecture | class                | Hugging Face class | start / end / pad ids       |
| ------------ | -------------------- | ------------------ | --------------------------- |
| BERT         | `WordPieceTokenizer` | `BertTokenizer`    | `[CLS]` / `[SEP]` / `[PAD]` |
| GPT-2        | `BytePairTokenizer`  | `GPT2Tokenizer`    | `<|endoftext|>` (all three) |
| Marian       | `MarianTokenizer`    | `MarianTokenizer`  | `<pad>` / `</s>` / `<pad>`  |

`load_huggingface_tokenizer(path, side=...)` reads a local checkpoint folder.
Vocabularies (and SentencePiece models) travel in each tokenizer's config, and
exported SavedModels hold only TensorFlow and tensorflow-text ops. The ops have no
Python control flow over tensors, so AutoGraph leaves them alone
(`do_not_convert`): converting them would make every trace seconds slower.
"""

from transformer_keras.text.pretrained.byte_pair_tokenizer import BytePairTokenizer
from transformer_keras.text.pretrained.huggingface import load_huggingface_tokenizer
from transformer_keras.text.pretrained.marian_tokenizer import MarianTokenizer
from transformer_keras.text.pretrained.wordpiece_tokenizer import WordPieceTokenizer

__all__ = [
    "BytePairTokenizer",
    "MarianTokenizer",
    "WordPieceTokenizer",
    "load_huggingface_tokenizer",
]
