"""Keras' distribution API on JAX: `DataParallel` over two CPU devices vs one device.

    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python jax_data_parallel.py

Trains a model built from the zoo's layers (embedding, encoder layer,
decoder layer) and the classifier for 20 steps each, with and without
`keras.distribution.DataParallel`, on the same global batches (dropout off).
Prints one JSON line:

    {"devices": 2, "layers": {"one": [...], "two": [...]}, "classifier": {...},
     "weight_sharding": "...", "data_layout": [...]}
"""

import json

import jax
import keras
import numpy as np

from transformer_keras.layers import DecoderLayer, EncoderLayer, TokenAndPositionEmbedding
from transformer_keras.models.classifier import TransformerClassifier

STEPS = 20
GLOBAL_BATCH = 8
LENGTH = 12


def layers_model():
    token_ids = keras.Input((LENGTH,), dtype="int32")
    padding_mask = keras.ops.not_equal(token_ids, 0)
    hidden = TokenAndPositionEmbedding(50, 16, LENGTH)(token_ids)
    hidden = EncoderLayer(16, 2, 32)(hidden, padding_mask=padding_mask)
    hidden = DecoderLayer(16, 2, 32, cross_attention=False)(hidden, padding_mask=padding_mask)
    logits = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(hidden))
    model = keras.Model(token_ids, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3, global_clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def classifier():
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        vocabulary_size=50,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=LENGTH,
        dropout=0.0,
    )
    # The classifier turns XLA off by default (a TensorFlow-on-CPU choice); on JAX
    # that runs every op eagerly, about 50 times slower.
    model.compile(total_steps=STEPS, learning_rate=2e-3, jit_compile=True)
    return model


def data():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 50, size=(STEPS * GLOBAL_BATCH, LENGTH)).astype("int32")
    token_ids[:, 8:] = 0  # Padding.
    return token_ids, (token_ids[:, 0] % 2).astype("int64")


def step_losses(build, distribution):
    keras.distribution.set_distribution(distribution)
    try:
        keras.utils.set_random_seed(0)
        model = build()
        running_means = []
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: running_means.append(float(logs["loss"]))
        )
        token_ids, labels = data()
        model.fit(
            token_ids,
            labels,
            batch_size=GLOBAL_BATCH,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[record],
        )
        sharding = str(model.trainable_weights[0].value.sharding)
    finally:
        keras.distribution.set_distribution(None)
    # Keras logs the running mean over the epoch; recover each step's own loss.
    means = np.array(running_means)
    counts = np.arange(1, len(means) + 1)
    losses = means * counts - np.concatenate([[0.0], means[:-1] * counts[:-1]])
    return losses.tolist(), sharding


def main():
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    report = {
        "devices": len(jax.devices()),
        "data_layout": list(distribution.get_data_layout((GLOBAL_BATCH, LENGTH)).axes),
    }
    for name, build in (("layers", layers_model), ("classifier", classifier)):
        one, _ = step_losses(build, None)
        two, sharding = step_losses(build, distribution)
        report[name] = {"one": one, "two": two}
        report["weight_sharding"] = sharding
    print(json.dumps(report))


if __name__ == "__main__":
    main()
