"""A generated, offline sentiment task: review sentences built from word lists.

The label follows three rules, so that word counts alone do not solve it and
the order of words matters:

1. an opinion word sets the sentiment: "the plot was gripping" is positive;
2. "not" before it flips it: "the plot was not gripping" is negative;
3. in "A but B", clause B decides: "the cast was superb but the ending was dull"
   is negative.

Nothing here is third-party text; the word lists are written for this module.
Used by the `transformer-keras demo` step and by tests.
"""

import random

from transformer_keras.data.classification import from_texts
from transformer_keras.utils.validation import check_non_negative_int

LABEL_NAMES = ("negative", "positive")

SUBJECTS = (
    "the movie",
    "this film",
    "the plot",
    "the acting",
    "the soundtrack",
    "the ending",
    "the script",
    "the cast",
    "the story",
    "the dialogue",
    "the camera work",
    "the pacing",
)
COPULAS = ("was", "is", "felt", "seemed")
INTENSIFIERS = ("", "really ", "truly ", "rather ", "very ", "quite ")
ADJECTIVES = (
    # negative
    ("boring", "dull", "awful", "clumsy", "predictable", "tedious", "terrible", "bland"),
    # positive
    (
        "wonderful",
        "brilliant",
        "moving",
        "delightful",
        "gripping",
        "charming",
        "superb",
        "clever",
    ),
)
VERBS = (("hated", "disliked", "regretted"), ("loved", "enjoyed", "admired"))
NEGATED_VERBS = {"hated": "hate", "disliked": "dislike", "regretted": "regret",
                 "loved": "love", "enjoyed": "enjoy", "admired": "admire"}  # fmt: skip


def _clause(rng):
    """One clause and its sentiment (0 negative, 1 positive)."""
    sentiment = rng.randrange(2)
    negated = rng.random() < 0.3
    subject = rng.choice(SUBJECTS)
    if rng.random() < 0.75:
        adjective = rng.choice(ADJECTIVES[sentiment])
        intensifier = rng.choice(INTENSIFIERS)
        negation = "not " if negated else ""
        text = f"{subject} {rng.choice(COPULAS)} {negation}{intensifier}{adjective}"
    else:
        verb = rng.choice(VERBS[sentiment])
        text = (
            f"i did not {NEGATED_VERBS[verb]} {subject}" if negated else f"i {verb} {subject}"
        )
    return text, sentiment ^ int(negated)


def generate_sentiment_examples(num_examples, seed=0):
    """`num_examples` generated review sentences and their labels.

    Args:
        num_examples: how many examples.
        seed: the random seed; the same seed gives the same examples.

    Returns:
        `(texts, labels)`: lists of strings and of ints (0 negative, 1 positive).

    Example:
    >>> texts, labels = generate_sentiment_examples(2, seed=1)
    >>> len(texts), set(labels) <= {0, 1}
    (2, True)
    """
    check_non_negative_int("num_examples", num_examples)
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(num_examples):
        text, label = _clause(rng)
        if rng.random() < 0.35:  # "A but B": B decides.
            text_b, label = _clause(rng)
            text = f"{text} but {text_b}"
        texts.append(text)
        labels.append(label)
    return texts, labels


def generated_sentiment_data(num_examples, seed=0):
    """The generated task as a `TextClassificationData` (labels negative/positive).

    Example:
    >>> generated_sentiment_data(8).label_names
    ('negative', 'positive')
    """
    texts, labels = generate_sentiment_examples(num_examples, seed)
    return from_texts(texts, labels, LABEL_NAMES)
