"""The hardware ceilings: matrix-multiply GFLOP/s and memory-read GB/s through TensorFlow.

    python -m benchmarks.hardware [--quick]

Times one `n x n` by `n x n` product (`2 n^3` floating-point operations) in
float32 and in bfloat16 inside a `tf.function`, on TensorFlow's default
device, with TensorFlow's kernels (oneDNN on a CPU) and compiled by XLA. The
training rows' GFLOP/s read against these: the share of the machine a model
uses. (On the development CPU, XLA's bfloat16 product runs at about the
float32 rate, half of oneDNN's bfloat16: the ceiling of every mixed-bfloat16
row with XLA.) Also times an XLA-compiled sum over a 512 MB float32
tensor (far larger than any cache): the rate at which the machine streams
memory, the ceiling of one-token decoding, which reads every weight and the
whole KV cache to produce each token (`benchmarks/lm_generation.py`).
"""

from benchmarks import runner
from benchmarks.common import time_calls
from benchmarks.report import Row

DTYPES = ("float32", "bfloat16")


def matmul_gflops(size, dtype, repeats, xla=False):
    """GFLOP/s of a `size x size` matrix product in `dtype` (median of `repeats`)."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_normal((size, size), seed=(0, 1)), dtype)
    b = tf.cast(tf.random.stateless_normal((size, size), seed=(0, 2)), dtype)

    @tf.function(jit_compile=xla)
    def product_sum(a, b):
        # The sum needs every entry, so no part of the product can be skipped.
        return tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))

    timing = time_calls(lambda: product_sum(a, b).numpy(), warmup=2, repeats=repeats)
    return 2 * size**3 / timing.median / 1e9


def read_bandwidth_gbps(megabytes=512, repeats=5):
    """GB/s of an XLA-compiled `reduce_sum` over `megabytes` of float32 (median)."""
    import tensorflow as tf

    values = tf.ones([megabytes * 2**20 // 4], tf.float32)

    @tf.function(jit_compile=True)
    def total(values):
        return tf.reduce_sum(values)

    timing = time_calls(lambda: total(values).numpy(), warmup=2, repeats=repeats)
    return megabytes * 2**20 / timing.median / 1e9


def run(settings):
    size = settings.pick(full=2048, quick=256)
    repeats = settings.pick(full=10, quick=2)
    return [
        Row(
            "peak",
            f"matmul {size}x{size}",
            "tensorflow",
            dtype,
            xla=xla,
            figures={"gflops": matmul_gflops(size, dtype, repeats, xla)},
        )
        for xla in (False, True)
        for dtype in DTYPES
    ] + [
        Row(
            "peak",
            "memory read",
            "tensorflow",
            "float32",
            xla=True,
            figures={"gbps": read_bandwidth_gbps(settings.pick(full=512, quick=64), repeats)},
        )
    ]


if __name__ == "__main__":
    runner.main(run, description=__doc__.split("\n\n")[0])
