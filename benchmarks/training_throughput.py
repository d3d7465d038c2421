"""Training throughput of the decoder-only LM, three implementations side by side.

    python -m benchmarks.training_throughput [--quick] [--scale N]

For the "small" and "base" sizes of `architectures.SIZES`, in float32 and
mixed bfloat16, with and without XLA (`jit_compile`): tokens per second and
achieved GFLOP/s (`LMSize.train_flops_per_token`) of one optimizer step
(AdamW, sparse cross-entropy on logits) for transformer_keras and for the
same architecture from KerasHub layers, both through `model.fit` on a
cached, prefetched `tf.data` pipeline of random token windows; and for
PyTorch's `TransformerEncoder` (float32 and bfloat16 autocast; PyTorch has
no XLA row). The figure is the median of the per-step wall times after
warm-up steps that include tracing and compilation.
"""

import os
import time

import numpy as np

from benchmarks import runner
from benchmarks.architectures import SIZES, keras_hub_lm, sizes, torch_lm, transformer_keras_lm
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


def _steps(size, settings):
    """(warm-up steps, timed steps): fewer for the slow base size."""
    if settings.quick:
        return 2, 3
    return (3, 12) if size.name == "small" else (2, 6)


def _random_windows(size, batch, seed=0):
    """`DISTINCT_BATCHES * batch` windows of `context + 1` random ids in [1, V)."""
    rng = np.random.default_rng(seed)
    return rng.integers(1, size.vocabulary, (DISTINCT_BATCHES * batch, size.context + 1))


class _StepTimer:
    """Records the wall time at the end of every training step."""

    def __init__(self):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(inner, batch, logs=None):
                self.times.append(time.perf_counter())

        self.times = []
        self.callback = Callback()

    def median_step_seconds(self):
        return float(np.median(np.diff(self.times)))


def keras_seconds_per_step(build, size, precision, xla, settings):
    """Median seconds of one `model.fit` step of the model `build(size)`."""
    import keras
    import tensorflow as tf

    batch = settings.batch(size.batch)
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
    windows = _random_windows(size, batch).astype("int32")
    dataset = (
        tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:]))
        .batch(batch, drop_remainder=True)
        .cache()
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    warmup, steps = _steps(size, settings)
    fit = dict(epochs=1, verbose=0, shuffle=False)
    model.fit(dataset, steps_per_epoch=warmup, **fit)
    timer = _StepTimer()
    model.fit(dataset, steps_per_epoch=steps + 1, callbacks=[timer.callback], **fit)
    return timer.median_step_seconds()


def torch_seconds_per_step(size, precision, settings):
    """Median seconds of one PyTorch step (forward, backward, AdamW)."""
    import torch
    import torch.nn.functional as F

    from benchmarks.common import time_calls

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    device = (
        "cuda" if settings.device.get("kind") == "gpu" and torch.cuda.is_available() else "cpu"
    )
    model = torch_lm(size).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = settings.batch(size.batch)
    windows = torch.as_tensor(_random_windows(size, batch), device=device)
    batches = windows.reshape(DISTINCT_BATCHES, batch, size.context + 1)
    counter = iter(range(10**9))

    def step():
        ids = batches[next(counter) % DISTINCT_BATCHES]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, torch.bfloat16, enabled=precision == "mixed_bfloat16"):
            logits = model(ids[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(
            logits.float().reshape(-1, size.vocabulary), ids[:, 1:].reshape(-1)
        )
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the step

    warmup, steps = _steps(size, settings)
    return time_calls(step, warmup=warmup, repeats=steps).median


def _row(size, implementation, precision, xla, seconds, settings, anchors):
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
                for implementation, build in KERAS_BUILDERS.items():
                    seconds = keras_seconds_per_step(build, size, precision, xla, settings)
                    anchors = (torch_anchor,)
                    if implementation == "transformer_keras":
                        anchors = ({"implementation": "keras_hub"}, torch_anchor)
                    rows.append(
                        _row(size, implementation, precision, xla, seconds, settings, anchors)
                    )
            seconds = torch_seconds_per_step(size, precision, settings)
            rows.append(_row(size, "pytorch", precision, False, seconds, settings, ()))
    return rows


if __name__ == "__main__":
    runner.main(run, TARGETS, description=__doc__.split("\n\n")[0])
