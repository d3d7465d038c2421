"""Character classes from code point tables, as TensorFlow ops and RE2 patterns.

The tables (`unicode_tables.py`) are Hugging Face's own classes, read from its
Rust code; TensorFlow's RE2 knows an older Unicode, so patterns spell the
classes out as code point ranges instead of `\\p{L}`.
"""

import bisect
import functools

import tensorflow as tf


def parse_map(table):
    """A `unicode_tables` map string -> a new `{character: output string}`."""
    mapping = {}
    for entry in filter(None, table.split(",")):
        key, value = entry.split(":")
        mapping[chr(int(key, 16))] = "".join(chr(int(c, 16)) for c in value.split())
    return mapping


class CodePointRanges:
    """A set of code points as sorted, inclusive `(first, last)` ranges.

    Args:
        ranges: `((first, last), ...)`, sorted and not overlapping.
    """

    def __init__(self, ranges):
        self.ranges = tuple((int(first), int(last)) for first, last in ranges)
        # An odd number of bounds at or below a code point means it is inside a range.
        self._bounds = [bound for first, last in self.ranges for bound in (first, last + 1)]

    def contains(self, character):
        """Whether one character (Python str) is in the set."""
        return bisect.bisect_right(self._bounds, ord(character)) % 2 == 1

    def mask(self, code_points):
        """int32 code points (any shape) -> bool of the same shape, True in the set."""
        bounds = tf.constant(self._bounds, tf.int32)
        flat = tf.reshape(code_points, [-1])
        position = tf.searchsorted(bounds, flat, side="right")
        return tf.reshape(position % 2 == 1, tf.shape(code_points))


@functools.cache
def parse_ranges(table):
    """A `unicode_tables` range string -> `CodePointRanges`."""
    ranges = []
    for entry in filter(None, table.split(",")):
        first, _, last = entry.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    return CodePointRanges(ranges)


def pattern_class(*range_tables, negate=False):
    """An RE2 character class (`[...]` or `[^...]`) of the union of `CodePointRanges`."""
    parts = []
    for code_point_ranges in range_tables:
        for first, last in code_point_ranges.ranges:
            last_part = "" if first == last else f"-\\x{{{last:X}}}"
            parts.append(f"\\x{{{first:X}}}{last_part}")
    return ("[^" if negate else "[") + "".join(parts) + "]"


def escape(text):
    """`text` as an RE2 pattern matching it literally (every non-alphanumeric escaped)."""
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):X}}}" for c in text)


# A byte that valid UTF-8 never holds: it marks cut points in a text.
_CUT = b"\xff"


def split_keeping_matches(texts, pattern):
    """`(B,)` valid UTF-8 -> `(B, None)` ragged pieces: each match of `pattern` and
    each stretch of text between matches (empty pieces dropped).

    Works on texts holding NUL characters, which tensorflow-text's `regex_split`
    cuts short.
    """
    marked = tf.strings.regex_replace(texts, pattern, _CUT + b"\\0" + _CUT)
    pieces = tf.strings.split(marked, sep=_CUT)  # (B, None)
    return tf.ragged.boolean_mask(pieces, pieces != "")
