"""One device vs `MirroredStrategy` over two logical CPUs, on the same global batches.

Trains the classifier and the language model (default `compile()`: AdamW
with gradient clipping and a warmup schedule; dropout off; seeds set with
`set_seed(0, deterministic=True)`) for 20 steps on
one device and on two replicas, then uses the two-replica models (export,
serving, generation). Prints one JSON line:

    {"classifier": {"one": [losses], "two": [losses], "weights_moved": [one, two]},
     "language_model": {...},
     "replica_batch_size": ..., "uneven_error": "...", "replica_shapes": [...],
     "served_probabilities": [[...]], "generated_length": int, "op_determinism": bool}
"""

import json
import sys
import tempfile

from transformer_keras.training.distribute import split_cpu_devices

split_cpu_devices(2)  # Before TensorFlow initializes its devices.

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import config as tf_config  # noqa: E402

from transformer_keras.export.classifier import export_classifier  # noqa: E402
from transformer_keras.export.saved_model import load_saved_model  # noqa: E402
from transformer_keras.models.classifier import TransformerClassifier  # noqa: E402
from transformer_keras.models.language_model import TransformerLM  # noqa: E402
from transformer_keras.text import ByteTokenizer  # noqa: E402
from transformer_keras.training.distribute import (  # noqa: E402
    distribute_dataset,
    replica_batch_size,
)
from transformer_keras.training.reproducibility import set_seed  # noqa: E402

STEPS = 20
GLOBAL_BATCH = 8
ONE_DEVICE = tf.distribute.OneDeviceStrategy("/cpu:0")
TWO_REPLICAS = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def _weights(model):
    return [np.array(weight.numpy()) for weight in model.trainable_weights]


def step_losses(strategy, build, batches):
    """`(model, per-step training losses, largest weight change)` of `build()` made
    under `strategy.scope()`."""
    set_seed(0, deterministic=True)
    with strategy.scope():
        model = build()
    running_means, initial = [], []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: initial.extend(_weights(model)),  # Built by now.
        on_train_batch_end=lambda batch, logs: running_means.append(float(logs["loss"])),
    )
    model.fit(batches, epochs=1, steps_per_epoch=STEPS, verbose=0, callbacks=[record])
    # Keras logs the running mean over the epoch; recover each step's own loss.
    means = np.array(running_means)
    counts = np.arange(1, len(means) + 1)
    steps = means * counts - np.concatenate([[0.0], means[:-1] * counts[:-1]])
    moved = max(float(np.abs(a - b).max()) for a, b in zip(_weights(model), initial))
    return model, steps.tolist(), moved


def classifier():
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        tokenizer=ByteTokenizer(),
        label_names=["no", "yes"],
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=16,
        dropout=0.0,
    )
    model.compile(total_steps=STEPS, learning_rate=2e-3)
    return model


def classifier_batches():
    words = np.array(["good", "bad", "fine", "awful", "not", "very", "film", "plot"])
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(160)]
    labels = np.array([("good" in text or "fine" in text) for text in texts], "int64")
    token_ids = ByteTokenizer().encode(tf.constant(texts), sequence_length=16)
    return tf.data.Dataset.from_tensor_slices((token_ids, labels)).batch(GLOBAL_BATCH)


def language_model():
    model = TransformerLM.from_arguments(
        vocabulary_size=40,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=12,
        dropout=0.0,
    )
    model.compile(total_steps=STEPS)
    return model


def language_model_batches():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 40, size=(STEPS * GLOBAL_BATCH, 13)).astype("int32")  # No padding.
    return tf.data.Dataset.from_tensor_slices((ids[:, :-1], ids[:, 1:])).batch(GLOBAL_BATCH)


def main():
    report = {}
    for name, build, batches in (
        ("classifier", classifier, classifier_batches()),
        ("language_model", language_model, language_model_batches()),
    ):
        _, one, one_moved = step_losses(ONE_DEVICE, build, batches)
        model, two, two_moved = step_losses(TWO_REPLICAS, build, batches)
        report[name] = {"one": one, "two": two, "weights_moved": [one_moved, two_moved]}
        if name == "classifier":
            path = export_classifier(model, tempfile.mkdtemp() + "/classifier")
            serve = load_saved_model(path).signatures["serving_default"]
            outputs = serve(text=tf.constant(["good film", "awful plot"]))
            report["served_probabilities"] = outputs["probabilities"].numpy().tolist()
        else:
            generated = model.generate([4, 5, 6], max_new_tokens=3, temperature=0.0)
            report["generated_length"] = len(generated)

    # TensorFlow exports no public getter for the flag `set_seed` sets.
    report["op_determinism"] = bool(tf_config.is_op_determinism_enabled())
    report["replica_batch_size"] = replica_batch_size(GLOBAL_BATCH, TWO_REPLICAS)
    try:
        replica_batch_size(7, TWO_REPLICAS)
    except ValueError as error:
        report["uneven_error"] = str(error)
    distributed = distribute_dataset(classifier_batches(), TWO_REPLICAS)
    token_ids, _ = next(iter(distributed))
    report["replica_shapes"] = [
        list(part.shape) for part in TWO_REPLICAS.experimental_local_results(token_ids)
    ]
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
