"""`ClipSummedGradients` on one replica: embedding gradients are clipped by their true norm.

The two-replica case (the clipped sum over replicas equals one device's
clipped gradient) is checked by the loss curves of `test_distribute.py`,
whose default optimizers clip.
"""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.optimization import replica_clipping
from transformer_keras.optimization.optimizers import adamw
from transformer_keras.optimization.replica_clipping import ClipSummedGradients

pytestmark = pytest.mark.tf_only


class ClippedSGD(ClipSummedGradients, keras.optimizers.SGD):
    pass


def _embedding_gradient():
    """Token 0 twice in a batch: two unsummed slices `[3, 4]`, true gradient `[6, 8]`."""
    return tf.IndexedSlices(
        values=tf.constant([[3.0, 4.0], [3.0, 4.0]]),
        indices=tf.constant([0, 0]),
        dense_shape=tf.constant([2, 2]),
    )


def _step(optimizer):
    """One SGD step (learning rate 1) from zeros: returns minus the applied gradient."""
    variable = keras.Variable(np.zeros((2, 2), "float32"))
    optimizer.apply_gradients([(_embedding_gradient(), variable)])
    return -variable.numpy()


@pytest.mark.parametrize("clipping", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}])
def test_embedding_gradients_are_clipped_by_their_true_norm(clipping):
    applied = _step(ClippedSGD(learning_rate=1.0, **clipping))
    np.testing.assert_allclose(applied, [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)


def test_keras_alone_measures_the_norm_of_the_unsummed_slices():
    """Why the mixin densifies: plain Keras gives a gradient of norm sqrt(2), not 1."""
    applied = _step(keras.optimizers.SGD(learning_rate=1.0, clipnorm=1.0))
    assert np.linalg.norm(applied) == pytest.approx(np.sqrt(2.0), abs=1e-5)


def test_without_clipping_gradients_pass_unchanged():
    applied = _step(ClippedSGD(learning_rate=1.0))
    np.testing.assert_allclose(applied, [[6.0, 8.0], [0.0, 0.0]], atol=1e-6)


def test_the_zoo_adamw_clips_the_summed_gradients():
    assert isinstance(adamw(1e-3, clipnorm=1.0), ClipSummedGradients)


def test_docstring_examples_run():
    assert doctest.testmod(replica_clipping).failed == 0
