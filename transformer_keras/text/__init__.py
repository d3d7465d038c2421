"""Tokenizers that run in `tf.data` pipelines and inside exported SavedModels.

Every tokenizer is a `Tokenizer` (a Keras layer): `tokenize`/`detokenize`,
`encode(texts, sequence_length, ...)` and the special-id properties `pad_id`
(always 0), `unknown_id`, `start_id`, `end_id`. TensorFlow backend only.
"""

from transformer_keras.text.base import Tokenizer
from transformer_keras.text.byte_tokenizer import ByteTokenizer
from transformer_keras.text.char_tokenizer import CharTokenizer
from transformer_keras.text.subword_tokenizer import SubwordTokenizer
from transformer_keras.text.word_tokenizer import WordTokenizer

__all__ = ["ByteTokenizer", "CharTokenizer", "SubwordTokenizer", "Tokenizer", "WordTokenizer"]
