"""EncoderLayer and Encoder: harness, padding invariance, implicit masks, final norm.

Equality with the paper's equations is in test_reference.py.
"""

import keras
import numpy as np
import pytest

from tests.harness import run_layer_test
from transformer_keras.layers import Encoder, EncoderLayer, TokenAndPositionEmbedding
from transformer_keras.layers.masks import implicit_mask

B, T, D = 2, 5, 8
TINY = {"hidden_dim": D, "num_heads": 2, "intermediate_dim": 16}
PADDING = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
IDS = np.array([[5, 6, 7, 0, 0], [3, 4, 5, 6, 7]], "int32")


def _inputs(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# ----------------------------------------------------------------------- harness
def test_encoder_layer_harness(rng, tmp_path):
    run_layer_test(
        EncoderLayer,
        {**TINY, "dropout": 0.1, "attention_dropout": 0.1},
        _inputs(rng, B, T, D),
        call_kwargs={"padding_mask": PADDING},
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "method, expected_output_shape, mixed_output_dtype",
    [("call", (B, T, D), None), ("attention_scores", (B, 2, T, T), "float32")],
)
def test_pre_layer_norm_rotary_grouped_swiglu_encoder_layer_harness(
    method, expected_output_shape, mixed_output_dtype, rng, tmp_path
):
    run_layer_test(
        EncoderLayer,
        {
            **TINY,
            "num_key_value_heads": 1,
            "activation": "swiglu",
            "normalize_first": True,
            "use_rotary": True,
        },
        _inputs(rng, B, T, D),
        expected_output_shape=expected_output_shape,
        method=method,
        mixed_output_dtype=mixed_output_dtype,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_harness(normalize_first, rng, tmp_path):
    run_layer_test(
        Encoder,
        {"num_layers": 2, **TINY, "normalize_first": normalize_first},
        _inputs(rng, B, T, D),
        call_kwargs={"padding_mask": PADDING},
        expected_output_shape=(B, T, D),
        tmp_path=tmp_path,
    )


# ------------------------------------------------------------- padding invariance
@pytest.mark.parametrize("layer_class", [EncoderLayer, Encoder])
def test_extra_padding_leaves_real_positions_unchanged(layer_class, rng):
    layer = layer_class(**TINY) if layer_class is EncoderLayer else Encoder(2, **TINY)
    x = _inputs(rng, B, T, D)
    padded = np.concatenate([x, _inputs(rng, B, 3, D)], axis=1)  # 3 junk positions
    mask = np.concatenate([PADDING, np.zeros((B, 3), bool)], axis=1)
    outputs, padded_outputs = np.asarray(layer(x, padding_mask=PADDING)), None
    padded_outputs = np.asarray(layer(padded, padding_mask=mask))
    for row, length in enumerate(PADDING.sum(1)):
        alone = np.asarray(layer(x[row : row + 1, :length]))[0]
        np.testing.assert_allclose(outputs[row, :length], alone, atol=1e-5)
        np.testing.assert_allclose(padded_outputs[row, :length], alone, atol=1e-5)
    # Without the mask the junk does leak in: the test can fail.
    assert np.abs(np.asarray(layer(padded))[:, :T] - outputs)[PADDING].max() > 1e-3


def _embedded_encoder(**encoder_kwargs):
    embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8, pad_id=0)
    return embedding, Encoder(num_layers=2, **TINY, **encoder_kwargs)


def test_implicit_mask_from_the_embedding_flows_into_the_encoder():
    embedding, encoder = _embedded_encoder()
    hidden = embedding(IDS)
    explicit = np.asarray(encoder(hidden, padding_mask=IDS != 0))
    implicit = np.asarray(encoder(embedding(IDS)))
    np.testing.assert_allclose(implicit, explicit, atol=1e-6)
    unmasked = np.asarray(encoder(keras.ops.convert_to_tensor(np.asarray(hidden))))
    assert np.abs(unmasked - explicit)[IDS != 0].max() > 1e-3


def test_explicit_mask_wins_over_the_implicit_one():
    embedding, encoder = _embedded_encoder()
    everything = np.ones_like(IDS, bool)
    overridden = np.asarray(encoder(embedding(IDS), padding_mask=everything))
    expected = np.asarray(encoder(keras.ops.convert_to_tensor(np.asarray(embedding(IDS)))))
    np.testing.assert_allclose(overridden, expected, atol=1e-6)


@pytest.mark.parametrize("functional", [False, True], ids=["eager", "functional"])
def test_implicit_padding_invariance_from_token_ids(functional):
    embedding, encoder = _embedded_encoder()
    if functional:
        ids = keras.Input((None,), dtype="int32")
        model = keras.Model(ids, encoder(embedding(ids)))
    else:

        def model(token_ids):
            return encoder(embedding(token_ids))

    short = np.array([[5, 6, 7]], "int32")
    padded = np.array([[5, 6, 7, 0, 0, 0]], "int32")
    np.testing.assert_allclose(
        np.asarray(model(padded))[:, :3], np.asarray(model(short)), atol=1e-5
    )


def test_encoder_output_keeps_the_mask_for_the_next_layer():
    embedding, encoder = _embedded_encoder()
    outputs = encoder(embedding(IDS))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(implicit_mask(outputs)), IDS != 0)


