"""Attention memory and time against sequence length, dense and query-chunked.

    python -m benchmarks.attention_memory [--quick] [--scale N]

One causal `MultiHeadAttention` layer (4 heads of 64, batch 1) on sequences
of 512 to 8192 tokens, forward only and forward + backward (gradients of the
weights and the input), in a `tf.function` on TensorFlow's default device.
"dense" holds the `(B, N, T, T)` score matrix; "chunked" is the same layer
with `attention_chunk_size=512` (`layers/chunked_attention.py`), which holds
one `(B, N, 512, T)` block at a time. Peak memory is the growth of
TensorFlow's allocator during one call (`common.peak_memory_mb`); time is the
median of a few calls. The summary gives the crossovers: the shortest length
from which the chunked path is at least as fast (and as small) as the dense one.
"""

import os

from benchmarks import runner
from benchmarks.common import peak_memory_mb, time_calls
from benchmarks.report import Row

NUM_HEADS, HEAD_SIZE = 4, 64
PASSES = ("forward", "train")
# Peak memory of the dense path in multiples of one float32 score matrix
# (measured: about 1.3 forward, 3.3 forward + backward), with headroom.
DENSE_SCORE_COPIES = {"forward": 2, "train": 4}


def _config(length, path, pass_name):
    return f"T={length} {path} {pass_name}"


def _attention_call(length, chunk_size, pass_name, batch):
    """A function running one pass of the layer on fixed random inputs."""
    import keras
    import tensorflow as tf

    from transformer_keras.layers import MultiHeadAttention

    keras.utils.set_random_seed(0)
    layer = MultiHeadAttention(
        num_heads=NUM_HEADS, key_dim=HEAD_SIZE, attention_chunk_size=chunk_size
    )
    inputs = tf.random.stateless_normal((batch, length, NUM_HEADS * HEAD_SIZE), seed=(0, 0))
    layer(inputs[:, :1])  # builds the weights outside the measured function

    @tf.function
    def forward(x):
        return tf.reduce_sum(layer(x, use_causal_mask=True))

    @tf.function
    def train(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, use_causal_mask=True)))
        gradients = tape.gradient(loss, [x, *layer.trainable_weights])
        return tf.add_n([tf.reduce_sum(g) for g in gradients])

    function = forward if pass_name == "forward" else train
    return lambda: function(inputs).numpy()


def _available_mb():
    """Memory the kernel can still give (`MemAvailable`), or `None` if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def dense_fits(length, batch, pass_name, device):
    """Whether the dense path's estimated peak stays under half of the free memory.

    On a shared CPU machine running out of memory would kill other people's
    processes, so a dense length that does not fit is skipped (the summary
    says so). GPUs raise an error instead, so they are not checked.
    """
    if device.get("kind") == "gpu":
        return True
    available = _available_mb()
    scores_mb = batch * NUM_HEADS * length**2 * 4 / 2**20
    return available is None or DENSE_SCORE_COPIES[pass_name] * scores_mb < available / 2


def run(settings):
    lengths = settings.pick(full=(512, 1024, 2048, 4096, 8192), quick=(64, 128))
    chunk_size = settings.pick(full=512, quick=32)
    repeats = settings.pick(full=3, quick=1)
    batch = settings.batch(1)
    rows = []
    for pass_name in PASSES:
        for length in lengths:
            for path, chunk in (("dense", None), ("chunked", chunk_size)):
                if path == "dense" and not dense_fits(
                    length, batch, pass_name, settings.device
                ):
                    continue
                call = _attention_call(length, chunk, pass_name, batch)
                timing = time_calls(call, warmup=1, repeats=repeats)
                memory = peak_memory_mb(call, settings.device)
                rows.append(
                    Row(
                        "attention",
                        _config(length, path, pass_name),
                        "transformer_keras",
                        figures={"peak_memory_mb": memory, "time_ms": timing.median * 1000},
                        anchors=(
                            ({"config": _config(length, "dense", pass_name)},)
                            if path == "chunked"
                            else ()
                        ),
                        notes=f"batch {batch}, {NUM_HEADS} heads of {HEAD_SIZE}, chunk {chunk}",
                    )
                )
    return rows


def crossover(rows, pass_name, figure):
    """Shortest length from which every chunked row is at least as good as dense.

    Returns `None` when chunking is worse at the longest length measured.
    """
    by_config = {row.config: row for row in rows if row.benchmark == "attention"}
    lengths = sorted(
        int(config.split()[0].removeprefix("T="))
        for config in by_config
        if config.endswith(f"dense {pass_name}")
    )
    found = None
    for length in reversed(lengths):
        dense = by_config.get(_config(length, "dense", pass_name))
        chunked = by_config.get(_config(length, "chunked", pass_name))
        if not (dense and chunked and chunked.figures[figure] <= dense.figures[figure]):
            break
        found = length
    return found


def summary(rows):
    configs = {row.config for row in rows if row.benchmark == "attention"}
    lines = [
        f"attention: dense path not run at {config.replace(' chunked', '')} "
        "(estimated peak above half the free memory)"
        for config in sorted(configs)
        if " chunked " in config and config.replace("chunked", "dense") not in configs
    ]
    for pass_name in PASSES:
        for figure, what in (("time_ms", "time"), ("peak_memory_mb", "memory")):
            length = crossover(rows, pass_name, figure)
            found = f"from T = {length} on" if length else "at no length measured"
            lines.append(
                f"attention {pass_name}: chunked at least matches dense on {what} {found}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    # TensorFlow keeps allocator statistics on a CPU with its BFC allocator only,
    # which it picks by itself only where its oneDNN kernels are on by default
    # (CPUs with AVX-512); on an AVX2-only CPU `peak_memory_mb` would fail.
    # Asked for before TensorFlow starts.
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    runner.main(run, summary=summary, description=__doc__.split("\n\n")[0])
