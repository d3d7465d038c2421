"""The PyTorch rows of the training-throughput benchmark, in a process without TensorFlow.

    python -m benchmarks.pytorch_throughput [--quick] [--scale N] [--threads N]

`torch.nn.TransformerEncoder` under a causal mask (`architectures.torch_lm`),
same sizes, batches and step counts as `training_throughput`, float32 and
bfloat16 autocast; one step is forward, cross-entropy, backward and AdamW.

`training_throughput` starts this module as a worker (`--worker`) and asks
it for a few steps at a time, in turn with the Keras models, so that the
PyTorch rows are measured in alternation with theirs; the worker runs in a
process of its own because TensorFlow's spinning thread pools in the same
process slow PyTorch down several times. Run alone, as above, it measures
every row in one go, and the rows say so (`Row.alone`).

Threads: `torch.set_num_threads` and `torch.set_num_interop_threads` get
`--threads` (TensorFlow's intra-op and inter-op pools get the same), and so do
`OMP_NUM_THREADS` and `MKL_NUM_THREADS`; `OMP_WAIT_POLICY=PASSIVE` lets an
idle OpenMP thread sleep instead of spinning: on a machine shared with other
processes, spinning barriers made the small model's step 3 to 70 times slower
whenever one of its threads lost its core.

A CPU without bfloat16 instructions (AVX2 only, e.g. AMD Zen 3) leaves
PyTorch's bfloat16 matrix product on a scalar fallback, hundreds of times
slower than float32 (one "base" step would take most of an hour); the
product rates are measured first (`probe`, reported as `peak` rows) and the
bfloat16 rows are skipped when bfloat16 runs below `BFLOAT16_MINIMUM` of the
float32 rate.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from benchmarks import common, runner
from benchmarks.architectures import sizes, torch_lm
from benchmarks.report import Row
from benchmarks.training_throughput import (
    DISTINCT_BATCHES,
    PRECISIONS,
    random_windows,
    row,
    steps,
)

# The bfloat16 rows are measured only where bfloat16 products run at least at
# this share of the float32 rate (where the CPU has bfloat16 instructions they
# run faster than float32; without them, at well under 1 %).
BFLOAT16_MINIMUM = 0.25
PROBE_SIZE = 256


def thread_environment(threads):
    """The environment variables that size PyTorch's OpenMP and MKL pools.

    They must be set before `torch` is imported (a child process gets them
    from its parent).
    """
    return {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def configure_threads(threads):
    """Sets PyTorch's intra-op and inter-op threads; returns `(intra, inter)` in force."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # fixed once inter-op work has started in this process
        pass
    return torch.get_num_threads(), torch.get_num_interop_threads()


def _device(settings):
    import torch

    wants_gpu = settings.device.get("kind") == "gpu"
    return "cuda" if wants_gpu and torch.cuda.is_available() else "cpu"


def matmul_gflops(dtype, settings, size=PROBE_SIZE, repeats=3):
    """GFLOP/s of one `size x size` product in `dtype` ("float32" or "bfloat16")."""
    import torch

    device = _device(settings)
    generator = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(size, size, generator=generator).to(device, getattr(torch, dtype))
        for _ in range(2)
    )

    def product():
        return float((a @ b).float().sum())  # waits for the product

    timing = common.time_calls(product, warmup=1, repeats=repeats)
    return 2 * size**3 / timing.median / 1e9


def probe(settings):
    """`{"float32": GFLOP/s, "bfloat16": GFLOP/s, "threads": [intra, inter]}`."""
    threads = configure_threads(settings.threads)
    return {
        "float32": matmul_gflops("float32", settings),
        "bfloat16": matmul_gflops("bfloat16", settings),
        "threads": list(threads),
    }


def precisions_to_measure(rates):
    """The `PRECISIONS` worth measuring, given the product rates of `probe`."""
    fast_bfloat16 = rates["bfloat16"] >= BFLOAT16_MINIMUM * rates["float32"]
    return tuple(p for p in PRECISIONS if p == "float32" or fast_bfloat16)


