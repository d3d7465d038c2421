"""The four task models on JAX in a process where TensorFlow cannot be imported.

    KERAS_BACKEND=jax python jax_without_tensorflow.py DATA.npz OUTPUT_DIR

Every `import tensorflow...` fails here (as on a machine without it). From
the token ids of `DATA.npz`, each family is built from its `tiny` preset,
trained one epoch with `model.fit` and its `compile()` defaults, and asked
for predictions; the language model also generates greedily. Each model goes
to `OUTPUT_DIR/<family>.keras`, its predictions to `OUTPUT_DIR/outputs.npz`.
Prints one JSON line:

    {"backend": "jax", "tensorflow_imported": false, "losses": {...},
     "greedy": [[...], ...], "tokenizer_error": "..."}
"""

import json
import math
import sys

from tests.child_processes.no_tensorflow import block, tensorflow_imported

if __name__ == "__main__":  # not when a test imports `GREEDY_PROMPTS`
    block()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from transformer_keras.models import (  # noqa: E402
    MaskedLanguageModel,
    Transformer,
    TransformerClassifier,
    TransformerLM,
)

GREEDY_PROMPTS = [[88, 115], [88, 108, 105]]  # "To", "The" as byte ids


def training_data(ids, labels, vocabulary_size):
    """`{family: (x, y)}` from `(N, T)` token ids: what each model trains on and predicts."""
    positions = np.tile(np.array([[1, 3]]), (len(ids), 1))  # (N, 2) masked slots
    masked = ids.copy()
    np.put_along_axis(masked, positions, vocabulary_size, axis=1)  # the mask id
    return {
        "classifier": (ids, labels),
        "language_model": (ids[:, :-1], ids[:, 1:]),
        "masked_language_model": (
            {"token_ids": masked, "mask_positions": positions},
            np.take_along_axis(ids, positions, axis=1),
        ),
        "translator": ({"source_ids": ids, "target_ids": ids[:, :-1]}, ids[:, 1:]),
    }


def fit(model, x, y):
    model.compile()
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    loss = history.history["loss"][-1]
    assert math.isfinite(loss), loss
    return loss


def main(data_path, output):
    keras.utils.set_random_seed(0)
    data = np.load(data_path)
    ids, labels = data["ids"], data["labels"]  # (N, T) byte ids + 4, padded with 0
    vocabulary = int(data["vocabulary_size"])
    models = {
        "classifier": TransformerClassifier.from_preset(
            "tiny", num_classes=2, vocabulary_size=vocabulary
        ),
        "language_model": TransformerLM.from_preset(
            "tiny", vocabulary_size=vocabulary, max_sequence_length=64
        ),
        "masked_language_model": MaskedLanguageModel.from_preset(
            "tiny", vocabulary_size=vocabulary + 1
        ),
        "translator": Transformer.from_preset(
            "tiny", source_vocabulary_size=vocabulary, max_sequence_length=64
        ),
    }
    inputs = training_data(ids, labels, vocabulary)
    losses, outputs = {}, {}
    for name, model in models.items():
        x, y = inputs[name]
        losses[name] = fit(model, x, y)
        outputs[name] = model.predict(x, verbose=0)
        model.save(f"{output}/{name}.keras")
    np.savez(f"{output}/outputs.npz", **outputs)
    greedy = models["language_model"].generate(GREEDY_PROMPTS, 8, temperature=0.0)
    try:
        from transformer_keras.text import ByteTokenizer  # noqa: F401

        tokenizer_error = None
    except ImportError as error:
        tokenizer_error = str(error)
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "tensorflow_imported": tensorflow_imported(),
                "losses": losses,
                "greedy": greedy,
                "tokenizer_error": tokenizer_error,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
