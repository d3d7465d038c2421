"""GPT-2's byte-level BPE tokenizer, with Hugging Face's ids, run as TensorFlow ops.

The steps are those of Hugging Face's `GPT2Tokenizer` (the Rust `tokenizers`
pipeline):

1. special tokens written in the text (`<|endoftext|>`) become their ids;
2. GPT-2's split pattern cuts each piece into words:
   `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`;
3. each word's UTF-8 bytes become printable characters (GPT-2's byte alphabet);
4. BPE: the adjacent pair with the best (lowest) merge rank is merged, every
   occurrence of it left to right, until no pair has a rank; the symbols are
   looked up in the vocabulary.

TensorFlow's RE2 has no look-ahead (`\\s+(?!\\S)`), so step 2 first splits the
whitespace runs itself: a run followed by a word keeps its last character for
that word (a space joins it, another whitespace character stands alone), as the
look-ahead does. The classes `\\p{L}`, `\\p{N}` and `\\s` are spelled out from
the tables of Hugging Face's regex engine (`unicode_tables.py`), which knows a
newer Unicode than RE2.

Why not KerasHub's `BytePairTokenizer`: its graph mode imitates the look-ahead
with marker characters and gives other ids after non-ASCII whitespace
(`"\\u2003's"`), its eager mode runs another split pattern (Llama 3's), and its
vocabulary travels as assets, not in the config.

Legend: B batch, P pieces between special tokens, W words, S symbols.
"""

import keras
import tensorflow as tf

from transformer_keras.text.base import UNKNOWN_TEXT, Tokenizer, check_bool
from transformer_keras.text.pretrained import unicode_tables
from transformer_keras.text.pretrained.json_vocabulary import read_json_vocabulary
from transformer_keras.text.pretrained.special_tokens import SpecialTokenSplitter
from transformer_keras.text.pretrained.unicode_classes import (
    parse_ranges,
    pattern_class,
    split_keeping_matches,
)
from transformer_keras.text.utf8 import valid_utf8

_NO_RANK = 2**31 - 1
_WHITESPACE_RANGES = parse_ranges(unicode_tables.BYTE_LEVEL_WHITESPACE)
_LETTER_RANGES = parse_ranges(unicode_tables.BYTE_LEVEL_LETTERS)
_NUMBER_RANGES = parse_ranges(unicode_tables.BYTE_LEVEL_NUMBERS)
_WHITESPACE = pattern_class(_WHITESPACE_RANGES)
_LETTER = pattern_class(_LETTER_RANGES)
_NUMBER = pattern_class(_NUMBER_RANGES)
_OTHER = pattern_class(_WHITESPACE_RANGES, _LETTER_RANGES, _NUMBER_RANGES, negate=True)
_WHITESPACE_RUN = _WHITESPACE + "+"
# GPT-2's pattern for text without whitespace but one leading space.
_WORD = f"'s|'t|'re|'ve|'m|'ll|'d| ?{_LETTER}+| ?{_NUMBER}+| ?{_OTHER}+"


