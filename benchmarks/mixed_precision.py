"""Mixed precision correctness: each model, 100 steps, three dtype policies.

    python -m benchmarks.mixed_precision [--quick] [--scale N]

The classifier (SST-2 sentences), the language model (Tiny Shakespeare) and
the translator (Multi30k de -> en), each at its "tiny" preset with a byte
tokenizer and no dropout, train for 100 steps of batch 16 with `model.fit`
(their default loss, Adam at 1e-3) from the same initial weights and the
same batches under `float32`, `mixed_float16` (Keras wraps the optimizer in a
`LossScaleOptimizer`) and `mixed_bfloat16`. Reported: the loss on held-out
batches afterwards, its difference from float32 in percent, and the number
of steps whose running loss was not finite. Targets: no such step, and a
difference of at most 2%.
"""

import numpy as np

from benchmarks import runner
from benchmarks.report import Limit, Row

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
MODELS = ("classifier", "language_model", "translator")
LENGTH = 64  # tokens per sequence
BATCH = 16
HELD_OUT = 4 * BATCH


def _identity(model, precision):
    return {
        "benchmark": "mixed_precision",
        "config": model,
        "implementation": "transformer_keras",
        "precision": precision,
    }


TARGETS = [
    limit
    for model in MODELS
    for precision in PRECISIONS[1:]
    for limit in (
        Limit(
            f"mixed precision {model} {precision}: loss vs float32",
            _identity(model, precision),
            "loss_difference_percent",
            2.0,
        ),
        Limit(
            f"mixed precision {model} {precision}: non-finite steps",
            _identity(model, precision),
            "non_finite_steps",
            0,
        ),
    )
]


def _lines(relative, count):
    from transformer_keras.data.paths import shared_data_file

    with open(shared_data_file(relative), encoding="utf-8") as file:
        return [line.rstrip("\n") for _, line in zip(range(count), file)]


def _examples(model_name, tokenizer, count):
    """`(train, held_out)` pairs of `(inputs, labels)` NumPy arrays for a model.

    The first `count` examples train; the `HELD_OUT` after them (or, for the
    language model, the last windows of the text) measure the loss.
    """
    import tensorflow as tf

    total = count + HELD_OUT

    def encode(texts, **kwargs):
        return tokenizer.encode(tf.constant(texts), LENGTH, **kwargs).numpy()

    if model_name == "language_model":
        from transformer_keras.data.paths import shared_data_file

        text = shared_data_file("tinyshakespeare/input.txt").read_text()
        ids = tokenizer.tokenize(tf.constant(text)).numpy()
        windows = ids[: len(ids) // (LENGTH + 1) * (LENGTH + 1)].reshape(-1, LENGTH + 1)
        inputs, labels = windows[:, :-1], windows[:, 1:]
    elif model_name == "classifier":
        rows = [line.split("\t") for line in _lines("sst2/train.tsv", total + 1)[1:]]
        inputs = encode([sentence for sentence, _ in rows])
        labels = np.array([int(label) for _, label in rows])
    else:
        german, english = _lines("multi30k/train.de", total), _lines("multi30k/train.en", total)
        inputs = {
            "source_ids": encode(german, add_end=True),
            "target_ids": encode(english, add_start=True),
        }
        labels = encode(english, add_end=True)

    def take(data, part):
        return {k: v[part] for k, v in data.items()} if isinstance(data, dict) else data[part]

    train, held_out = slice(0, count), slice(-HELD_OUT, None)
    return (take(inputs, train), take(labels, train)), (
        take(inputs, held_out),
        take(labels, held_out),
    )


def _build(model_name, tokenizer):
    from transformer_keras.models.classifier import TransformerClassifier
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.models.seq2seq import Transformer

    if model_name == "classifier":
        return TransformerClassifier.from_preset(
            "tiny", num_classes=2, tokenizer=tokenizer, dropout=0.0, max_sequence_length=LENGTH
        )
    if model_name == "language_model":
        return TransformerLM.from_preset(
            "tiny", tokenizer=tokenizer, max_sequence_length=LENGTH
        )
    return Transformer.from_preset(
        "tiny", source_tokenizer=tokenizer, dropout=0.0, max_sequence_length=LENGTH
    )


def train_and_evaluate(model_name, precision, steps, tokenizer):
    """`(held-out loss, non-finite steps, loss-scaled)` after `steps` steps."""
    import keras

    class CountNonFinite(keras.callbacks.Callback):
        count = 0

        def on_train_batch_end(self, batch, logs=None):
            self.count += int(not np.isfinite(logs["loss"]))

    (inputs, labels), held_out = _examples(model_name, tokenizer, steps * BATCH)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(precision)
    try:
        model = _build(model_name, tokenizer)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    finally:
        keras.config.set_dtype_policy("float32")
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    counter = CountNonFinite()
    model.fit(
        inputs,
        labels,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[counter],
    )
    loss = model.evaluate(*held_out, batch_size=BATCH, verbose=0, return_dict=True)["loss"]
    return float(loss), counter.count, scaled


def run(settings):
    from transformer_keras.text import ByteTokenizer

    steps = settings.pick(full=100, quick=3)
    tokenizer = ByteTokenizer()
    rows = []
    for model_name in MODELS:
        reference = None
        for precision in PRECISIONS:
            loss, non_finite, scaled = train_and_evaluate(
                model_name, precision, steps, tokenizer
            )
            reference = loss if reference is None else reference
            rows.append(
                Row(
                    "mixed_precision",
                    model_name,
                    "transformer_keras",
                    precision,
                    figures={
                        "loss_difference_percent": abs(loss - reference) / reference * 100,
                        "final_loss": loss,
                        "non_finite_steps": non_finite,
                    },
                    notes=f"{steps} steps of batch {BATCH}; loss scaling: {scaled}",
                )
            )
    return rows


if __name__ == "__main__":
    runner.main(run, TARGETS, description=__doc__.split("\n\n")[0])
