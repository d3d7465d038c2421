"""Tests of the batched beam search (generation/beam_search.py) on toy step functions."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.generation.beam_search import (
    beam_search,
    expand_to_beams,
    length_penalty,
)

pytestmark = pytest.mark.tf_only

PAD, START, END, A, B = range(5)
VOCABULARY = 5


def _history_scores(history):
    """Log-probabilities of the next token given the whole history (a row of ints).

    The scores depend on every earlier token, so a cache reordered to the wrong
    parent beam gives wrong scores.
    """
    seed = sum((i + 1) * int(t) for i, t in enumerate(history)) + 7 * len(history)
    logits = np.random.default_rng(seed).normal(size=VOCABULARY) * 2
    logits[[PAD, START]] = -np.inf
    return logits - np.logaddexp.reduce(logits)


def _history_step_fn():
    """A step function whose cache is the `(B*K, T_max)` history of fed tokens."""

    def step_fn(tokens, cache, index):
        cache = tf.tensor_scatter_nd_update(
            tf.transpose(cache), [[index]], tf.transpose(tokens)
        )  # write column `index`
        cache = tf.transpose(cache)  # (B*K, T_max)
        histories = cache[:, : index + 1].numpy()
        logits = np.stack([_history_scores(row) for row in histories])  # (B*K, V)
        return tf.constant(logits[:, None, :], tf.float32), cache

    return step_fn


def _brute_force(max_length, alpha, prefix=(START,)):
    """The best finished sequence and its GNMT score, by enumeration."""
    best, best_score = None, -math.inf
    for length in range(1, max_length + 1):
        for body in itertools.product((A, B), repeat=length - 1):
            sequence = (*body, END)
            history, log_prob = list(prefix), 0.0
            for token in sequence:
                log_prob += _history_scores(history)[token]
                history.append(token)
            score = log_prob / float(length_penalty(length, alpha))
            if score > best_score:
                best, best_score = sequence, score
    return best, best_score


def test_length_penalty_is_the_gnmt_formula():
    assert float(length_penalty(1, 0.6)) == pytest.approx(1.0)
    assert float(length_penalty(5, 0.6)) == pytest.approx((10 / 6) ** 0.6)
    assert float(length_penalty(9, 0.0)) == pytest.approx(1.0)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_a_wide_beam_finds_the_best_sequence_with_the_cache_reordered(alpha):
    max_length = 4
    # 2 ** 3 alive prefixes at most: a beam of 8 keeps every one (exact search).
    tokens, scores = beam_search(
        _history_step_fn(),
        cache=tf.zeros([8, max_length], tf.int32),
        batch_size=1,
        beam_size=8,
        max_length=max_length,
        start_id=START,
        end_id=END,
        pad_id=PAD,
        alpha=alpha,
    )
    expected, expected_score = _brute_force(max_length, alpha)
    row = tokens.numpy()[0].tolist()
    assert row[: len(expected)] == list(expected)
    assert all(token == PAD for token in row[len(expected) :])
    assert float(scores[0]) == pytest.approx(expected_score, abs=1e-4)


def test_all_hypotheses_are_returned_best_first():
    tokens, scores = beam_search(
        _history_step_fn(),
        cache=tf.zeros([3, 5], tf.int32),
        batch_size=1,
        beam_size=3,
        max_length=5,
        start_id=START,
        end_id=END,
        return_all=True,
    )
    assert tokens.shape == (1, 3, 5)
    assert np.all(np.diff(scores.numpy()[0]) <= 0)
    assert len({tuple(row) for row in tokens.numpy()[0]}) == 3  # distinct hypotheses


def test_rows_of_a_batch_are_searched_independently():
    # The row's first cache entry is a "source" the scores depend on.
    def step_fn(tokens, cache, index):
        histories = tf.concat([cache[:, :1], tokens], axis=1).numpy()
        logits = np.stack([_history_scores(list(row) + [index]) for row in histories])
        return tf.constant(logits[:, None, :], tf.float32), cache

    def search(sources, beam_size=2):
        cache = expand_to_beams(tf.constant(sources, tf.int32)[:, None], beam_size)
        return beam_search(step_fn, cache, len(sources), beam_size, 6, START, END)

    together, together_scores = search([A, B, A])
    for row, source in enumerate([A, B, A]):
        alone, alone_scores = search([source])
        np.testing.assert_array_equal(together[row], alone[0])
        assert float(together_scores[row]) == pytest.approx(float(alone_scores[0]))


@pytest.mark.parametrize("alpha, most_steps", [(0.0, 2), (0.6, 5)])
def test_search_stops_early_once_no_alive_beam_can_win(alpha, most_steps):
    # Step 0 ends the best hypothesis, step 1 the second one; from then on no
    # alive hypothesis (its log-probability only falls, its length penalty is
    # at most that of max_length) can beat them, so the loop ends long before 50.
    calls = []

    def step_fn(tokens, cache, index):
        calls.append(int(index))
        logits = np.full((tokens.shape[0], VOCABULARY), -5.0, "float32")
        logits[:, END] = 5.0  # the end is (almost) certain at once
        return tf.constant(logits[:, None, :]), cache

    tokens, _ = beam_search(step_fn, tf.zeros([4, 1]), 2, 2, 50, START, END, alpha=alpha)
    assert tokens.shape == (2, 50)
    assert np.all(tokens.numpy()[:, 0] == END) and np.all(tokens.numpy()[:, 1:] == PAD)
    assert len(calls) <= most_steps, calls


def test_a_row_cut_by_max_length_returns_its_best_alive_hypothesis():
    def step_fn(tokens, cache, index):
        logits = np.zeros((tokens.shape[0], VOCABULARY), "float32")
        logits[:, [PAD, START, END]] = -1e4  # never ends
        logits[:, A] = 3.0
        return tf.constant(logits[:, None, :]), cache

    tokens, scores = beam_search(step_fn, tf.zeros([2, 1]), 1, 2, 4, START, END)
    assert tokens.numpy().tolist() == [[A, A, A, A]]
    assert np.isfinite(scores.numpy()).all()
