"""TokenAndPositionEmbedding: harness, scaling, tied projection, the Keras mask."""

import math

import keras
import numpy as np
import pytest

from tests.harness import run_layer_test
from transformer_keras.layers import TokenAndPositionEmbedding
from transformer_keras.layers.masks import implicit_mask

V, D, MAX_LENGTH = 20, 8, 8
IDS = np.array([[5, 6, 7, 0, 0], [3, 4, 5, 6, 7]], "int32")


def _embedding(**kwargs):
    return TokenAndPositionEmbedding(
        **{"vocabulary_size": V, "hidden_dim": D, "max_sequence_length": MAX_LENGTH, **kwargs}
    )


def _table(layer):
    return layer.token_embedding.embeddings.numpy()


# ----------------------------------------------------------------------- harness
@pytest.mark.parametrize(
    "position, embedding_norm",
    [("learned", False), ("sinusoidal", False), ("learned", True)],
)
def test_harness(position, embedding_norm, tmp_path):
    run_layer_test(
        TokenAndPositionEmbedding,
        {
            "vocabulary_size": V,
            "hidden_dim": D,
            "max_sequence_length": MAX_LENGTH,
            "position": position,
            "embedding_norm": embedding_norm,
            "dropout": 0.1,
        },
        IDS,
        expected_output_shape=(2, 5, D),
        tmp_path=tmp_path,
    )


def test_reverse_harness(rng, tmp_path):
    run_layer_test(
        TokenAndPositionEmbedding,
        # No position table: the reverse projection does not use it.
        {
            "vocabulary_size": V,
            "hidden_dim": D,
            "max_sequence_length": MAX_LENGTH,
            "position": "none",
        },
        rng.normal(size=(2, 5, D)).astype("float32"),
        call_kwargs={"reverse": True},
        expected_output_shape=(2, 5, V),
        mixed_output_dtype="float32",  # logits stay float32 for the loss
        tmp_path=tmp_path,
    )


# --------------------------------------------------------------------- equations
@pytest.mark.parametrize("position", ["learned", "sinusoidal", "rotary", "none"])
def test_output_is_scaled_token_embedding_plus_positions(position):
    layer = _embedding(position=position)
    outputs = np.asarray(layer(IDS, start_index=1))
    expected = _table(layer)[IDS] * math.sqrt(D)
    if layer.position_embedding is not None:
        expected = expected + np.asarray(layer.position_embedding(expected, start_index=1))
    else:
        assert position in ("rotary", "none")  # positions live in attention, or nowhere
    np.testing.assert_allclose(outputs, expected, atol=1e-6)


def test_the_embedding_norm_normalizes_the_sum_with_its_epsilon(rng):
    layer = _embedding(position="learned", embedding_norm=True, layer_norm_epsilon=1e-12)
    layer(IDS)
    gamma, beta = rng.normal(size=(2, D))
    layer.norm.gamma.assign(gamma)
    layer.norm.beta.assign(beta)
    total = np.float64(_table(layer)[IDS]) * math.sqrt(D)
    total = total + np.float64(layer.position_embedding.embeddings.numpy())[: IDS.shape[1]]
    mean = total.mean(-1, keepdims=True)
    variance = total.var(-1, keepdims=True)
    expected = (total - mean) / np.sqrt(variance + 1e-12) * gamma + beta
    np.testing.assert_allclose(layer(IDS), expected, atol=1e-5)
    assert layer.norm.epsilon == 1e-12


def test_without_scaling_the_output_is_the_table_row():
    layer = _embedding(position="none", scale_embeddings=False)
    np.testing.assert_allclose(layer(IDS), _table(layer)[IDS], atol=0)


def test_reverse_projects_with_the_tied_token_table(rng):
    layer = _embedding()
    layer(IDS)
    hidden = rng.normal(size=(2, 5, D)).astype("float32")
    logits = np.asarray(layer(hidden, reverse=True))
    np.testing.assert_allclose(logits, hidden @ _table(layer).T, atol=1e-5)
    assert len(layer.trainable_weights) == 2  # token table (shared) + position table


def test_default_initializer_gives_unit_variance_after_scaling():
    layer = TokenAndPositionEmbedding(4000, 64, max_sequence_length=4, position="none")
    layer(np.zeros((1, 1), "int32"))
    assert np.std(_table(layer) * math.sqrt(64)) == pytest.approx(1.0, rel=0.05)


def test_dropout_is_active_only_when_training():
    layer = _embedding(dropout=0.5)
    inference = np.asarray(layer(IDS))
    np.testing.assert_allclose(layer(IDS, training=False), inference)
    assert np.abs(np.asarray(layer(IDS, training=True)) - inference).max() > 1e-3


# -------------------------------------------------------------------------- mask
def test_keras_mask_is_true_at_real_tokens():
    layer = _embedding()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(implicit_mask(layer(IDS))), IDS != 0
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.padding_mask(IDS)), IDS != 0)


def test_pad_id_moves_the_mask_and_none_disables_it():
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(implicit_mask(_embedding(pad_id=5)(IDS))), IDS != 5
    )
    assert implicit_mask(_embedding(pad_id=None)(IDS)) is None
    assert implicit_mask(_embedding()(np.zeros((1, 2, D), "float32"), reverse=True)) is None


def test_reverse_projection_leaves_the_mask_of_the_hidden_state():
    layer = _embedding()
    hidden = layer(IDS)
    layer(hidden, reverse=True)
    assert implicit_mask(hidden) is not None


def test_functional_model_carries_the_mask():
    ids = keras.Input((5,), dtype="int32")
    hidden = _embedding()(ids)
    assert implicit_mask(hidden) is not None
    assert tuple(implicit_mask(hidden).shape) == (None, 5)


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("length, start_index, received", [(9, 0, 9), (4, 6, 10)])
def test_sequence_longer_than_the_table_is_a_clear_error(length, start_index, received):
    layer = _embedding()
    with pytest.raises(
        ValueError, match=rf"max_sequence_length=8.*Received: sequence_length={received}\b"
    ):
        layer(np.ones((1, length), "int32"), start_index=start_index)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"position": "relative"}, r"`position`.*Received: position='relative'$"),
        ({"dropout": 1.0}, r"`dropout`.*Received: dropout=1.0$"),
        ({"dropout": -0.1}, r"`dropout`.*Received: dropout=-0.1$"),
        ({"vocabulary_size": 0}, r"`vocabulary_size`.*Received: vocabulary_size=0$"),
        ({"hidden_dim": None}, r"`hidden_dim`.*Received: hidden_dim=None$"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _embedding(**kwargs)
