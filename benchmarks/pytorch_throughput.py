"""The PyTorch rows of the training-throughput benchmark, in a process without TensorFlow.

    python -m benchmarks.pytorch_throughput [--quick] [--scale N]

`torch.nn.TransformerEncoder` under a causal mask (`architectures.torch_lm`),
same sizes, batches and step counts as `training_throughput`, float32 and
bfloat16 autocast; one step is forward, cross-entropy, backward and AdamW.
`training_throughput` runs this module in a fresh interpreter: TensorFlow's
spinning thread pools in the same process slow PyTorch down several times.
"""

import os

from benchmarks import runner
from benchmarks.architectures import sizes, torch_lm
from benchmarks.common import time_calls
from benchmarks.training_throughput import (
    DISTINCT_BATCHES,
    PRECISIONS,
    random_windows,
    row,
    steps,
)


def torch_seconds_per_step(size, precision, settings):
    """Median seconds of one PyTorch step (forward, backward, AdamW)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    device = (
        "cuda" if settings.device.get("kind") == "gpu" and torch.cuda.is_available() else "cpu"
    )
    model = torch_lm(size).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = settings.batch(size.batch)
    windows = torch.as_tensor(random_windows(size, batch), device=device)
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

    warmup, timed = steps(size, settings)
    return time_calls(step, warmup=warmup, repeats=timed).median


def run(settings):
    return [
        row(
            size,
            "pytorch",
            precision,
            False,
            torch_seconds_per_step(size, precision, settings),
            settings,
        )
        for size in sizes(settings).values()
        for precision in PRECISIONS
    ]


if __name__ == "__main__":
    runner.main(run, description=__doc__.split("\n\n")[0])
