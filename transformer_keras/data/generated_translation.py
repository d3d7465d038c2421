"""A generated translation task that needs attention over the whole source.

Numbers spelled out in English words translate to their digits, one word per
digit: `"three thousand forty two"` -> `"3 0 4 2"`. Every digit depends on
words far apart in the source (a missing "hundred" puts a zero in the middle),
the task is deterministic, offline and free of third-party text: the demo's
default data. Digits are separated by spaces so that BLEU, which counts word
n-grams, measures the digits.
"""

import random

from transformer_keras.utils.validation import check_positive_int

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_to_words(number):
    """English words of `0 <= number < 1_000_000` (American style, no "and").

    Example:
    >>> number_to_words(3042)
    'three thousand forty-two'
    """
    if not 0 <= number < 1_000_000:
        raise ValueError(f"`number` must be in [0, 1000000). Received: number={number!r}")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (" " + number_to_words(rest) if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{number_to_words(thousands)} thousand" + (
        " " + number_to_words(rest) if rest else ""
    )


def spelled_number_pairs(count, max_number=10_000, seed=0):
    """`count` pairs `(words, digits)` of random numbers below `max_number`.

    The digit count is drawn uniformly first, then the number.

    Sources are `number_to_words` with spaces for hyphens ("forty two"),
    targets the digits separated by spaces ("4 2").

    Args:
        count: number of pairs.
        max_number: numbers are drawn from `[0, max_number)` (at most 1,000,000).
        seed: the random seed; the same seed gives the same pairs.

    Returns:
        `(sources, targets)` lists of strings.

    Example:
    >>> spelled_number_pairs(1, seed=0)
    (['seven thousand eight hundred ninety'], ['7 8 9 0'])
    """
    check_positive_int("count", count)
    check_positive_int("max_number", max_number)
    generator = random.Random(seed)
    # As many numbers of each digit count: small numbers are not rare.
    digit_counts = range(1, len(str(max_number - 1)) + 1)
    numbers = []
    for _ in range(count):
        digits = generator.choice(digit_counts)
        low = 0 if digits == 1 else 10 ** (digits - 1)
        numbers.append(generator.randrange(low, min(10**digits, max_number)))
    sources = [number_to_words(n).replace("-", " ") for n in numbers]
    return sources, [" ".join(str(n)) for n in numbers]
