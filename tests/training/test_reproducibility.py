"""`set_seed`: the same seed gives the same initialization, dropout, data order and weights.

`deterministic=True` (op determinism, which cannot be switched off again in a
process) is checked in the child process of `test_distribute.py`.
"""

import doctest
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.training import reproducibility
from transformer_keras.training.reproducibility import set_seed
from transformer_keras.training.resumable_fit import fit_resumable

pytestmark = pytest.mark.tf_only

TINY = dict(num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16, max_sequence_length=6)


def _initial_weights(seed):
    set_seed(seed)
    model = TransformerClassifier.from_arguments(num_classes=2, vocabulary_size=20, **TINY)
    model.build((None, 6))
    return model.get_weights()


def _dropout_mask(seed):
    set_seed(seed)
    return keras.layers.Dropout(0.5)(np.ones((4, 8), "float32"), training=True).numpy()


def _shuffled_order(seed):
    set_seed(seed)
    dataset = tf.data.Dataset.range(10).shuffle(10, seed=seed, reshuffle_each_iteration=True)
    return [int(x) for x in dataset.repeat(2)]


def _trained_weights(seed, dropout=0.3):
    """A classifier trained 2 epochs with dropout and a reshuffled dataset."""
    set_seed(seed)
    rng = np.random.default_rng(5)
    token_ids = rng.integers(1, 20, size=(24, 6)).astype("int32")
    labels = (token_ids[:, 0] % 2).astype("int64")
    model = TransformerClassifier.from_arguments(
        num_classes=2, vocabulary_size=20, dropout=dropout, **TINY
    )
    model.build((None, 6))
    model.compile(total_steps=6)

    def make_batches():
        examples = tf.data.Dataset.from_tensor_slices((token_ids, labels))
        return examples.shuffle(24, seed=seed, reshuffle_each_iteration=True).batch(8)

    fit_resumable(model, make_batches, epochs=2, backup_dir=tempfile.mkdtemp(), verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("draw", [_initial_weights, _dropout_mask, _shuffled_order])
def test_the_same_seed_repeats_each_source_of_randomness(draw):
    first, again, other = draw(3), draw(3), draw(4)
    for a, b in zip(keras.tree.flatten(first), keras.tree.flatten(again)):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(keras.tree.flatten(first), keras.tree.flatten(other))
    )


def test_two_runs_with_the_same_seed_give_identical_weights():
    # Each run draws initial weights, dropout masks and two epochs' data order.
    first, again = _trained_weights(11), _trained_weights(11)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True, None])
def test_bad_seeds_are_rejected(seed):
    with pytest.raises(ValueError, match=r"`seed` must be an integer .* Received: seed="):
        set_seed(seed)


def test_deterministic_must_be_a_bool():
    with pytest.raises(ValueError, match="Received: deterministic='yes'"):
        set_seed(0, deterministic="yes")


def test_set_seed_returns_the_seed():
    assert set_seed(42) == 42


def test_docstring_examples_run():
    assert doctest.testmod(reproducibility).failed == 0
