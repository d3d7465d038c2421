"""The committed tables equal what the installed `tokenizers` does.

Every code point of the Basic Multilingual Plane and every 31st beyond it is
probed (a few seconds); `python -m tests.text.pretrained.unicode_tables_from_huggingface`
probes all of them and rewrites the tables.
"""

import pytest
import tensorflow as tf

from transformer_keras.text.pretrained import unicode_tables
from transformer_keras.text.pretrained.unicode_classes import (
    CodePointRanges,
    parse_map,
    parse_ranges,
    pattern_class,
)

pytest.importorskip("tokenizers")
from tests.text.pretrained import unicode_tables_from_huggingface as probe  # noqa: E402

SAMPLE = [
    chr(c) for c in [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 31)]
]


def members(table):
    ranges = parse_ranges(table)
    return [c for c in SAMPLE if ranges.contains(c)]


@pytest.fixture(scope="module", autouse=True)
def sampled(monkeypatch_module):
    monkeypatch_module.setattr(probe, "code_points", lambda: SAMPLE)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def as_members(ranges):
    ranges = CodePointRanges(ranges)
    return [c for c in SAMPLE if ranges.contains(c)]


def test_byte_level_classes_equal_the_gpt2_pattern():
    classes = probe.byte_level_classes()
    assert members(unicode_tables.BYTE_LEVEL_LETTERS) == as_members(classes["letters"])
    assert members(unicode_tables.BYTE_LEVEL_NUMBERS) == as_members(classes["numbers"])
    assert members(unicode_tables.BYTE_LEVEL_WHITESPACE) == as_members(classes["whitespace"])


def test_bert_tables_equal_the_normalizer_and_pre_tokenizer():
    tables = probe.bert_tables()
    for name, key in [
        ("BERT_REMOVED", "removed"),
        ("BERT_WHITESPACE", "whitespace"),
        ("BERT_CHINESE", "chinese"),
        ("BERT_PUNCTUATION", "punctuation"),
    ]:
        assert members(getattr(unicode_tables, name)) == as_members(tables[key]), name
    sampled = set(SAMPLE)
    for name, key in [("BERT_LOWERCASE", "lowercase"), ("BERT_STRIP_ACCENTS", "strip_accents")]:
        committed = {c: o for c, o in parse_map(getattr(unicode_tables, name)).items()}
        committed = {c: o for c, o in committed.items() if c in sampled}
        assert committed == tables[key], name


def test_the_pre_tokenizer_splits_only_on_what_clean_text_removes_or_spaces():
    """So `WordPieceTokenizer` splits on spaces only."""
    split_on = as_members(probe.bert_tables()["pre_tokenizer_whitespace"])
    cleaned = set(members(unicode_tables.BERT_REMOVED)) | set(
        members(unicode_tables.BERT_WHITESPACE)
    )
    assert split_on and set(split_on) <= cleaned


@pytest.mark.tf_only
def test_tensorflow_membership_and_patterns_agree_with_python():
    ranges = parse_ranges(unicode_tables.BYTE_LEVEL_LETTERS)
    characters = ["a", "Z", "é", "1", " ", "汉", "\U000105c0", "\U00010d40", "!", "\x00"]
    code_points = tf.constant([ord(c) for c in characters], tf.int32)
    expected = [ranges.contains(c) for c in characters]
    assert ranges.mask(code_points).numpy().tolist() == expected
    matched = tf.strings.regex_full_match(tf.constant(characters), pattern_class(ranges))
    assert matched.numpy().tolist() == expected
    # Todhri (Unicode 16) is a letter to Hugging Face, not to RE2's own \p{L}.
    assert expected[6] and not tf.strings.regex_full_match("\U000105c0", r"\p{L}").numpy()
