"""Tests of `Backbone`'s LoRA adapters (Keras' own `enable_lora` on query and value).

Construction, masks and caching of the backbone are exercised through the
tasks' harness tests; here: only the adapters train, the loss falls, the
frozen weights stay, a `.keras` file keeps the adapters, and the merged copy
computes what the adapted model computes.
"""

import keras
import numpy as np
import pytest

from tests.harness import to_numpy
from transformer_keras.models import Backbone, TransformerLM

TOKEN_IDS = np.array([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]])


def _adapted_language_model():
    model = TransformerLM.from_preset("tiny", vocabulary_size=40, max_sequence_length=16)
    model.build()
    model.backbone.enable_lora(4)
    return model


def _trained(model):
    """Ten Adam steps on one batch (next-token targets)."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = TOKEN_IDS[:, :-1], TOKEN_IDS[:, 1:]
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=10, batch_size=2, verbose=0)
    return before, model.evaluate(x, y, verbose=0)


def test_only_the_adapters_train_and_the_loss_falls():
    model = _adapted_language_model()
    names = sorted(variable.path.split("/", 1)[1] for variable in model.trainable_weights)
    layers = model.backbone.num_layers
    assert len(names) == 2 * 2 * layers  # A and B of query and value, per layer
    assert all(name.endswith(("lora_kernel_a", "lora_kernel_b")) for name in names)
    frozen = {v.path: to_numpy(v) for v in model.weights if not v.trainable}
    before, after = _trained(model)
    assert after < before
    for variable in model.weights:
        if not variable.trainable:
            np.testing.assert_array_equal(to_numpy(variable), frozen[variable.path])


def test_a_keras_file_keeps_the_adapters(tmp_path):
    model = _adapted_language_model()
    _trained(model)
    model.save(tmp_path / "lora.keras")
    reloaded = keras.saving.load_model(tmp_path / "lora.keras")
    assert reloaded.backbone.lora_rank == 4
    assert len(reloaded.trainable_weights) == len(model.trainable_weights)
    np.testing.assert_allclose(
        to_numpy(reloaded(TOKEN_IDS)), to_numpy(model(TOKEN_IDS)), atol=1e-6
    )


def test_the_merged_copy_computes_what_the_adapted_model_computes():
    model = _adapted_language_model()
    _trained(model)  # B is no longer zero: the adapters change the outputs
    merged = model.with_merged_lora()
    assert merged.backbone.lora_rank is None and not merged.backbone.lora_layers()
    assert len(merged.weights) == len(model.weights) - 2 * 2 * model.backbone.num_layers
    np.testing.assert_allclose(
        to_numpy(merged(TOKEN_IDS)), to_numpy(model(TOKEN_IDS)), atol=1e-5
    )


def test_lora_is_enabled_once_with_a_positive_rank():
    backbone = Backbone(30, num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16,
                        max_sequence_length=8)  # fmt: skip
    with pytest.raises(ValueError, match="Received: rank=0"):
        backbone.enable_lora(0)
    backbone.enable_lora(2)  # before `build`: the adapters come with it
    backbone(TOKEN_IDS[:, :4])
    assert len(backbone.lora_layers()) == 2
    with pytest.raises(ValueError, match="already enabled on this backbone. Received: rank=2"):
        backbone.enable_lora(2)
