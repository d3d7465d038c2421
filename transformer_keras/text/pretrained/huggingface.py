"""`load_huggingface_tokenizer`: the tokenizer of a local Hugging Face checkpoint folder.

Reads only local files (no network, no `transformers` needed):

- BERT (`WordPieceTokenizer`): `vocab.txt` (else `tokenizer.json`),
  `tokenizer_config.json`;
- GPT-2 (`BytePairTokenizer`): `vocab.json` and `merges.txt` (else
  `tokenizer.json`), `tokenizer_config.json`;
- Marian (`MarianTokenizer`): `source.spm`, `target.spm`, `vocab.json` (and
  `target_vocab.json` when `separate_vocabs`), `tokenizer_config.json`.

As in transformers 5, the options (lowercasing, accents, prefix space) come from
`tokenizer_config.json`, or the class defaults: `tokenizer.json` gives only the
vocabulary, merges and added tokens. The architecture comes from
`tokenizer_config.json` (`tokenizer_class`), else `config.json` (`model_type`),
else from which files are there.
"""

import json
from pathlib import Path

from transformer_keras.text.pretrained.byte_pair_tokenizer import BytePairTokenizer
from transformer_keras.text.pretrained.marian_tokenizer import MarianTokenizer
from transformer_keras.text.pretrained.wordpiece_tokenizer import WordPieceTokenizer
from transformer_keras.utils.validation import check_choice

SIDES = ("source", "target")
_CLASS_NAMES = {
    "BertTokenizer": "bert",
    "DistilBertTokenizer": "bert",
    "GPT2Tokenizer": "gpt2",
    "MarianTokenizer": "marian",
}
_MODEL_TYPES = {"bert": "bert", "distilbert": "bert", "gpt2": "gpt2", "marian": "marian"}


def load_huggingface_tokenizer(path, side="source"):
    """The tokenizer of a Hugging Face checkpoint folder (BERT, GPT-2 or Marian).

    Args:
        path: a local folder in the Hugging Face layout.
        side: `"source"` or `"target"`: which of Marian's two tokenizers
            (`source.spm` for the encoder's input, `target.spm` for the
            decoder's); BERT and GPT-2 have one tokenizer, returned for both.

    Returns:
        A `WordPieceTokenizer`, `BytePairTokenizer` or `MarianTokenizer` whose
        ids are those of Hugging Face's tokenizer for the folder.

    Example:
    >>> tokenizer = load_huggingface_tokenizer("bert-base-uncased/")  # doctest: +SKIP
    >>> tokenizer.encode(["Hello!"], 8, add_start=True, add_end=True)  # doctest: +SKIP
    <tf.Tensor: ... numpy=array([[ 101, 7592,  999,  102,    0,    0,    0,    0]], ...)>
    """
    check_choice("side", side, SIDES)
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"`path` must be a folder. Received: path={str(path)!r}")
    config = _read_json(folder / "tokenizer_config.json")
    architecture = _architecture(folder, config)
    if architecture == "bert":
        return _bert(folder, config)
    if architecture == "gpt2":
        return _gpt2(folder, config)
    return _marian(folder, config, side)


def _architecture(folder, config):
    class_name = str(config.get("tokenizer_class") or "").removesuffix("Fast")
    if class_name in _CLASS_NAMES:
        return _CLASS_NAMES[class_name]
    model_type = _read_json(folder / "config.json").get("model_type")
    if model_type in _MODEL_TYPES:
        return _MODEL_TYPES[model_type]
    if (folder / "source.spm").exists():
        return "marian"
    if (folder / "vocab.txt").exists():
        return "bert"
    if (folder / "merges.txt").exists():
        return "gpt2"
    model = _read_json(folder / "tokenizer.json").get("model", {})
    if model.get("type") == "WordPiece":
        return "bert"
    if model.get("type") == "BPE":
        return "gpt2"
    raise ValueError(
        "`path` must hold a BERT, GPT-2 or Marian tokenizer (tokenizer_config.json's "
        "tokenizer_class, config.json's model_type, or vocab.txt, merges.txt, source.spm or "
        f"tokenizer.json). Received: path={str(folder)!r} (tokenizer_class={class_name!r}, "
        f"model_type={model_type!r})"
    )