def test_a_masked_tensor_keeps_its_mask_after_feeding_an_encoder_layer():
    embedding = TokenAndPositionEmbedding(20, D, max_sequence_length=8)
    hidden = embedding(IDS)
    EncoderLayer(**TINY)(hidden)
    assert implicit_mask(hidden) is not None  # a second consumer still sees it


# --------------------------------------------------------------------- the stack
def test_pre_layer_norm_stack_ends_with_a_layer_norm(rng):
    encoder = Encoder(num_layers=2, **TINY, normalize_first=True)
    x = _inputs(rng, B, T, D)
    outputs = np.asarray(encoder(x))
    assert isinstance(encoder.final_norm, keras.layers.LayerNormalization)
    hidden = x
    for layer in encoder.transformer_layers:
        hidden = layer(hidden)
    np.testing.assert_allclose(outputs, encoder.final_norm(hidden), atol=1e-6)
    np.testing.assert_allclose(outputs.mean(-1), 0.0, atol=1e-5)  # fresh gamma=1, beta=0
    np.testing.assert_allclose(outputs.std(-1), 1.0, atol=1e-3)


def test_post_layer_norm_stack_has_no_extra_norm(rng):
    encoder = Encoder(num_layers=2, **TINY)
    x = _inputs(rng, B, T, D)
    hidden = x
    outputs = np.asarray(encoder(x))
    for layer in encoder.transformer_layers:
        hidden = layer(hidden)
    assert isinstance(encoder.final_norm, keras.layers.Identity)
    np.testing.assert_allclose(outputs, hidden, atol=1e-6)
    norms = [w for w in encoder.weights if "norm" in w.path]
    assert len(norms) == 2 * 2 * 2  # 2 layers x 2 blocks x (gamma, beta)


def test_stack_layers_have_their_own_weights(rng):
    encoder = Encoder(num_layers=2, **TINY)
    encoder(_inputs(rng, B, T, D))
    first, second = (layer.get_weights() for layer in encoder.transformer_layers)
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))


def test_stack_config_holds_the_layer_arguments():
    config = Encoder(num_layers=3, **TINY, activation="gelu", name="enc").get_config()
    assert config["num_layers"] == 3 and config["activation"] == "gelu"
    assert config["name"] == "enc"
    restored = Encoder.from_config(config)
    assert len(restored.transformer_layers) == 3
    assert restored.transformer_layers[0].activation == "gelu"


def test_encoder_returns_per_layer_scores(rng):
    encoder = Encoder(num_layers=2, **TINY)
    x = _inputs(rng, B, T, D)
    outputs = encoder(x, padding_mask=PADDING)
    scores = encoder.attention_scores(x, padding_mask=PADDING)
    assert outputs.shape == (B, T, D) and len(scores) == 2
    for layer_scores in scores:
        layer_scores = np.asarray(layer_scores)
        assert layer_scores.shape == (B, 2, T, T)
        np.testing.assert_allclose(layer_scores.sum(-1), 1.0, atol=1e-6)
        assert (layer_scores[0, :, :3, 3:] == 0).all()  # padded keys of real queries


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("layer_class", [EncoderLayer, Encoder])
def test_hidden_dim_not_divisible_by_num_heads_is_a_clear_error(layer_class):
    kwargs = {**TINY, "hidden_dim": 10, "num_heads": 4}
    if layer_class is Encoder:
        kwargs["num_layers"] = 1
    with pytest.raises(
        ValueError, match=r"`hidden_dim`.*`num_heads` \(4\).*Received: hidden_dim=10$"
    ):
        layer_class(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dropout": 1.0}, r"`dropout`.*Received: dropout=1.0$"),
        (
            {"attention_dropout": -0.2},
            r"`attention_dropout`.*Received: attention_dropout=-0.2$",
        ),
        ({"num_heads": 0}, r"`num_heads`.*Received: num_heads=0$"),
        ({"activation": "sigmoid"}, r"`activation`.*Received: activation='sigmoid'$"),
    ],
)
def test_bad_layer_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EncoderLayer(**{**TINY, **kwargs})


def test_bad_number_of_layers_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`num_layers`.*Received: num_layers=0$"):
        Encoder(num_layers=0, **TINY)


def test_padding_mask_that_does_not_fit_names_the_argument(rng):
    with pytest.raises(
        ValueError, match=r"`padding_mask`.*Received: padding_mask.shape=\(2, 4\)"
    ):
        Encoder(num_layers=1, **TINY)(_inputs(rng, B, T, D), padding_mask=np.ones((B, 4), bool))


def test_inputs_of_the_wrong_width_are_a_clear_error(rng):
    with pytest.raises(ValueError, match=r"hidden_dim=8.*Received: inputs.shape=\(2, 5, 6\)"):
        EncoderLayer(**TINY)(_inputs(rng, B, T, 6))
