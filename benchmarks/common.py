"""What every benchmark shares: settings, device detection, timing, peak memory.

A benchmark module exposes `run(settings) -> list[report.Row]` and `TARGETS`;
`python -m benchmarks` runs each in its own process and prints one table
(see `benchmarks.report`). Nothing here imports `keras_hub` or `torch`, so the
tests of these helpers need neither.
"""

import argparse
import dataclasses
import os
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class Settings:
    """How big a run is.

    Attributes:
        quick: smoke run: tiny sizes and one or two timed repeats, for checking
            that every benchmark runs (its numbers mean nothing).
        scale: factor on every batch size (e.g. 8 on a GPU); models are
            unchanged, so ratios stay comparable.
        device: `detect_device()` of this machine.
    """

    quick: bool = False
    scale: int = 1
    device: dict = dataclasses.field(default_factory=dict)

    def batch(self, size):
        """A batch size of the issue's recipe, scaled by `--scale`."""
        return size * self.scale

    def pick(self, full, quick):
        """`full` for a real run, `quick` for a smoke run."""
        return quick if self.quick else full


def add_arguments(parser):
    """The `--quick` and `--scale` flags shared by every entry point.

    `--device-kind` passes the parent's detected device to a child process, so
    that a PyTorch-only child never starts TensorFlow.
    """
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny sizes, meaningless numbers"
    )
    parser.add_argument(
        "--scale",
        type=_positive_int,
        default=1,
        help="multiply every batch size (e.g. 8 on a GPU); default 1",
    )
    parser.add_argument("--device-kind", choices=("cpu", "gpu"), help=argparse.SUPPRESS)
    return parser


def settings_from(arguments):
    """`Settings` from parsed flags, detecting the device unless it was given."""
    kind = arguments.device_kind
    device = {"kind": kind, "name": kind, "count": 0} if kind else detect_device()
    return Settings(quick=arguments.quick, scale=arguments.scale, device=device)


def arguments_of(settings):
    """The flags that recreate `settings` in a child process."""
    flags = [
        "--scale",
        str(settings.scale),
        "--device-kind",
        settings.device.get("kind", "cpu"),
    ]
    return flags + (["--quick"] if settings.quick else [])


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise argparse.ArgumentTypeError(
            f"`--scale` must be a positive integer. Received: scale={text!r}"
        )
    return value


def detect_device():
    """The device TensorFlow runs on: `{"kind": "gpu"|"cpu", "name", "count"}`.

    Nothing else in the benchmarks assumes a CPU: models run on TensorFlow's
    default device, and PyTorch is moved to CUDA when TensorFlow sees a GPU.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"kind": "gpu", "name": details.get("device_name", "GPU"), "count": len(gpus)}
    return {"kind": "cpu", "name": _cpu_name(), "count": os.cpu_count() or 1}


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "CPU"


def tensorflow_device_name(device):
    """`"GPU:0"` or `"CPU:0"`: where TensorFlow allocates, for memory statistics."""
    return "GPU:0" if device.get("kind") == "gpu" else "CPU:0"


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each timed repeat."""

    seconds: tuple

    @property
    def median(self):
        return float(np.median(self.seconds))

    def percentile_ms(self, q):
        return float(np.percentile(np.asarray(self.seconds) * 1000.0, q))


def time_calls(function, warmup=1, repeats=5):
    """Calls `function()` `warmup` times untimed, then times `repeats` calls.

    `function` must block until its work is done (e.g. end with `.numpy()` or
    a Python float) so that asynchronous execution is not mistaken for speed.

    Returns:
        A `Timing` of the `repeats` calls.
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be at least 1. Received: repeats={repeats}")
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def peak_memory_mb(function, device):
    """Peak bytes TensorFlow's allocator held above its starting point during `function()`.

    Uses the allocator statistics of `tf.config.experimental` (on CPU and GPU
    alike), so it counts tensors only, not Python or the framework itself.
    """
    import tensorflow as tf

    name = tensorflow_device_name(device)
    tf.config.experimental.reset_memory_stats(name)
    start = tf.config.experimental.get_memory_info(name)["current"]
    function()
    peak = tf.config.experimental.get_memory_info(name)["peak"]
    return (peak - start) / 2**20
