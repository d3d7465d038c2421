"""Training throughput of the decoder-only LM, three implementations side by side.

    python -m benchmarks.training_throughput [--quick] [--scale N]

For the "small" and "base" sizes of `architectures.SIZES`, in float32 and
mixed bfloat16, with and without XLA (`jit_compile`): tokens per second and
achieved GFLOP/s (`LMSize.train_flops_per_token`) of one optimizer step
(AdamW, sparse cross-entropy on logits) for transformer_keras and for the
same architecture from KerasHub layers, both through `model.fit` on a
cached, prefetched `tf.data` pipeline of random token windows; and for
PyTorch's `TransformerEncoder` (`benchmarks/pytorch_throughput.py`, in a
worker process of its own so that TensorFlow's thread pools never compete
with PyTorch's). The three take turns (`interleaved_step_seconds`): a few
steps of each, repeated, so that a change in the machine's load hits them
alike. The figure is the median of the per-step wall times after warm-up
steps that include tracing and compilation. TensorFlow and PyTorch get the
same `--threads` for their intra-op and inter-op pools; each row's notes say
how many it had. PyTorch is not compiled (no `torch.compile`: eager mode,
as KerasHub's anchor rows without XLA), and it has no XLA rows: its turns
of one size and precision are pooled over the Keras runs with and without
XLA.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks import common, runner
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


def interleaved_step_seconds(size, precision, xla, settings, rounds=2, torch=None):
    """`{implementation: [seconds of each timed step]}`, measured in turns.

    Both Keras models are built and warmed up first; then each `fit`s a few
    steps in turn, `rounds` times, the order reversed every round, so that a
    change in the machine's load hits both alike. The first step of each
    `fit` call is not counted. With `torch` (a `TorchWorker`), PyTorch takes
    a turn in every round too, under the key "pytorch".
    """
    dataset = windows_dataset(size, settings.batch(size.batch))
    warmup, timed = steps(size, settings)
    fit = dict(epochs=1, verbose=0, shuffle=False)
    models = {
        name: _compiled(build, size, precision, xla) for name, build in KERAS_BUILDERS.items()
    }
    for model in models.values():
        model.fit(dataset, steps_per_epoch=warmup, **fit)

    def keras_turn(name):
        times = []
        callback = _step_end_callback(times)
        models[name].fit(
            dataset, steps_per_epoch=timed // rounds + 1, callbacks=[callback], **fit
        )
        return np.diff(times).tolist()

    def torch_turn():
        # Each size and precision gets 2 * rounds PyTorch turns (with and
        # without XLA): about `timed` steps in all, as each Keras model.
        return torch.steps(size, precision, warmup, turn_steps(timed, 2 * rounds))

    turns = {name: (lambda name=name: keras_turn(name)) for name in models}
    if torch is not None:
        turns["pytorch"] = torch_turn
    intervals = {name: [] for name in turns}
    for round_index in range(rounds):
        order = list(turns) if round_index % 2 == 0 else list(turns)[::-1]
        for name in order:
            intervals[name] += turns[name]()
    return intervals


def turn_steps(timed, turns):
    """Steps per PyTorch turn so that `turns` turns make about `timed` steps."""
    return max(1, -(-timed // turns))


class TorchWorker:
    """`benchmarks.pytorch_throughput --worker` in a process of its own, stepped on demand.

    It starts with `pytorch_throughput.thread_environment(settings.threads)`
    and writes its log to `benchmarks/results/logs/pytorch_throughput.log`.
    Raises a `RuntimeError` (with the end of that log) if it ends early, e.g.
    when PyTorch is not installed (`pip install -e ".[bench]"`).
    """

    def __init__(self, settings):
        from benchmarks.pytorch_throughput import thread_environment

        runner.LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = runner.LOGS / "pytorch_throughput.log"
        self.log = open(self.log_path, "w")
        command = [sys.executable, "-m", "benchmarks.pytorch_throughput", "--worker"]
        self.process = subprocess.Popen(
            command + common.arguments_of(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **thread_environment(settings.threads)},
        )

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            status = self.process.wait()
            self.log.flush()
            tail = "\n".join(self.log_path.read_text().splitlines()[-20:])
            raise RuntimeError(
                f"the PyTorch worker ended (exit {status}); end of {self.log_path}:\n{tail}"
            )
        return json.loads(line)

    def probe(self):
        """The worker's `pytorch_throughput.probe`: product rates and threads."""
        return self.ask(probe=True)

    def steps(self, size, precision, warmup, count):
        """Wall seconds of `count` PyTorch steps (after `warmup` on the first call)."""
        reply = self.ask(size=size.name, precision=precision, warmup=warmup, steps=count)
        return reply["seconds"]

    def close(self):
        """Ends the worker (it stops at the end of its input) and closes the log."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=120)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self.log.close()


def row(
    size,
    implementation,
    precision,
    xla,
    seconds,
    settings,
    anchors=(),
    notes="",
    alone=False,
):
    """A `train` row from the median `seconds` of one step; `notes` are appended."""
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
        notes="; ".join(
            part
            for part in (f"batch {settings.batch(size.batch)} x context {size.context}", notes)
            if part
        ),
        alone=alone,
    )


def run(settings):
    from benchmarks import pytorch_throughput

    keras_notes = common.describe_threads(*common.set_tensorflow_threads(settings.threads))
    common.progress(f"TensorFlow: {keras_notes}")
    torch = TorchWorker(settings)
    try:
        rates = torch.probe()
        torch_notes = common.describe_threads(*rates["threads"])
        common.progress(
            f"PyTorch: {torch_notes}; products {rates['float32']:.1f} GFLOP/s float32, "
            f"{rates['bfloat16']:.1f} bfloat16"
        )
        torch_precisions = pytorch_throughput.precisions_to_measure(rates)
        rows, torch_seconds = pytorch_throughput.probe_rows(rates), {}
        torch_anchor = {"implementation": "pytorch", "xla": False}
        for size in sizes(settings).values():
            for precision in PRECISIONS:
                with_torch = torch if precision in torch_precisions else None
                for xla in (False, True):
                    started = time.perf_counter()
                    seconds = interleaved_step_seconds(
                        size, precision, xla, settings, torch=with_torch
                    )
                    torch_seconds.setdefault((size, precision), [])
                    torch_seconds[(size, precision)] += seconds.pop("pytorch", [])
                    for implementation in KERAS_BUILDERS:
                        anchors = (torch_anchor,)
                        if implementation == "transformer_keras":
                            anchors = ({"implementation": "keras_hub"}, torch_anchor)
                        median = float(np.median(seconds[implementation]))
                        rows.append(
                            row(
                                size,
                                implementation,
                                precision,
                                xla,
                                median,
                                settings,
                                anchors,
                                keras_notes,
                            )
                        )
                    common.progress(
                        f"{size.name} {precision} xla={'yes' if xla else 'no'}"
                        f"{' with pytorch' if with_torch else ''}: "
                        f"{time.perf_counter() - started:.0f} s"
                    )
        for (size, precision), values in torch_seconds.items():
            if values:
                median = float(np.median(values))
                rows.append(
                    row(size, "pytorch", precision, False, median, settings, notes=torch_notes)
                )
    finally:
        torch.close()
    return rows


def summary(rows):
    """Which PyTorch rows are missing and why, and the threads each framework had."""
    from benchmarks.report import find_row

    def pytorch(benchmark, precision):
        criteria = {"benchmark": benchmark, "implementation": "pytorch", "precision": precision}
        return find_row(rows, criteria)

    lines = []
    float32, bfloat16 = pytorch("peak", "float32"), pytorch("peak", "bfloat16")
    if float32 and bfloat16 and pytorch("train", "mixed_bfloat16") is None:
        lines.append(
            "train pytorch mixed_bfloat16: not measured: PyTorch multiplies bfloat16 "
            f"matrices at {bfloat16.figures['gflops']:.1f} GFLOP/s on this CPU against "
            f"{float32.figures['gflops']:.1f} in float32 (no bfloat16 instructions)"
        )
    for implementation in (*KERAS_BUILDERS, "pytorch"):
        found = find_row(rows, {"benchmark": "train", "implementation": implementation})
        if found is not None:
            lines.append(f"train {implementation}: {found.notes}")
    return "\n".join(lines)


if __name__ == "__main__":
    runner.main(run, TARGETS, summary=summary, description=__doc__.split("\n\n")[0])
