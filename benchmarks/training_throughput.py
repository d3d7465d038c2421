"""Training throughput of the decoder-only LM, three implementations side by side.

    python -m benchmarks.training_throughput [--quick] [--scale N]

For the "small" and "base" sizes of `architectures.SIZES`, in float32 and
mixed bfloat16, with and without XLA (`jit_compile`): tokens per second and
achieved GFLOP/s (`LMSize.train_flops_per_token`) of one optimizer step
(AdamW, sparse cross-entropy on logits) for transformer_keras and for the
same architecture from KerasHub layers, both through `model.fit` on a
cached, prefetched `tf.data` pipeline of random token windows, the two
measured in alternation (see `keras_seconds_per_step`); and for
PyTorch's `TransformerEncoder` (`benchmarks/pytorch_throughput.py`, run in
a process of its own so that TensorFlow's thread pools never compete with
PyTorch's). The figure is the median of the per-step wall times after
warm-up steps that include tracing and compilation.
"""

import time

import numpy as np

from benchmarks import runner
from benchmarks.architectures import SIZES, keras_hub_lm, sizes, transformer_keras_lm
from benchmarks.report import Row, Target

PRECISIONS = ("float32", "mixed_bfloat16")
KERAS_BUILDERS = {"transformer_keras": transformer_keras_lm, "keras_hub": keras_hub_lm}
DISTINCT_BATCHES = 8


def _identity(size, implementation, precision, xla):
    return {
        "benchmark": "train",
        "config": size,
        "implementation": implementation,
        "precision": precision,
        "xla": xla,
    }


TARGETS = [
    Target(
        f"train {size} {precision} xla={xla}: transformer_keras vs keras_hub",
        _identity(size, "transformer_keras", precision, xla),
        _identity(size, "keras_hub", precision, xla),
        "tokens_per_second",
        1.0,
    )
    for size in SIZES
    for precision in PRECISIONS
    for xla in (False, True)
] + [
    Target(
        f"train base: transformer_keras mixed_bfloat16 vs keras_hub float32, xla={xla}",
        _identity("base", "transformer_keras", "mixed_bfloat16", xla),
        _identity("base", "keras_hub", "float32", xla),
        "tokens_per_second",
        1.3,
    )
    for xla in (False, True)
]


def steps(size, settings):
    """(warm-up steps, timed steps): fewer for the slow base size."""
    if settings.quick:
        return 2, 4
    return (3, 24) if size.name == "small" else (2, 6)


def random_windows(size, batch, seed=0):
    """`DISTINCT_BATCHES * batch` windows of `context + 1` random ids in [1, V)."""
    rng = np.random.default_rng(seed)
    return rng.integers(1, size.vocabulary, (DISTINCT_BATCHES * batch, size.context + 1))


def windows_dataset(size, batch):
    """A cached, repeated, prefetched `tf.data` pipeline of `random_windows` pairs."""
    import tensorflow as tf

    windows = random_windows(size, batch).astype("int32")
    return (
        tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:]))
        .batch(batch, drop_remainder=True)
        .cache()
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def _step_end_callback(times):
    """A Keras callback appending the wall time at the end of each training step."""
    import keras

    class StepEnd(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    return StepEnd()


def _compiled(build, size, precision, xla):
    import keras

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(precision)
    try:
        model = build(size)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[],
        jit_compile=xla,
    )
    return model


def keras_seconds_per_step(size, precision, xla, settings, rounds=2):
    """`{implementation: median seconds of one model.fit step}`, measured interleaved.

    Both Keras models are built and warmed up first; then each `fit`s a few
    steps in turn, `rounds` times, so that a change in the machine's load
    hits both alike. The first step of each `fit` call is not counted.
    """
    dataset = windows_dataset(size, settings.batch(size.batch))
    warmup, timed = steps(size, settings)
    fit = dict(epochs=1, verbose=0, shuffle=False)
    models = {
        name: _compiled(build, size, precision, xla) for name, build in KERAS_BUILDERS.items()
    }
    for model in models.values():
        model.fit(dataset, steps_per_epoch=warmup, **fit)
    intervals = {name: [] for name in models}
    for round_index in range(rounds):
        order = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for name in order:
            times = []
            callback = _step_end_callback(times)
            models[name].fit(
                dataset, steps_per_epoch=timed // rounds + 1, callbacks=[callback], **fit
            )
            intervals[name] += np.diff(times).tolist()
    return {name: float(np.median(values)) for name, values in intervals.items()}


def row(size, implementation, precision, xla, seconds, settings, anchors=()):
    tokens_per_second = settings.batch(size.batch) * size.context / seconds
    return Row(
        "train",
        size.name,
        implementation,
        precision,
        xla,
        figures={
            "tokens_per_second": tokens_per_second,
            "gflops": tokens_per_second * size.train_flops_per_token / 1e9,
        },
        anchors=anchors,
        notes=f"batch {settings.batch(size.batch)} x context {size.context}",
    )


def run(settings):
    rows = []
    torch_anchor = {"implementation": "pytorch", "xla": False}
    for size in sizes(settings).values():
        for precision in PRECISIONS:
            for xla in (False, True):
                seconds = keras_seconds_per_step(size, precision, xla, settings)
                for implementation in KERAS_BUILDERS:
                    anchors = (torch_anchor,)
                    if implementation == "transformer_keras":
                        anchors = ({"implementation": "keras_hub"}, torch_anchor)
                    rows.append(
                        row(
                            size,
                            implementation,
                            precision,
                            xla,
                            seconds[implementation],
                            settings,
                            anchors,
                        )
                    )
    return rows + runner.rows_from_fresh_process("pytorch_throughput", settings)


if __name__ == "__main__":
    runner.main(run, TARGETS, description=__doc__.split("\n\n")[0])
