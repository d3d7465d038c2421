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
        threads: the intra-op and the inter-op threads of every framework
            (TensorFlow's two pools, PyTorch's `set_num_threads` and
            `set_num_interop_threads`): the cores this process may use unless
            `--threads` says otherwise, the same for every implementation.
    """

    quick: bool = False
    scale: int = 1
    device: dict = dataclasses.field(default_factory=dict)
    threads: int = dataclasses.field(default_factory=lambda: available_cores())

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
        type=_positive_int_named("scale"),
        default=1,
        help="multiply every batch size (e.g. 8 on a GPU); default 1",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int_named("threads"),
        default=None,
        help="intra-op and inter-op threads of TensorFlow and PyTorch alike; "
        f"default: the cores this process may use ({available_cores()} here)",
    )
    parser.add_argument("--device-kind", choices=("cpu", "gpu"), help=argparse.SUPPRESS)
    return parser


def settings_from(arguments):
    """`Settings` from parsed flags, detecting the device unless it was given."""
    kind = arguments.device_kind
    device = {"kind": kind, "name": kind, "count": 0} if kind else detect_device()
    threads = arguments.threads or available_cores()
    return Settings(
        quick=arguments.quick, scale=arguments.scale, device=device, threads=threads
    )


def arguments_of(settings):
    """The flags that recreate `settings` in a child process."""
    flags = [
        "--scale",
        str(settings.scale),
        "--threads",
        str(settings.threads),
        "--device-kind",
        settings.device.get("kind", "cpu"),
    ]
    return flags + (["--quick"] if settings.quick else [])


def _positive_int_named(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise argparse.ArgumentTypeError(
                f"`--{name}` must be a positive integer. Received: {name}={text!r}"
            )
        return value

    return parse


def available_cores():
    """The cores this process may run on (its affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_tensorflow_threads(threads):
    """Sizes TensorFlow's intra-op and inter-op pools; returns `(intra, inter)` in force.

    TensorFlow fixes its pools when its runtime starts, so call this before
    any op runs; once it has started (e.g. inside a test session) the sizes
    it already has are returned unchanged.
    """
    import tensorflow as tf

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime has started: its pools are fixed
        pass
    return (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )


def describe_threads(intra, inter):
    """`"threads 2 intra-op / 2 inter-op"` (0, TensorFlow's "default", shows as such)."""

    def shown(count):
        return str(count) if count else "default"

    return f"threads {shown(intra)} intra-op / {shown(inter)} inter-op"


PROGRESS = "[progress] "


def progress(message):
    """Prints one progress line to stdout at once.

    `python -m benchmarks` shows these lines of a module on its console while
    the rest of the module's output goes to its log (`runner.run_logged`).
    """
    print(f"{PROGRESS}{message}", flush=True)


def load_average():
    """The 1, 5 and 15-minute load averages of the machine (`/proc/loadavg`), or `None`."""
    try:
        with open("/proc/loadavg") as file:
            return tuple(float(value) for value in file.read().split()[:3])
    except (OSError, ValueError):
        return None


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


def weight_bytes(model):
    """The bytes of a model's variables, each at its own dtype (int8 counts one)."""
    return sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)


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
