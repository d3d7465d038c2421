"""The generated sentiment task: deterministic, balanced, and labelled by its rules."""

import pytest

from transformer_keras.data.generated_sentiment import (
    ADJECTIVES,
    LABEL_NAMES,
    VERBS,
    generate_sentiment_examples,
    generated_sentiment_data,
)


def _rule_label(text):
    """An independent reading of the rules: the last clause decides; "not" flips."""
    clause = text.split(" but ")[-1].split()
    for sentiment in (0, 1):
        opinion_words = set(ADJECTIVES[sentiment]) | set(VERBS[sentiment])
        opinion_words |= {verb[:-1] for verb in VERBS[sentiment]}  # "hate" of "hated"
        opinion_words |= {verb[:-2] for verb in VERBS[sentiment]}  # "enjoy" of "enjoyed"
        opinion_words |= {verb[:-3] for verb in VERBS[sentiment]}  # "regret"
        if opinion_words & set(clause):
            return sentiment ^ int("not" in clause)
    raise AssertionError(f"no opinion word in {text!r}")


def test_labels_follow_the_rules():
    texts, labels = generate_sentiment_examples(500, seed=0)
    assert [_rule_label(text) for text in texts] == labels
    assert any(" but " in text for text in texts)
    assert any(" not " in text for text in texts)


def test_deterministic_and_roughly_balanced():
    assert generate_sentiment_examples(50, seed=4) == generate_sentiment_examples(50, seed=4)
    assert generate_sentiment_examples(50, seed=4) != generate_sentiment_examples(50, seed=5)
    _, labels = generate_sentiment_examples(1000, seed=0)
    assert 0.4 < sum(labels) / len(labels) < 0.6


def test_no_opinion_word_decides_alone():
    """Every adjective occurs under both labels (negation, "but"): order matters."""
    texts, labels = generate_sentiment_examples(2000, seed=0)
    for adjective in ADJECTIVES[0] + ADJECTIVES[1]:
        found = {label for text, label in zip(texts, labels) if adjective in text.split()}
        assert found == {0, 1}, adjective


@pytest.mark.tf_only
def test_as_classification_data():
    data = generated_sentiment_data(10, seed=2)
    assert data.label_names == LABEL_NAMES
    assert data.texts_and_labels() == generate_sentiment_examples(10, seed=2)


@pytest.mark.tf_only
def test_docstring_examples_run():
    import doctest

    import transformer_keras.data.generated_sentiment as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    results = doctest.testmod(module, optionflags=flags, report=False)
    assert results.attempted > 0 and results.failed == 0