def byte_alphabet():
    """GPT-2's `bytes_to_unicode`: byte value -> the printable character standing for it."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    characters = {byte: chr(byte) for byte in printable}
    shifted = 0x100
    for byte in range(256):
        if byte not in characters:
            characters[byte] = chr(shifted)
            shifted += 1
    return [characters[byte] for byte in range(256)]


@keras.saving.register_keras_serializable(package="transformer_keras")
class BytePairTokenizer(Tokenizer):
    """GPT-2's tokenizer: Hugging Face's `GPT2Tokenizer` ids, as TensorFlow ops.

    Any text round-trips: `detokenize(tokenize(text)) == text` for valid UTF-8
    (invalid bytes become U+FFFD first). GPT-2 has one special token,
    `<|endoftext|>`, which is `end_id`, `start_id`, `pad_id` and `unknown_id`
    unless other tokens are named: `encode(add_end=True)` ends a text with it
    and pads with it too (Hugging Face's `pad_token = eos_token` convention);
    `detokenize` skips the opening one and stops at the next (see
    `text/base.py`). Special tokens written in the text map to their ids.

    The vocabulary and merges travel in the config (about 1.5 MB of JSON for
    GPT-2's 50,257 tokens and 50,000 merges).

    Args:
        vocabulary: `{token: id}` (as in `vocab.json`) or the path of a
            `vocab.json` file.
        merges: merge rules `"a b"`, best first (as in `merges.txt`), or the
            path of a `merges.txt` file.
        end_token: the end-of-text token.
        start_token, pad_token, unknown_token: None means `end_token`.
        special_tokens: tokens recognized in the text (each must be in the
            vocabulary); None means the four above.
        add_prefix_space: put a space before each text (and after each
            special token) that does not start with one, so that the first
            word is tokenized as the others.
        **kwargs: standard layer arguments (`name`, ...).

    Call arguments:
        texts: `tf.string` `(B,)` or a scalar.

    Returns:
        Ragged int32 ids `(B, None)`, or a dense `(T,)` tensor for a scalar.

    Example:
    >>> alphabet = byte_alphabet()
    >>> vocabulary = {c: i for i, c in enumerate(alphabet)}
    >>> vocabulary.update({"Ġc": 256, "Ġca": 257, "Ġcat": 258, "<|endoftext|>": 259})
    >>> tokenizer = BytePairTokenizer(vocabulary, ["Ġ c", "Ġc a", "Ġca t"])
    >>> tokenizer(["a cat<|endoftext|>"]).to_list()
    [[97, 258, 259]]
    >>> tokenizer.detokenize([[97, 258, 259, 97]]).numpy()
    array([b'a cat'], dtype=object)
    """

    def __init__(
        self,
        vocabulary,
        merges,
        end_token="<|endoftext|>",
        start_token=None,
        pad_token=None,
        unknown_token=None,
        special_tokens=None,
        add_prefix_space=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocabulary = read_json_vocabulary(vocabulary)
        merges = _read_merges(merges)
        check_bool("add_prefix_space", add_prefix_space)
        self.vocabulary = vocabulary
        self.merges = merges
        self.end_token = end_token
        self.start_token = start_token
        self.pad_token = pad_token
        self.unknown_token = unknown_token
        self.add_prefix_space = add_prefix_space
        named = {
            "end_token": end_token,
            "start_token": start_token or end_token,
            "pad_token": pad_token or end_token,
            "unknown_token": unknown_token or end_token,
        }
        if special_tokens is None:
            special_tokens = sorted(set(named.values()))
        self.special_tokens = list(special_tokens)
        for name, token in [*named.items(), *(("special_tokens", t) for t in special_tokens)]:
            if token not in vocabulary:
                raise ValueError(
                    f"`{name}` must be in the vocabulary. Received: {name}={token!r}"
                )
        self._special = {name[: -len("_token")]: vocabulary[t] for name, t in named.items()}
        self._tokens = {token_id: token for token, token_id in vocabulary.items()}
        self._size = max(vocabulary.values()) + 1
        self._splitter = SpecialTokenSplitter({t: vocabulary[t] for t in special_tokens})
        ranks = {}
        for rank, merge in enumerate(merges):
            first, second = merge.split(" ")
            for token in (first, second, first + second):
                if token not in vocabulary:
                    raise ValueError(
                        f"`merges` must only make tokens of the vocabulary. Received: "
                        f"merges with {merge!r} ({token!r} is not in the vocabulary)"
                    )
            ranks[merge] = rank  # a repeated rule keeps its last rank, as in Hugging Face
        self._merge_ranks = _string_table(list(ranks), list(ranks.values()), _NO_RANK)
        self._token_ids = _string_table(list(vocabulary), list(vocabulary.values()), -1)
        self._byte_characters = tf.constant(byte_alphabet())
        self._token_bytes = tf.constant(self._bytes_of_ids())

    def _bytes_of_ids(self):
        """The bytes each id decodes to (Hugging Face's ByteLevel decoder)."""
        byte_of = {character: byte for byte, character in enumerate(byte_alphabet())}
        decoded = [b""] * self._size
        for token, token_id in self.vocabulary.items():
            if all(character in byte_of for character in token):
                decoded[token_id] = bytes(byte_of[character] for character in token)
            else:  # an added token: its own text
                decoded[token_id] = token.encode("utf-8")
        decoded[self.unknown_id] = UNKNOWN_TEXT.encode("utf-8")
        return decoded

    # --- Tokenizer hooks ----------------------------------------------------------------

    @tf.autograph.experimental.do_not_convert
    def _tokenize(self, texts):
        texts = valid_utf8(texts)
        return self._splitter.tokenize(texts, self._tokenize_plain)

    @tf.autograph.experimental.do_not_convert
    def _tokenize_plain(self, pieces):
        if self.add_prefix_space:
            starts_with_space = tf.strings.substr(pieces, 0, 1) == " "
            pieces = tf.where(starts_with_space, pieces, tf.strings.join([" ", pieces]))
        words = _split_words(pieces)  # (P, W)
        unique_words, word_index = tf.unique(words.flat_values)
        ids = self._byte_pair_ids(unique_words)  # (unique W, None)
        per_word = tf.RaggedTensor.from_row_splits(
            tf.gather(ids, word_index), words.row_splits
        )  # (P, W, None)
        return per_word.merge_dims(1, 2)  # (P, None)

    @tf.autograph.experimental.do_not_convert
    def _byte_pair_ids(self, words):
        """`(W,)` words -> `(W, None)` ragged ids: byte alphabet, then merges."""
        byte_strings = tf.strings.bytes_split(words)  # (W, None) one-byte strings
        byte_values = tf.ragged.map_flat_values(
            lambda b: tf.cast(tf.reshape(tf.io.decode_raw(b, tf.uint8), [-1]), tf.int32),
            byte_strings,
        )  # (W, None)
        symbols = tf.gather(self._byte_characters, byte_values.flat_values)  # (S,)
        word_of_symbol = tf.cast(byte_values.value_rowids(), tf.int32)  # (S,) ascending
        symbols, word_of_symbol = self._merge(symbols, word_of_symbol, tf.size(words))
        ids = self._token_ids.lookup(symbols)  # (S,), -1 for a symbol without an id
        ids = tf.RaggedTensor.from_value_rowids(
            ids, tf.cast(word_of_symbol, tf.int64), nrows=tf.cast(tf.size(words), tf.int64)
        )  # (W, None)
        # Hugging Face drops a symbol the vocabulary lacks (no unknown token in BPE).
        return tf.ragged.boolean_mask(ids, ids >= 0)

    @tf.autograph.experimental.do_not_convert
    def _merge(self, symbols, word_of_symbol, num_words):
        """Applies merge rules until none applies: `(S,)` symbols -> `(S',)` symbols."""

        def merge_best_pairs(symbols, word_of_symbol, _):
            left, right = symbols[:-1], symbols[1:]  # (S - 1,) pairs
            pair_word = word_of_symbol[:-1]
            same_word = pair_word == word_of_symbol[1:]
            ranks = self._merge_ranks.lookup(tf.strings.join([left, right], separator=" "))
            ranks = tf.where(same_word, ranks, _NO_RANK)
            best = tf.math.unsorted_segment_min(ranks, pair_word, num_words)  # (W,)
            candidate = (ranks < _NO_RANK) & (ranks == tf.gather(best, pair_word))
            # Overlapping occurrences ("a a a") merge left to right: the 1st, 3rd, ...
            # of each run of consecutive candidates.
            position = tf.range(tf.size(ranks))
            run = tf.cumsum(tf.cast(~candidate, tf.int32))
            run_start = tf.math.unsorted_segment_min(
                tf.where(candidate, position, _NO_RANK), run, tf.size(ranks) + 1
            )
            taken = candidate & ((position - tf.gather(run_start, run)) % 2 == 0)
            merged = tf.where(taken, tf.strings.join([left, right]), left)
            symbols = tf.concat([merged, symbols[-1:]], axis=0)
            dropped = tf.concat([[False], taken], axis=0)[: tf.size(symbols)]
            return (
                tf.boolean_mask(symbols, ~dropped),
                tf.boolean_mask(word_of_symbol, ~dropped),
                tf.reduce_any(taken),
            )

        symbols, word_of_symbol, _ = tf.while_loop(
            lambda symbols, word_of_symbol, changed: changed,
            merge_best_pairs,
            (symbols, word_of_symbol, tf.constant(True)),
            shape_invariants=(
                tf.TensorShape([None]),
                tf.TensorShape([None]),
                tf.TensorShape([]),
            ),
        )
        return symbols, word_of_symbol

    @tf.autograph.experimental.do_not_convert
    def _detokenize(self, ids):
        byte_strings = tf.ragged.map_flat_values(tf.gather, self._token_bytes, ids)  # (B, None)
        texts = tf.strings.reduce_join(byte_strings, axis=-1)  # (B,)
        # A text cut inside a character, as ids may be, is not valid UTF-8.
        return valid_utf8(texts)

    @property
    def vocabulary_size(self):
        return self._size

    @property
    def pad_id(self):
        return self._special["pad"]

    @property
    def unknown_id(self):
        return self._special["unknown"]

    @property
    def start_id(self):
        return self._special["start"]

    @property
    def end_id(self):
        return self._special["end"]

    def id_to_token(self, id):
        self._check_id(id)
        if id not in self._tokens:
            raise ValueError(f"`id` has no token in the vocabulary. Received: id={id}")
        return self._tokens[id]

    def token_to_id(self, token):
        if token not in self.vocabulary:
            raise ValueError(f"`token` is not in the vocabulary. Received: token={token!r}")
        return self.vocabulary[token]

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": dict(self.vocabulary),
            "merges": list(self.merges),
            "end_token": self.end_token,
            "start_token": self.start_token,
            "pad_token": self.pad_token,
            "unknown_token": self.unknown_token,
            "special_tokens": list(self.special_tokens),
            "add_prefix_space": self.add_prefix_space,
        }


@tf.autograph.experimental.do_not_convert
def _split_words(pieces):
    """`(P,)` texts -> `(P, W)` words of GPT-2's split pattern (see the module docstring)."""
    runs = split_keeping_matches(pieces, _WHITESPACE_RUN)  # (P, R): whitespace or not
    flat = runs.flat_values  # (R,)
    position = tf.range(tf.size(flat, out_type=tf.int64))
    is_last = position == tf.gather(runs.row_splits[1:], runs.value_rowids()) - 1
    # A whitespace run followed by a word: all but its last character are one word;
    # the last character is one too, or, a space, starts the next word.
    cut = tf.strings.regex_full_match(flat, _WHITESPACE_RUN) & ~is_last
    length = tf.strings.length(flat, unit="UTF8_CHAR")
    head = tf.strings.substr(flat, tf.zeros_like(length), length - 1, unit="UTF8_CHAR")
    tail = tf.strings.substr(flat, length - 1, tf.ones_like(length), unit="UTF8_CHAR")
    gives_space = cut & (tail == " ")
    takes_space = tf.concat([[False], gives_space[:-1]], axis=0)[: tf.size(flat)]
    first = tf.where(cut, head, tf.where(takes_space, tf.strings.join([" ", flat]), flat))
    units = tf.stack([first, tail], axis=1)  # (R, 2)
    keep = tf.stack([~cut | (length > 1), cut & ~gives_space], axis=1)  # (R, 2)
    units = tf.ragged.boolean_mask(units, keep)  # (R, None)
    units = tf.RaggedTensor.from_row_splits(units, runs.row_splits).merge_dims(1, 2)  # (P, U)
    # Whitespace units hold no match and stay whole; the others are cut into words.
    words = split_keeping_matches(units.flat_values, _WORD)  # (U, None)
    return tf.RaggedTensor.from_row_splits(words, units.row_splits).merge_dims(1, 2)


def _string_table(keys, values, default):
    if not keys:  # a table needs one key: "" is no symbol and no pair of symbols
        keys, values = [""], [default]
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string), tf.constant(values, tf.int32)
        ),
        default_value=default,
    )


def _read_merges(merges):
    if isinstance(merges, str):
        with open(merges, encoding="utf-8") as file:
            lines = file.read().split("\n")
        merges = [line for line in lines if line and not line.startswith("#version")]
    merges = [" ".join(merge) if isinstance(merge, list | tuple) else merge for merge in merges]
    for merge in merges:
        if not isinstance(merge, str) or len(merge.split(" ")) != 2:
            raise ValueError(
                "`merges` must hold rules 'first second' (or be the path of a merges.txt "
                f"file). Received: merges with {merge!r}"
            )
    return merges
