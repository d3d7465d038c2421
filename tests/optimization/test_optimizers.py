import doctest
import json

import keras
import numpy as np
import pytest

from transformer_keras import layers
from transformer_keras.optimization.optimizers import adamw, paper_adam
from transformer_keras.optimization.schedules import TransformerSchedule


def tiny_encoder_variables():
    """The variables of a real embedding + encoder layer (names as the zoo makes them)."""
    embedding = layers.TokenAndPositionEmbedding(50, 8, max_sequence_length=8)
    encoder = layers.Encoder(num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16)
    encoder(embedding(np.array([[1, 2, 3]])))
    return embedding.trainable_variables + encoder.trainable_variables


def step_with_zero_gradients(optimizer, variables):
    """One update where Adam's own step is 0, so only weight decay can move a variable."""
    before = [np.array(v) for v in variables]
    optimizer.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    return {v.path: not np.allclose(np.array(v), b) for v, b in zip(variables, before)}


def test_adamw_decays_only_weight_matrices():
    variables = tiny_encoder_variables()
    changed = step_with_zero_gradients(adamw(learning_rate=0.1, weight_decay=0.5), variables)
    decayed = sorted(path for path, moved in changed.items() if moved)
    assert decayed and all(path.endswith("/kernel") for path in decayed)
    assert len(decayed) == sum(path.endswith("/kernel") for path in changed)
    kernel = next(v for v in variables if v.path.endswith("/kernel"))
    before = np.array(kernel)
    step_with_zero_gradients(adamw(learning_rate=0.1, weight_decay=0.5), [kernel])
    np.testing.assert_allclose(np.array(kernel), before * (1 - 0.1 * 0.5), rtol=1e-6)


def test_adamw_keeps_its_exclusions_through_serialization():
    optimizer = adamw(learning_rate=TransformerSchedule(8, warmup_steps=10), clipnorm=1.0)
    config = json.loads(json.dumps(keras.optimizers.serialize(optimizer)))
    restored = keras.optimizers.deserialize(config)
    assert isinstance(restored, keras.optimizers.AdamW)
    assert (restored.beta_2, restored.epsilon, restored.clipnorm) == (0.98, 1e-9, 1.0)
    # The schedule survives too: the rate of the first step, not a constant.
    np.testing.assert_allclose(float(restored.learning_rate), 8**-0.5 * 10**-1.5, rtol=1e-6)
    changed = step_with_zero_gradients(restored, tiny_encoder_variables())
    assert all(moved == path.endswith("/kernel") for path, moved in changed.items())


def test_paper_adam_uses_the_papers_constants():
    schedule = TransformerSchedule(hidden_dim=16)
    optimizer = paper_adam(schedule)
    assert type(optimizer) is keras.optimizers.Adam
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.98, 1e-9)
    np.testing.assert_allclose(float(optimizer.learning_rate), float(schedule(0)))


def test_adamw_rejects_a_bad_weight_decay():
    with pytest.raises(ValueError, match="Received: weight_decay=1.5"):
        adamw(learning_rate=1e-3, weight_decay=1.5)


def test_docstring_examples_run():
    from transformer_keras.optimization import optimizers

    assert doctest.testmod(optimizers).failed == 0
