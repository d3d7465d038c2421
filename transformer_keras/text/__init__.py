"""Tokenizers that run in `tf.data` pipelines and inside exported SavedModels.

Every tokenizer is a `Tokenizer` (a Keras layer): `tokenize`/`detokenize`,
`encode(texts, sequence_length, ...)` and the special-id properties `pad_id`,
`unknown_id`, `start_id`, `end_id` (0 to 3 for the tokenizers this package
trains; a pretrained vocabulary keeps its own). TensorFlow backend only.

| kind      | class              | learns                                   |
| --------- | ------------------ | ---------------------------------------- |
| `byte`    | `ByteTokenizer`    | nothing: UTF-8 bytes, any language       |
| `char`    | `CharTokenizer`    | the characters of a corpus               |
| `word`    | `WordTokenizer`    | frequent lowercased words                |
| `subword` | `SubwordTokenizer` | a SentencePiece unigram or BPE model     |

Pretrained checkpoints' tokenizers (`text.pretrained`), with Hugging Face's ids:
`WordPieceTokenizer` (BERT), `BytePairTokenizer` (GPT-2), `MarianTokenizer`
(opus-mt), and `load_huggingface_tokenizer(path)` for a local checkpoint folder.
"""

from transformer_keras.text.base import Tokenizer
from transformer_keras.text.byte_tokenizer import ByteTokenizer
from transformer_keras.text.char_tokenizer import CharTokenizer
from transformer_keras.text.factory import TOKENIZER_CLASSES, get_tokenizer, train_tokenizer
from transformer_keras.text.pretrained import (
    BytePairTokenizer,
    MarianTokenizer,
    WordPieceTokenizer,
    load_huggingface_tokenizer,
)
from transformer_keras.text.subword_tokenizer import SubwordTokenizer
from transformer_keras.text.word_tokenizer import WordTokenizer

__all__ = [
    "TOKENIZER_CLASSES",
    "BytePairTokenizer",
    "ByteTokenizer",
    "CharTokenizer",
    "MarianTokenizer",
    "SubwordTokenizer",
    "Tokenizer",
    "WordPieceTokenizer",
    "WordTokenizer",
    "get_tokenizer",
    "load_huggingface_tokenizer",
    "train_tokenizer",
]