def _bert(folder, config):
    fast = _read_json(folder / "tokenizer.json")
    if (folder / "vocab.txt").exists():
        vocabulary = str(folder / "vocab.txt")
    else:
        vocabulary = _ordered(fast.get("model", {}).get("vocab", {}), folder)
    options = {
        "lowercase": config.get("do_lower_case", True),
        "strip_accents": config.get("strip_accents"),
        "tokenize_chinese_chars": config.get("tokenize_chinese_chars", True),
    }
    return WordPieceTokenizer(
        vocabulary,
        **options,
        unknown_token=_token(config, "unk_token", "[UNK]"),
        start_token=_token(config, "cls_token", "[CLS]"),
        end_token=_token(config, "sep_token", "[SEP]"),
        pad_token=_token(config, "pad_token", "[PAD]"),
        mask_token=_token(config, "mask_token", "[MASK]"),
        clean_up_tokenization_spaces=bool(config.get("clean_up_tokenization_spaces", False)),
    )


def _gpt2(folder, config):
    fast = _read_json(folder / "tokenizer.json")
    model = fast.get("model") or {}
    if (folder / "vocab.json").exists() and (folder / "merges.txt").exists():
        vocabulary = _read_json(folder / "vocab.json")
        merges = str(folder / "merges.txt")
    else:
        vocabulary, merges = dict(model.get("vocab", {})), model.get("merges", [])
    added = _added_tokens(fast, config)
    for token, token_id in added.items():
        vocabulary.setdefault(token, token_id)
    end_token = _token(config, "eos_token", "<|endoftext|>")
    named = [
        end_token,
        _token(config, "bos_token", end_token),
        _token(config, "unk_token", end_token),
        _token(config, "pad_token", end_token),
    ]
    return BytePairTokenizer(
        vocabulary,
        merges,
        end_token=end_token,
        start_token=_token(config, "bos_token", None),
        pad_token=_token(config, "pad_token", None),
        unknown_token=_token(config, "unk_token", None),
        special_tokens=sorted(set(named) | set(added)),
        add_prefix_space=bool(config.get("add_prefix_space", False)),
    )


def _marian(folder, config, side):
    named = {
        "end_token": _token(config, "eos_token", "</s>"),
        "unknown_token": _token(config, "unk_token", "<unk>"),
        "pad_token": _token(config, "pad_token", "<pad>"),
    }
    vocabulary = _read_json(folder / "vocab.json")
    if side == "target" and config.get("separate_vocabs"):
        target = _read_json(folder / "target_vocab.json")
        # Hugging Face gives special tokens their vocab.json ids on both sides.
        if any(target.get(token) != vocabulary.get(token) for token in named.values()):
            raise ValueError(
                "`path` must give the special tokens the same ids in vocab.json and "
                f"target_vocab.json. Received: path={str(folder)!r}"
            )
        vocabulary = target
    extra = [_text(token) for token in config.get("additional_special_tokens") or []]
    return MarianTokenizer(
        str(folder / f"{side}.spm"),
        vocabulary,
        **named,
        special_tokens=list(dict.fromkeys([*named.values(), *extra])),
    )


def _token(config, key, default):
    value = config.get(key, default)
    return default if value is None else _text(value)


def _text(value):
    """A token from `tokenizer_config.json`: a string, or an AddedToken dict."""
    return value["content"] if isinstance(value, dict) else value


def _added_tokens(fast, config):
    """`{token: id}` of the added tokens (`tokenizer.json`, else `tokenizer_config.json`)."""
    added = {token["content"]: token["id"] for token in fast.get("added_tokens") or []}
    for token_id, token in (config.get("added_tokens_decoder") or {}).items():
        added.setdefault(_text(token), int(token_id))
    return added


def _ordered(vocabulary, folder):
    """`{token: id}` -> tokens in id order; the ids must be 0, 1, 2, ..."""
    tokens = sorted(vocabulary, key=vocabulary.get)
    if [vocabulary[token] for token in tokens] != list(range(len(tokens))) or not tokens:
        raise ValueError(
            "`path` must hold vocab.txt or a tokenizer.json whose vocabulary numbers "
            f"its tokens 0, 1, 2, ... Received: path={str(folder)!r}"
        )
    return tokens


def _read_json(path):
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)
