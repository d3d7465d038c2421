"""Where a training step's time goes: TensorFlow profiler op statistics, ours beside KerasHub.

    python -m benchmarks.profile_training --size small --precision mixed_bfloat16
    python -m benchmarks.profile_training --size base --precision float32 --steps 3

Builds the two Keras models of `training_throughput.py` (transformer_keras and
the same architecture from KerasHub layers), warms each up with `model.fit`,
then records `--steps` more `fit` steps of each under
`tf.profiler.experimental` (graph mode; XLA is off, since an XLA step is one
opaque cluster to the profiler). The trace (`.xplane.pb`) is read back and
every TensorFlow op execution is summed by op type and by model part. The
table gives, per training step, the op count and the summed op time of each
op type (milliseconds, summed over the two inter-op threads, so the total can
exceed the wall time of a step), for both models side by side, sorted by the
larger of the two times; then the same by part of the model (attention,
feed-forward, norms, embedding, loss, optimizer, other). On a shared machine
the times carry the load's noise; the counts do not.

The trace directories are kept under `--logdir` (default: a temporary
directory) for TensorBoard's profile plugin or the trace viewer.
"""

import argparse
import collections
import glob
import os
import tempfile

PARTS = (
    ("optimizer", ("adam", "assignvariableop", "assignaddvariableop", "readvariableop")),
    ("attention", ("attention", "multi_head", "multihead")),
    ("feed-forward", ("feedforward", "intermediate", "output_dense", "dense")),
    ("norm", ("norm",)),
    ("embedding", ("embedding",)),
    ("loss", ("loss", "cross_entropy", "crossentropy")),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="small", choices=("small", "base"))
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps per model")
    parser.add_argument("--top", type=int, default=25, help="op types shown")
    parser.add_argument("--logdir", default=None)
    return parser.parse_args(argv)


def op_events(xplane_path):
    """`[(op name, op type, duration ms)]` of every TensorFlow op run in a trace.

    Op executions are the host events named `"<node name>:<op type>"`; the
    other host events (thread-pool bookkeeping, allocations, tf.data) are left
    out.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as file:
        space.ParseFromString(file.read())
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue  # op kernels run on the inter-op threads
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                node, separator, op_type = name.rpartition(":")
                if separator and node and op_type and "/" in node:
                    events.append((node, op_type, event.duration_ps / 1e9))
    return events


def part_of(node_name):
    """The model part a graph node belongs to, from its name scope."""
    lowered = node_name.lower()
    for part, keys in PARTS:
        if any(key in lowered for key in keys):
            return part
    return "other"


def summarize(events, steps):
    """`({op type: (count, ms)}, {part: (count, ms)})` per step."""
    by_type, by_part = (
        collections.defaultdict(lambda: [0, 0.0]),
        collections.defaultdict(lambda: [0, 0.0]),
    )
    for node, op_type, milliseconds in events:
        for table, key in ((by_type, op_type), (by_part, part_of(node))):
            table[key][0] += 1
            table[key][1] += milliseconds
    per_step = {
        name: {key: (count / steps, ms / steps) for key, (count, ms) in table.items()}
        for name, table in (("type", by_type), ("part", by_part))
    }
    return per_step["type"], per_step["part"]


def profile(model, dataset, steps, logdir):
    """Profiles `steps` `fit` steps of a warmed-up model; returns the trace's op events."""
    import tensorflow as tf

    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)  # trace, warm up
    tf.profiler.experimental.start(logdir)
    try:
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    finally:
        tf.profiler.experimental.stop()
    (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    return op_events(path)


def table(title, ours, theirs, top):
    """Side-by-side lines: key, count and ms per step for each model, biggest first."""
    keys = sorted(
        set(ours) | set(theirs),
        key=lambda key: -max(ours.get(key, (0, 0))[1], theirs.get(key, (0, 0))[1]),
    )
    lines = [
        f"{title:<24} | {'transformer_keras':>22} | {'keras_hub':>22}",
        f"{'':<24} | {'ops':>8} {'ms/step':>13} | {'ops':>8} {'ms/step':>13}",
    ]
    for key in keys[:top]:
        count_a, ms_a = ours.get(key, (0, 0.0))
        count_b, ms_b = theirs.get(key, (0, 0.0))
        lines.append(f"{key:<24} | {count_a:8.0f} {ms_a:13.2f} | {count_b:8.0f} {ms_b:13.2f}")
    total_a = [sum(v[i] for v in ours.values()) for i in (0, 1)]
    total_b = [sum(v[i] for v in theirs.values()) for i in (0, 1)]
    lines.append(
        f"{'total':<24} | {total_a[0]:8.0f} {total_a[1]:13.2f} | "
        f"{total_b[0]:8.0f} {total_b[1]:13.2f}"
    )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    from benchmarks.architectures import SIZES
    from benchmarks.training_throughput import KERAS_BUILDERS, _compiled, windows_dataset

    size = SIZES[args.size]
    dataset = windows_dataset(size, size.batch)
    logdir = args.logdir or tempfile.mkdtemp(prefix="profile_training_")
    summaries = {}
    for name, build in KERAS_BUILDERS.items():
        model = _compiled(build, size, args.precision, xla=False)
        events = profile(model, dataset, args.steps, os.path.join(logdir, name))
        summaries[name] = summarize(events, args.steps)
    (ours_type, ours_part), (theirs_type, theirs_part) = (
        summaries["transformer_keras"],
        summaries["keras_hub"],
    )
    print(
        f"op statistics per training step: {args.size}, {args.precision}, no XLA, "
        f"{args.steps} profiled steps each (traces in {logdir})\n"
    )
    print(table("op type", ours_type, theirs_type, args.top))
    print()
    print(table("model part", ours_part, theirs_part, len(PARTS) + 1))


if __name__ == "__main__":
    main()
