"""Reads the character classes of Hugging Face's normalizers and pre-tokenizers.

`transformer_keras/text/pretrained/unicode_tables.py` is this module's output:
run `python -m tests.text.pretrained.unicode_tables_from_huggingface` from the
repository root (with `tokenizers` installed) to write it again, and
`test_unicode_tables.py` checks that it still matches the installed `tokenizers`.

Each table is read from the Rust code itself, one probe over every code point,
because its Unicode tables are of several versions (the `regex` engine knows
Unicode 16, BERT's "is other" and "is punctuation" tests older ones), so neither
Python's `unicodedata` nor RE2's `\\p{...}` classes reproduce them exactly.
"""

import itertools
import sys
import unicodedata
from pathlib import Path

from tokenizers import normalizers, pre_tokenizers

OUTPUT = Path(__file__).parents[3] / "transformer_keras/text/pretrained/unicode_tables.py"
_HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)


def code_points():
    """Every Unicode scalar value (surrogates excluded), as one-character strings."""
    return [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def ranges(characters):
    """Sorted characters -> `((first, last), ...)` inclusive code point ranges."""
    values = sorted(ord(character) for character in characters)
    runs = itertools.groupby(enumerate(values), lambda pair: pair[1] - pair[0])
    result = []
    for _, run in runs:
        run = [value for _, value in run]
        result.append((run[0], run[-1]))
    return tuple(result)


def _joined_with(prefix, characters):
    """Pre-tokenizes `prefix + c` for every `c` at once; True where `c` joined `prefix`."""
    return [prefix_token == own for prefix_token, own in _pair_tokens(prefix, characters)]


def _pair_tokens(prefix, characters, pre_tokenizer=None):
    pre_tokenizer = pre_tokenizer or pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=True
    )
    text = "".join(prefix + character for character in characters)
    token_at = [None] * len(text)
    for index, (_, (start, end)) in enumerate(pre_tokenizer.pre_tokenize_str(text)):
        for position in range(start, end):
            token_at[position] = index
    return [(token_at[2 * i], token_at[2 * i + 1]) for i in range(len(characters))]


def byte_level_classes():
    """GPT-2's split pattern classes: `{"letters", "numbers", "whitespace"}` -> ranges.

    A character is a letter when it joins a preceding "a" (`?\\p{L}+`), a number when
    it joins a "1", other when it joins a "!"; the rest is whitespace (`\\s`).
    """
    characters = code_points()
    letters = [c for c, joined in zip(characters, _joined_with("a", characters)) if joined]
    numbers = [c for c, joined in zip(characters, _joined_with("1", characters)) if joined]
    others = {c for c, joined in zip(characters, _joined_with("!", characters)) if joined}
    taken = set(letters) | set(numbers) | others
    whitespace = [c for c in characters if c not in taken]
    return {
        "letters": ranges(letters),
        "numbers": ranges(numbers),
        "whitespace": ranges(whitespace),
    }


def _normalized_one_by_one(characters, **options):
    """BertNormalizer output of each character, probed in one call ('|' separates)."""
    options = {
        "clean_text": False,
        "handle_chinese_chars": False,
        "strip_accents": False,
        "lowercase": False,
        **options,
    }
    normalizer = normalizers.BertNormalizer(**options)
    characters = [c for c in characters if c != "|"]
    outputs = normalizer.normalize_str("|".join(characters)).split("|")
    if len(outputs) != len(characters):
        raise RuntimeError(f"BertNormalizer({options}) produced a '|'")
    return dict(zip(characters, outputs))


