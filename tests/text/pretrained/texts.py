"""Texts for comparing tokenizers with Hugging Face's: real lines and generated strings.

`comparison_texts()` is about 2,000 strings: lines of the shared data sets (English,
German, Spanish, Shakespeare, movie reviews, read from `../shared/data` when it is
there) and seeded random strings built from fragments that tokenizers treat
specially: accents (precomposed and combining), scripts with and without case,
CJK, emoji sequences, digits of several scripts, compatibility characters,
contractions, every kind of whitespace, control and format characters, special
tokens written in the text, empty strings and long strings.
"""

import random

from transformer_keras.data.paths import shared_data_file

FRAGMENTS = (
    # words and case
    "the", "The", "THE", "cat", "dogs", "running", "unbelievable", "x", "I", "a",
    # accents, precomposed and combining, and case pairs that change length
    "café", "naïve", "Ærø", "façade", "Ünïcödé", "e\u0301", "a\u0308o\u0302",
    "ÀÉÎÕÜ", "İstanbul", "ß", "ẞ", "ǅ", "ﬁ", "Å", "\u212b", "Ω", "\u2126",
    # other scripts
    "ΟΔΟΣ", "σοφία", "Ἀθῆναι", "Привет", "мир", "שלום", "مرحبا", "नमस्ते", "สวัสดี",
    "한국어", "ひらがな", "カタカナ", "汉字", "中文", "\uf900", "\U00020000", "ｱｲｳ",
    # emoji
    "👍", "👍🏽", "👩\u200d👩\u200d👧", "🇩🇪", "❤\ufe0f", "🫠", "😀😀",
    # digits and numbers
    "0", "42", "3.14", "1,000", "١٢٣", "½", "²", "①", "ＡＢＣ１２３", "Ⅻ",
    # punctuation and symbols
    ".", ",", "!", "?", "...", "…", "—", "–", "-", "«", "»", "¿", "¡", "(", ")", "[",
    "]", "{", "}", "\"", "'", "`", "’", "@", "#", "$", "%", "&", "*", "+", "=", "/",
    "\\", "|", "~", "^", "_", "<", ">", "€", "©", "°",
    # contractions
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "n't", "don't", "I'm", "y'all",
    # whitespace
    " ", "  ", "   ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\xa0", "\u1680",
    "\u2000", "\u2003", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000", " \t ", "\n\n",
    # control, format, private use, unassigned
    "\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x9f", "\u00ad", "\u200b",
    "\u200c", "\u200d", "\u200e", "\u2060", "\ufeff", "\ufffd", "\ue000", "\U000f0000",
    "\u0378", "\U000e0041",
    # special tokens of the three tokenizers and Marian's language codes
    "[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", "<|endoftext|>", "</s>",
    "<unk>", "<pad>", "<s>", ">>de<<", ">>fr<<", ">>", "<<",
)  # fmt: skip

SEPARATORS = ("", " ", " ", " ", "  ", "\n", "\t")
SPECIAL_CASES = (
    "",
    " ",
    "   ",
    "\n",
    "\t\t",
    "\x00",
    "a" * 99,
    "b" * 100,
    "c" * 101,
    "é" * 150,
    "long " * 600,
    "x" * 3000,
    "ab" * 1500,
    " " * 50 + "end",
    ">>de<< Guten Tag",
    ">>de<<",
    ">>fr<<Bonjour",
    ">><<",
    "<|endoftext|>",
    "<|endoftext|><|endoftext|>",
    "a<|endoftext|>b",
    "[CLS] [SEP]",
    "</s></s>",
)
_DATA_FILES = (
    ("multi30k/train.en", 200),
    ("multi30k/train.de", 200),
    ("spa-eng/spa.txt", 200),
    ("tinyshakespeare/input.txt", 200),
    ("sst2/dev.tsv", 100),
    ("imdb/test.csv", 30),
)


def data_lines():
    """Lines of the shared data sets (none when the folder is absent)."""
    lines = []
    for relative_path, count in _DATA_FILES:
        try:
            path = shared_data_file(relative_path)
        except FileNotFoundError:
            continue
        with open(path, encoding="utf-8") as file:
            for line, _ in zip(file, range(count)):
                lines.append(line.rstrip("\n"))
    return lines


def generated_texts(count=1500, seed=0):
    """`count` random strings of fragments and separators (seeded)."""
    generator = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = []
        for _ in range(generator.randint(0, 24)):
            pieces.append(generator.choice(FRAGMENTS))
            pieces.append(generator.choice(SEPARATORS))
        texts.append("".join(pieces))
    return texts


def comparison_texts():
    """The texts every comparison with Hugging Face runs on (at least 1,500)."""
    return [*SPECIAL_CASES, *generated_texts(), *data_lines()]


def training_texts():
    """Text to train small vocabularies on: the data lines and generated strings."""
    return [*data_lines(), *generated_texts(count=1000, seed=1)] * 2


def has_special_token(text, tokens):
    return any(token in text for token in tokens)