def probe_rows(rates):
    """The product rates of `probe` as `peak` rows (why bfloat16 may be missing)."""
    return [
        Row(
            "peak",
            f"matmul {PROBE_SIZE}x{PROBE_SIZE}",
            "pytorch",
            dtype,
            figures={"gflops": rates[dtype]},
            notes=common.describe_threads(*rates["threads"]),
        )
        for dtype in ("float32", "bfloat16")
    ]


class Trainer:
    """One PyTorch model and its AdamW optimizer, stepped on `random_windows`."""

    def __init__(self, size, precision, settings):
        import torch

        torch.manual_seed(0)
        self.size, self.precision = size, precision
        self.device = _device(settings)
        self.model = torch_lm(size).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        batch = settings.batch(size.batch)
        windows = torch.as_tensor(random_windows(size, batch), device=self.device)
        self.batches = windows.reshape(DISTINCT_BATCHES, batch, size.context + 1)
        self.count = 0

    def step(self):
        """One training step; returns its wall time in seconds."""
        import torch
        import torch.nn.functional as F

        start = time.perf_counter()
        ids = self.batches[self.count % DISTINCT_BATCHES]
        self.count += 1
        self.optimizer.zero_grad(set_to_none=True)
        mixed = self.precision == "mixed_bfloat16"
        with torch.autocast(self.device, torch.bfloat16, enabled=mixed):
            logits = self.model(ids[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(
            logits.float().reshape(-1, self.size.vocabulary), ids[:, 1:].reshape(-1)
        )
        loss.backward()
        self.optimizer.step()
        loss.item()  # waits for the step
        return time.perf_counter() - start

    def steps(self, count):
        return [self.step() for _ in range(count)]


def serve(settings, requests, replies):
    """The worker loop: one JSON request per line of `requests`, one JSON reply each.

    `{"probe": true}` -> `probe(settings)`;
    `{"size": name, "precision": p, "warmup": w, "steps": n}` -> `{"seconds": [...]}`,
    the wall times of `n` steps of that model (built, and stepped `w` times
    untimed, on its first request). The loop ends at the end of `requests`.
    """
    trainers = {}
    for line in requests:
        request = json.loads(line)
        if request.get("probe"):
            answer = probe(settings)
        else:
            key = (request["size"], request["precision"])
            if key not in trainers:
                size = sizes(settings)[request["size"]]
                trainers[key] = Trainer(size, request["precision"], settings)
                trainers[key].steps(request["warmup"])
            answer = {"seconds": trainers[key].steps(request["steps"])}
        replies.write(json.dumps(answer) + "\n")
        replies.flush()


def run(settings):
    """Every PyTorch row measured alone, one after the other."""
    os.environ.update(thread_environment(settings.threads))
    rates = probe(settings)
    rows = probe_rows(rates)
    notes = common.describe_threads(*rates["threads"])
    for size in sizes(settings).values():
        for precision in precisions_to_measure(rates):
            warmup, timed = steps(size, settings)
            trainer = Trainer(size, precision, settings)
            trainer.steps(warmup)
            seconds = float(np.median(trainer.steps(timed)))
            common.progress(f"pytorch {size.name} {precision}: {seconds:.3f} s per step")
            rows.append(
                row(
                    size,
                    "pytorch",
                    precision,
                    False,
                    seconds,
                    settings,
                    notes=notes,
                    alone=True,
                )
            )
    return rows


def _worker(argv):
    settings = common.settings_from(
        common.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    )
    replies = sys.stdout
    sys.stdout = sys.stderr  # anything else printed goes to the log, not into the replies
    serve(settings, sys.stdin, replies)


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        _worker([argument for argument in sys.argv[1:] if argument != "--worker"])
    else:
        runner.main(run, description=__doc__.split("\n\n")[0], tensorflow=False)