def bert_tables():
    """BERT's normalizer and pre-tokenizer classes and maps (see `unicode_tables.py`)."""
    characters = code_points()
    cleaned = _normalized_one_by_one(characters, clean_text=True)
    removed = [c for c in characters if cleaned.get(c, c) == ""]
    whitespace = [c for c in characters if cleaned.get(c, c) == " "]
    odd = [c for c in characters if cleaned.get(c, c) not in ("", " ", c)]
    if odd:
        raise RuntimeError(f"clean_text changed {odd[:5]} unexpectedly")
    spaced = _normalized_one_by_one(characters, handle_chinese_chars=True)
    chinese = [c for c in characters if spaced.get(c, c) == f" {c} "]
    lowered = _normalized_one_by_one(characters, lowercase=True)
    lowercase = {c: out for c, out in lowered.items() if out != c}
    stripped = _normalized_one_by_one(characters, strip_accents=True)
    strip_accents = {c: out for c, out in stripped.items() if out != c}
    for syllable in map(chr, _HANGUL_SYLLABLES):
        if strip_accents.pop(syllable) != unicodedata.normalize("NFD", syllable):
            raise RuntimeError(f"Hangul {syllable!r} is not decomposed as NFD")
    pairs = _pair_tokens("a", characters, pre_tokenizers.BertPreTokenizer())
    punctuation = [c for c, (a, own) in zip(characters, pairs) if own is not None and own != a]
    split_on = [c for c, (_, own) in zip(characters, pairs) if own is None]
    return {
        "removed": ranges(removed),
        "whitespace": ranges(whitespace),
        "chinese": ranges(chinese),
        "punctuation": ranges(punctuation),
        "pre_tokenizer_whitespace": ranges(split_on),
        "lowercase": lowercase,
        "strip_accents": strip_accents,
    }


def _ranges_source(name, value, comment):
    items = [f"{first:X}" if first == last else f"{first:X}-{last:X}" for first, last in value]
    lines = _wrapped(items, separator=",", quote=True)
    return f"# {comment}\n{name} = (\n{lines}\n)\n"


def _map_source(name, mapping, comment):
    items = []
    for character, output in sorted(mapping.items()):
        output_hex = " ".join(f"{ord(o):X}" for o in output)
        items.append(f"{ord(character):X}:{output_hex}")
    lines = _wrapped(items, separator=",", quote=True)
    return f"# {comment}\n{name} = (\n{lines}\n)\n"


def _wrapped(items, separator=", ", quote=False, width=92):
    lines, line = [], ""
    for item in items:
        piece = item + separator
        if line and len(line) + len(piece) > width - (2 if quote else 0):
            lines.append(line)
            line = ""
        line += piece
    if line:
        lines.append(line)
    if quote:
        return "\n".join(f'    "{line}"' for line in lines)
    return "\n".join(f"    {line.rstrip()}" for line in lines)


def render_module():
    classes = byte_level_classes()
    bert = bert_tables()
    import tokenizers

    parts = [
        '"""Unicode character classes of Hugging Face\'s tokenizers, as code point tables.\n\n'
        "Data, not code: its length is the tables'.\n\n"
        "Generated by `python -m tests.text.pretrained.unicode_tables_from_huggingface`\n"
        f"from `tokenizers` {tokenizers.__version__}; do not edit by hand. Code points\n"
        "are hexadecimal. A range table is one string of comma-separated inclusive\n"
        "ranges `FIRST-LAST` (or a single code point); a map is one string of\n"
        "comma-separated `KEY:VALUE` entries, VALUE being the code points of the\n"
        "output (none: the character is deleted). Hangul syllables are left out of\n"
        "`BERT_STRIP_ACCENTS`: they decompose algorithmically (Unicode 3.12).\n"
        '"""\n',
        _ranges_source("BYTE_LEVEL_LETTERS", classes["letters"], "GPT-2 split pattern: \\p{L}"),
        _ranges_source("BYTE_LEVEL_NUMBERS", classes["numbers"], "GPT-2 split pattern: \\p{N}"),
        _ranges_source(
            "BYTE_LEVEL_WHITESPACE", classes["whitespace"], "GPT-2 split pattern: \\s"
        ),
        _ranges_source("BERT_REMOVED", bert["removed"], "BertNormalizer clean_text: deleted"),
        _ranges_source(
            "BERT_WHITESPACE", bert["whitespace"], "BertNormalizer clean_text: become a space"
        ),
        _ranges_source(
            "BERT_CHINESE", bert["chinese"], "BertNormalizer handle_chinese_chars: spaced"
        ),
        _ranges_source(
            "BERT_PUNCTUATION", bert["punctuation"], "BertPreTokenizer: a token of its own"
        ),
        _map_source("BERT_LOWERCASE", bert["lowercase"], "BertNormalizer lowercase"),
        _map_source(
            "BERT_STRIP_ACCENTS",
            bert["strip_accents"],
            "BertNormalizer strip_accents: NFD, then nonspacing marks deleted",
        ),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    OUTPUT.write_text(render_module(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT}\n")
