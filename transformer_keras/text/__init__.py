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

import importlib

# Each public name and the module that defines it. The modules load on first
# use: they need TensorFlow and TensorFlow Text, which the JAX path of the
# models (token ids in, logits out) does without.
_MODULES = {
    "TOKENIZER_CLASSES": "factory",
    "BytePairTokenizer": "pretrained",
    "ByteTokenizer": "byte_tokenizer",
    "CharTokenizer": "char_tokenizer",
    "MarianTokenizer": "pretrained",
    "SubwordTokenizer": "subword_tokenizer",
    "Tokenizer": "base",
    "WordPieceTokenizer": "pretrained",
    "WordTokenizer": "word_tokenizer",
    "get_tokenizer": "factory",
    "load_huggingface_tokenizer": "pretrained",
    "train_tokenizer": "factory",
}

__all__ = sorted(_MODULES)


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_text_module(_MODULES[name]), name)


def import_text_module(module):
    """Imports `transformer_keras.text.<module>`, or says which packages it needs."""
    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ImportError as error:
        if error.name and error.name.split(".")[0] in ("tensorflow", "tensorflow_text"):
            raise ImportError(
                "The tokenizers of transformer_keras.text run on TensorFlow ops: install "
                "tensorflow and tensorflow-text (`pip install transformer-keras` brings "
                "them). Models take token ids without them. "
                f"Received: missing module {error.name!r}",
                name=error.name,
            ) from error
        raise


def register_tokenizers():
    """Imports every tokenizer class, so that configs naming one deserialize."""
    for module in sorted(set(_MODULES.values())):
        import_text_module(module)
