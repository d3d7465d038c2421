"""BERT's WordPiece tokenizer, with Hugging Face's normalization, run as TensorFlow ops.

The steps and their order are those of Hugging Face's `BertTokenizer` (the Rust
`tokenizers` pipeline, the default since transformers 5):

1. special tokens written in the text (`[MASK]`, ...) become their ids;
2. `BertNormalizer`, character by character: control characters are deleted and
   whitespace becomes a space (`clean_text`); CJK ideographs get a space on
   each side (`tokenize_chinese_chars`); NFD, then nonspacing marks deleted
   (`strip_accents`, which follows `lowercase` when None); lowercase;
3. `BertPreTokenizer`: split on spaces, every punctuation character a word;
4. WordPiece: greedy longest match first, `##` before continuing pieces, a word
   with an unknown piece (or longer than `max_characters_per_word` characters)
   becomes `[UNK]` (tensorflow-text's `FastWordpieceTokenizer`).

Steps 2 and 3 map each code point to a string through tables read from the Rust
code (`unicode_tables.py`), so every code point is classified as Hugging Face
classifies it, except that NFD's canonical reordering of combining marks is not
done (after accent stripping it matters only for rare marks not called nonspacing).

Legend: B batch, W words, C code points.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text

from transformer_keras.text.base import UNKNOWN_TEXT, Tokenizer, check_bool
from transformer_keras.text.pretrained import unicode_tables
from transformer_keras.text.pretrained.special_tokens import SpecialTokenSplitter
from transformer_keras.text.pretrained.unicode_classes import escape, parse_map, parse_ranges
from transformer_keras.text.utf8 import valid_utf8
from transformer_keras.utils.validation import check_positive_int

_HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)
_REMOVED = parse_ranges(unicode_tables.BERT_REMOVED)
_WHITESPACE = parse_ranges(unicode_tables.BERT_WHITESPACE)
_CHINESE = parse_ranges(unicode_tables.BERT_CHINESE)
_PUNCTUATION = parse_ranges(unicode_tables.BERT_PUNCTUATION)
# Hugging Face's WordPiece decoder removes the space before these tokens.
_DECODER_CLEANUP = (
    " .",
    " ?",
    " !",
    " ,",
    " ' ",
    " n't",
    " 'm",
    " do not",
    " 's",
    " 've",
    " 're",
)
_DECODER_CLEANUP_OUTPUTS = (".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re")
# transformers' `clean_up_tokenization`, applied to the whole text when asked.
_TEXT_CLEANUP = (" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're")
_TEXT_CLEANUP_OUTPUTS = (".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re")


@keras.saving.register_keras_serializable(package="transformer_keras")
class WordPieceTokenizer(Tokenizer):
    """BERT's tokenizer: Hugging Face's `BertTokenizer` ids, as TensorFlow ops.

    `tokenize` returns the ids without `[CLS]`/`[SEP]`;
    `encode(..., add_start=True, add_end=True)` adds them as BERT expects
    (`start_id` is `[CLS]`, `end_id` is `[SEP]`, `pad_id` is `[PAD]`). Special
    tokens written in the text (`"[MASK]"`) map to their ids, as in Hugging
    Face. `detokenize` joins the pieces as Hugging Face's `decode(...,
    skip_special_tokens=True)` does, except that `[UNK]` renders as U+FFFD
    (and `[MASK]` as itself). Invalid UTF-8 bytes become U+FFFD, which
    `clean_text` deletes.

    The vocabulary travels in the config (about 0.3 MB of JSON for BERT's
    30,522 tokens); `from_config` alone rebuilds the tokenizer.

    Args:
        vocabulary: the tokens in id order (a list of str, as in `vocab.txt`),
            or the path of a `vocab.txt` file.
        lowercase: lowercase the text (`do_lower_case`).
        strip_accents: delete accents (NFD, then nonspacing marks); None
            follows `lowercase`, as in BERT.
        tokenize_chinese_chars: make every CJK ideograph a word.
        unknown_token, start_token, end_token, pad_token, mask_token: the
            special tokens; each must be in the vocabulary (`mask_token` may be
            None).
        suffix_indicator: the prefix of continuing pieces.
        max_characters_per_word: longer words become the unknown id.
        clean_up_tokenization_spaces: `detokenize` also applies transformers'
            `clean_up_tokenization` (the `tokenizer_config.json` flag).
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat", "##s", "."]
    >>> tokenizer = WordPieceTokenizer(vocabulary)
    >>> tokenizer(["Cats. A [MASK]"]).to_list()
    [[6, 7, 8, 5, 4]]
    >>> tokenizer.encode(["A cat"], sequence_length=5, add_start=True, add_end=True).numpy()
    array([[2, 5, 6, 3, 0]], dtype=int32)
    >>> tokenizer.detokenize([[6, 7, 8, 5]]).numpy()
    array([b'cats. a'], dtype=object)
    """

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        strip_accents=None,
        tokenize_chinese_chars=True,
        unknown_token="[UNK]",
        start_token="[CLS]",
        end_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        suffix_indicator="##",
        max_characters_per_word=100,
        clean_up_tokenization_spaces=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocabulary = _read_vocabulary(vocabulary)
        check_bool("lowercase", lowercase)
        if strip_accents is not None:
            check_bool("strip_accents", strip_accents)
        check_bool("tokenize_chinese_chars", tokenize_chinese_chars)
        check_bool("clean_up_tokenization_spaces", clean_up_tokenization_spaces)
        check_positive_int("max_characters_per_word", max_characters_per_word)
        if not isinstance(suffix_indicator, str) or not suffix_indicator:
            raise ValueError(
                "`suffix_indicator` must be a non-empty string. "
                f"Received: suffix_indicator={suffix_indicator!r}"
            )
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.unknown_token = unknown_token
        self.start_token = start_token
        self.end_token = end_token
        self.pad_token = pad_token
        self.mask_token = mask_token
        self.suffix_indicator = suffix_indicator
        self.max_characters_per_word = max_characters_per_word
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self._ids = {token: index for index, token in enumerate(vocabulary)}
        special = {
            "unknown_token": unknown_token,
            "start_token": start_token,
            "end_token": end_token,
            "pad_token": pad_token,
        }
        if mask_token is not None:
            special["mask_token"] = mask_token
        for name, token in special.items():
            if token not in self._ids:
                raise ValueError(
                    f"`{name}` must be in the vocabulary. Received: {name}={token!r}"
                )
        self._splitter = SpecialTokenSplitter({t: self._ids[t] for t in special.values()})
        self._normalizer = _BertNormalizer(
            lowercase=lowercase,
            strip_accents=lowercase if strip_accents is None else strip_accents,
            tokenize_chinese_chars=tokenize_chinese_chars,
        )
        self._wordpiece = tensorflow_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=suffix_indicator,
            # Words are cut at `max_characters_per_word` characters before, as in
            # Hugging Face; a character is at most 4 bytes.
            max_bytes_per_word=4 * max_characters_per_word,
            token_out_type=tf.int32,
            unknown_token=unknown_token,
            no_pretokenization=True,
        )
        first, later = _decoded_pieces(vocabulary, suffix_indicator)
        first[self.unknown_id], later[self.unknown_id] = UNKNOWN_TEXT, " " + UNKNOWN_TEXT
        self._first_pieces = tf.constant(first)
        self._later_pieces = tf.constant(later)

    # --- Tokenizer hooks ----------------------------------------------------------------

    @tf.autograph.experimental.do_not_convert
    def _tokenize(self, texts):
        texts = valid_utf8(texts)
        return self._splitter.tokenize(texts, self._tokenize_plain)

    @tf.autograph.experimental.do_not_convert
    def _tokenize_plain(self, texts):
        words = self._normalizer.words(texts)  # (B, W)
        flat_words = words.flat_values
        # A longer word is one unknown token, as in Hugging Face (the vocabulary
        # holds the unknown token, so the word piece tokenizer maps it to its id).
        too_long = (
            tf.strings.length(flat_words, unit="UTF8_CHAR") > self.max_characters_per_word
        )
        flat_words = tf.where(too_long, self.unknown_token, flat_words)
        pieces = self._wordpiece.tokenize(flat_words)  # (W, None)
        per_word = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)  # (B, W, None)
        return per_word.merge_dims(1, 2)  # (B, None)

    @tf.autograph.experimental.do_not_convert
    def _detokenize(self, ids):
        flat = ids.flat_values
        row_starts = tf.gather(ids.row_splits, ids.value_rowids())
        is_first = tf.range(tf.size(flat, out_type=row_starts.dtype)) == row_starts
        pieces = tf.where(
            is_first, tf.gather(self._first_pieces, flat), tf.gather(self._later_pieces, flat)
        )
        pieces = ids.with_flat_values(pieces)  # (B, None)
        texts = tf.strings.reduce_join(pieces, axis=-1)  # (B,)
        if self.clean_up_tokenization_spaces:
            for pattern, replacement in zip(_TEXT_CLEANUP, _TEXT_CLEANUP_OUTPUTS):
                texts = tf.strings.regex_replace(texts, escape(pattern), replacement)
        return texts

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    @property
    def pad_id(self):
        return self._ids[self.pad_token]

    @property
    def unknown_id(self):
        return self._ids[self.unknown_token]

    @property
    def start_id(self):
        return self._ids[self.start_token]

    @property
    def end_id(self):
        return self._ids[self.end_token]

    @property
    def mask_id(self):
        """The id of `mask_token` (None without one)."""
        return None if self.mask_token is None else self._ids[self.mask_token]

    def id_to_token(self, id):
        self._check_id(id)
        return self.vocabulary[id]

    def token_to_id(self, token):
        if token not in self._ids:
            raise ValueError(f"`token` is not in the vocabulary. Received: token={token!r}")
        return self._ids[token]

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "unknown_token": self.unknown_token,
            "start_token": self.start_token,
            "end_token": self.end_token,
            "pad_token": self.pad_token,
            "mask_token": self.mask_token,
            "suffix_indicator": self.suffix_indicator,
            "max_characters_per_word": self.max_characters_per_word,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
        }


class _BertNormalizer(tf.Module):
    """`BertNormalizer` + `BertPreTokenizer` (`clean_text` on): texts -> words.

    Every code point maps to a string: deleted (""), a space, itself spaced
    (" c ", a CJK ideograph), or for the characters that lowercasing, accent
    stripping or punctuation change, a string from a table built here.
    """

    def __init__(self, lowercase, strip_accents, tokenize_chinese_chars):
        super().__init__()
        self._tokenize_chinese_chars = tokenize_chinese_chars
        keys, outputs = _changed_characters(lowercase, strip_accents, tokenize_chinese_chars)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.int32), tf.range(len(keys), dtype=tf.int32)
            ),
            default_value=-1,
        )
        self._outputs = tf.constant(outputs)

    @tf.autograph.experimental.do_not_convert
    def words(self, texts):
        """`(B,)` valid UTF-8 -> `(B, W)` ragged words."""
        code_points = tf.strings.unicode_decode(texts, "UTF-8")  # (B, C)
        flat = code_points.flat_values  # (C,)
        characters = tf.strings.unicode_encode(flat[:, tf.newaxis], "UTF-8")  # (C,)
        index = self._table.lookup(flat)
        output = tf.where(
            index >= 0, tf.gather(self._outputs, tf.maximum(index, 0)), characters
        )
        if self._tokenize_chinese_chars:
            spaced = tf.strings.join([" ", characters, " "])
            is_chinese = _CHINESE.mask(flat) & (index < 0)
            output = tf.where(is_chinese, spaced, output)
        output = tf.where(_WHITESPACE.mask(flat), " ", output)
        output = tf.where(_REMOVED.mask(flat), "", output)
        normalized = tf.strings.reduce_join(
            code_points.with_flat_values(output), axis=-1
        )  # (B,)
        words = tf.strings.split(normalized, sep=" ")  # (B, None), with empty strings
        return tf.ragged.boolean_mask(words, words != "")  # (B, W)


def _changed_characters(lowercase, strip_accents, tokenize_chinese_chars):
    """The characters whose output is not themselves (or spaced, for CJK), and those outputs.

    Follows `BertNormalizer` step by step on each character (after `clean_text`,
    which the caller applies by ranges), then spaces punctuation as
    `BertPreTokenizer` splits it.
    """
    lower = parse_map(unicode_tables.BERT_LOWERCASE) if lowercase else {}
    strip = parse_map(unicode_tables.BERT_STRIP_ACCENTS) if strip_accents else {}
    if strip_accents:
        strip.update({chr(c): _hangul_jamo(c) for c in _HANGUL_SYLLABLES})
    punctuation = [
        chr(c) for first, last in _PUNCTUATION.ranges for c in range(first, last + 1)
    ]
    candidates = set(lower) | set(strip) | set(punctuation)
    keys, outputs = [], []
    for character in sorted(candidates):
        if _REMOVED.contains(character) or _WHITESPACE.contains(character):
            continue  # `clean_text` comes first
        text = character
        if tokenize_chinese_chars and _CHINESE.contains(character):
            text = f" {character} "
        text = "".join(strip.get(c, c) for c in text)
        text = "".join(lower.get(c, c) for c in text)
        text = "".join(f" {c} " if _PUNCTUATION.contains(c) else c for c in text)
        if text != character:
            keys.append(ord(character))
            outputs.append(text)
    return keys, outputs


def _hangul_jamo(code_point):
    """The NFD of a Hangul syllable: two or three conjoining jamo (Unicode 3.12)."""
    index = code_point - 0xAC00
    lead, vowel, trail = index // 588, index % 588 // 28, index % 28
    jamo = chr(0x1100 + lead) + chr(0x1161 + vowel)
    return jamo + chr(0x11A7 + trail) if trail else jamo


def _decoded_pieces(vocabulary, suffix_indicator):
    """Each token's text as the first piece and after another piece.

    As Hugging Face's WordPiece decoder: a later piece loses its suffix
    indicator or gets a space before it, then each piece is cleaned up.
    """
    first, later = [], []
    for token in vocabulary:
        if token.startswith(suffix_indicator):
            joined = token[len(suffix_indicator) :]
        else:
            joined = " " + token
        first.append(_cleaned_up(token))
        later.append(_cleaned_up(joined))
    return first, later


def _cleaned_up(piece):
    for pattern, replacement in zip(_DECODER_CLEANUP, _DECODER_CLEANUP_OUTPUTS):
        piece = piece.replace(pattern, replacement)
    return piece


def _read_vocabulary(vocabulary):
    if isinstance(vocabulary, str):
        with open(vocabulary, encoding="utf-8") as file:
            vocabulary = file.read().split("\n")
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()  # the file's last newline
    if isinstance(vocabulary, np.ndarray):
        vocabulary = vocabulary.tolist()
    if not isinstance(vocabulary, list | tuple) or not all(
        isinstance(token, str) for token in vocabulary
    ):
        raise ValueError(
            "`vocabulary` must be a list of tokens or the path of a vocab.txt file. "
            f"Received: vocabulary={vocabulary!r:.80}"
        )
    duplicates = len(set(vocabulary)) != len(vocabulary)
    if duplicates or "" in vocabulary:
        raise ValueError(
            "`vocabulary` must hold distinct, non-empty tokens. "
            f"Received: vocabulary with duplicates={duplicates}, empty token={'' in vocabulary}"
        )
    return list(vocabulary)
