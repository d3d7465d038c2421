"""Tokenizers that run in `tf.data` pipelines and inside exported SavedModels.

Every tokenizer is a `Tokenizer` (a Keras layer): `tokenize`/`detokenize`,
`encode(texts, sequence_length, ...)` and the special-id properties `pad_id`
(always 0), `unknown_id`, `start_id`, `end_id`. TensorFlow backend only.

| kind      | class              | learns                                   |
| --------- | ------------------ | ---------------------------------------- |
| `byte`    | `ByteTokenizer`    | nothing: UTF-8 bytes, any language       |
| `char`    | `CharTokenizer`    | the characters of a corpus               |
| `word`    | `WordTokenizer`    | frequent lowercased words                |
| `subword` | `SubwordTokenizer` | a SentencePiece unigram or BPE model     |
"""

from transformer_keras.text.base import Tokenizer
from transformer_keras.text.byte_tokenizer import ByteTokenizer
from transformer_keras.text.char_tokenizer import CharTokenizer
from transformer_keras.text.factory import TOKENIZER_CLASSES, get_tokenizer, train_tokenizer
from transformer_keras.text.subword_tokenizer import SubwordTokenizer
from transformer_keras.text.word_tokenizer import WordTokenizer

__all__ = [
    "TOKENIZER_CLASSES",
    "ByteTokenizer",
    "CharTokenizer",
    "SubwordTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "get_tokenizer",
    "train_tokenizer",
]
