"""Tests of `generation/sampling.py`: greedy, temperature, top-k, top-p.

On the current backend (TensorFlow or JAX); tracing and in-graph assertions
are TensorFlow's (`tf_only`).
"""

import keras
import numpy as np
import pytest
from keras import ops

from transformer_keras.generation.sampling import (
    assert_sampling_settings,
    check_sampling_settings,
    filter_logits,
    sample,
)

# Probabilities 0.5, 0.25, 0.15, 0.1 at ids 2, 0, 3, 1.
PROBABILITIES = np.array([0.25, 0.1, 0.5, 0.15])
LOGITS = np.log(PROBABILITIES)[None].astype("float32")  # (1, V)


def numpy(tensor):
    return ops.convert_to_numpy(tensor)


def draws(logits, temperature=1.0, top_k=0, top_p=1.0, count=400):
    """`count` independent samples from the `(1, V)` logits (one row each)."""
    rows = np.tile(logits, [count, 1])  # (count, V)
    return numpy(sample(rows, temperature, top_k, top_p, seed=[7, 0]))


def test_temperature_zero_is_greedy():
    logits = np.array([[0.0, 3.0, 1.0], [5.0, -1.0, 4.9]], "float32")
    assert numpy(sample(logits, 0.0, 0, 1.0, seed=[0, 0])).tolist() == [1, 0]


def test_top_k_one_is_greedy_at_any_temperature():
    assert set(draws(LOGITS, temperature=5.0, top_k=1, count=50)) == {2}


def test_top_k_keeps_only_the_k_most_likely_tokens():
    assert set(draws(LOGITS, top_k=2)) == {2, 0}


def test_top_p_keeps_the_smallest_set_reaching_p():
    # 0.5 < 0.7 so id 0 (0.25) is needed; 0.75 >= 0.7 so nothing more.
    assert set(draws(LOGITS, top_p=0.7)) == {2, 0}
    assert set(draws(LOGITS, top_p=0.3, count=50)) == {2}


def test_top_p_applies_after_top_k():
    # After top-k=3 the renormalized probabilities are 0.555, 0.278, 0.167.
    assert set(draws(LOGITS, top_k=3, top_p=0.8)) == {2, 0}


def test_no_filter_samples_the_softmax_distribution():
    samples = draws(LOGITS, count=2000)
    frequencies = np.bincount(samples, minlength=4) / len(samples)
    np.testing.assert_allclose(frequencies, PROBABILITIES, atol=0.04)


def test_temperature_sharpens_and_flattens():
    cold = np.bincount(draws(LOGITS, temperature=0.2, count=300), minlength=4)
    hot = np.bincount(draws(LOGITS, temperature=5.0, count=300), minlength=4)
    assert cold[2] > 280  # nearly always the most likely token
    assert hot.min() > 40  # nearly uniform


def test_same_seed_same_draw_and_other_seeds_differ():
    logits = np.zeros([8, 50], "float32")
    first = numpy(sample(logits, 1.0, 0, 1.0, seed=[3, 4]))
    again = numpy(sample(logits, 1.0, 0, 1.0, seed=[3, 4]))
    other = numpy(sample(logits, 1.0, 0, 1.0, seed=[3, 5]))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_tiny_temperature_and_huge_logits_stay_finite():
    logits = np.array([[1e30, -1e30, 0.0, 3e38]], "float32")
    assert int(numpy(sample(logits, 1e-30, 0, 1.0, seed=[0, 0]))[0]) == 3
    assert int(numpy(sample(logits, 1e-30, 2, 0.5, seed=[0, 1]))[0]) == 3


def test_top_p_one_keeps_tokens_whose_mass_rounds_away():
    # The tail tokens have probability ~1e-30: the cumulative mass reaches 1.0
    # in float32 before them, yet top_p=1 ("off") must keep them finite.
    logits = np.array([[0.0, -69.0, -69.0]], "float32")
    filtered = numpy(filter_logits(logits, top_k=0, top_p=1.0))
    assert np.isfinite(filtered).all()


def test_filter_logits_keeps_ties_and_marks_the_rest_minus_inf():
    logits = np.array([[1.0, 2.0, 2.0, 0.0]], "float32")
    np.testing.assert_array_equal(
        numpy(filter_logits(logits, top_k=1, top_p=1.0)),
        [[-np.inf, 2.0, 2.0, -np.inf]],
    )


@pytest.mark.tf_only
def test_settings_as_tensors_do_not_retrace():
    import tensorflow as tf

    traced = tf.function(
        lambda logits, t, k, p, s: sample(logits, t, k, p, tf.stack([s, 0])),
        input_signature=[
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32),
        ],
    )
    for temperature, top_k, top_p in [(0.0, 0, 1.0), (0.7, 5, 1.0), (1.3, 0, 0.9)]:
        traced(tf.zeros([2, 10]), temperature, top_k, top_p, 1)
    traced(tf.zeros([5, 30]), 1.0, 40, 0.95, 2)
    assert traced.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "settings, name",
    [
        ((-0.5, 0, 1.0), "temperature"),
        ((float("nan"), 0, 1.0), "temperature"),
        ((float("inf"), 0, 1.0), "temperature"),
        (("hot", 0, 1.0), "temperature"),
        ((1.0, -1, 1.0), "top_k"),
        ((1.0, 2.5, 1.0), "top_k"),
        ((1.0, 0, 0.0), "top_p"),
        ((1.0, 0, 1.5), "top_p"),
        ((1.0, 0, -0.1), "top_p"),
    ],
)
def test_bad_settings_raise_value_error_naming_them(settings, name):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        check_sampling_settings(*settings)


def test_good_settings_pass():
    check_sampling_settings(0, 0, 1)
    check_sampling_settings(0.7, 40, 0.95)


@pytest.mark.parametrize(
    "settings, message",
    [
        ((-1.0, 0, 1.0), "temperature"),
        ((float("nan"), 0, 1.0), "temperature"),
        ((1.0, -3, 1.0), "top_k"),
        ((1.0, 0, 0.0), "top_p"),
        ((1.0, 0, 2.0), "top_p"),
    ],
)
@pytest.mark.tf_only
def test_in_graph_assertions_reject_bad_settings(settings, message):
    import tensorflow as tf

    temperature, top_k, top_p = settings
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        assert_sampling_settings(
            tf.constant(temperature, tf.float32),
            tf.constant(top_k, tf.int32),
            tf.constant(top_p, tf.float32),
        )


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit of the sampler")
def test_under_jax_jit_one_program_serves_every_setting():
    import jax

    traces = []

    @jax.jit
    def traced(logits, temperature, top_k, top_p, seed):
        traces.append(1)  # runs once per trace
        return sample(logits, temperature, top_k, top_p, ops.stack([seed, 0]))

    logits = np.zeros([2, 10], "float32")
    for temperature, top_k, top_p in [(0.0, 0, 1.0), (0.7, 5, 1.0), (1.3, 0, 0.9)]:
        tokens = traced(
            logits, np.float32(temperature), np.int32(top_k), np.float32(top_p), np.int32(1)
        )
        assert np.asarray(tokens).shape == (2,)
    assert len(traces) == 1


def test_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(importlib.import_module("transformer_keras.generation.sampling")).failed
        == 0
    )
