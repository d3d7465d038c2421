"""The PyTorch side of the training benchmark: thread settings, the bfloat16 probe, the worker.

The worker tests need PyTorch (the `bench` extra) and skip without it; the
one that takes turns with the Keras models also needs KerasHub.
"""

import io
import json

import pytest

from benchmarks.common import Settings
from benchmarks.pytorch_throughput import (
    BFLOAT16_MINIMUM,
    precisions_to_measure,
    probe_rows,
    thread_environment,
)
from benchmarks.training_throughput import summary, turn_steps

QUICK = Settings(quick=True, device={"kind": "cpu", "name": "cpu", "count": 1}, threads=1)


def test_openmp_and_mkl_get_the_thread_count_and_sleep_when_idle():
    assert thread_environment(3) == {
        "OMP_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "3",
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def test_bfloat16_rows_are_skipped_only_where_its_products_are_slow():
    fast = {"float32": 100.0, "bfloat16": 200.0, "threads": [2, 2]}
    slow = {"float32": 30.0, "bfloat16": 0.1, "threads": [2, 2]}
    edge = {"float32": 100.0, "bfloat16": 100.0 * BFLOAT16_MINIMUM, "threads": [2, 2]}
    assert precisions_to_measure(fast) == ("float32", "mixed_bfloat16")
    assert precisions_to_measure(edge) == ("float32", "mixed_bfloat16")
    assert precisions_to_measure(slow) == ("float32",)


def test_the_summary_says_why_the_bfloat16_rows_are_missing_and_the_threads():
    rates = {"float32": 30.0, "bfloat16": 0.1, "threads": [2, 2]}
    rows = probe_rows(rates)
    text = summary(rows)
    assert "mixed_bfloat16: not measured" in text and "0.1 GFLOP/s" in text
    assert all(row.notes == "threads 2 intra-op / 2 inter-op" for row in rows)


def test_pytorch_turns_add_up_to_about_the_keras_step_count():
    assert turn_steps(24, 4) == 6
    assert turn_steps(6, 4) == 2
    assert turn_steps(4, 4) == 1
    assert turn_steps(1, 4) == 1


def test_the_worker_answers_each_request_on_one_line():
    pytest.importorskip("torch")
    from benchmarks.pytorch_throughput import serve

    requests = [
        {"probe": True},
        {"size": "small", "precision": "float32", "warmup": 1, "steps": 2},
        {"size": "small", "precision": "float32", "warmup": 1, "steps": 3},
    ]
    replies = io.StringIO()
    serve(QUICK, io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), replies)
    probe, first, second = (json.loads(line) for line in replies.getvalue().splitlines())
    assert probe["threads"] == [1, probe["threads"][1]] and probe["float32"] > 0
    assert len(first["seconds"]) == 2 and len(second["seconds"]) == 3
    assert all(seconds > 0 for seconds in first["seconds"] + second["seconds"])


def test_pytorch_takes_turns_with_the_keras_models_in_a_worker_process():
    pytest.importorskip("torch")
    pytest.importorskip("keras_hub")
    from benchmarks.architectures import QUICK_SIZES
    from benchmarks.training_throughput import TorchWorker, interleaved_step_seconds, steps

    size = QUICK_SIZES["small"]
    worker = TorchWorker(QUICK)
    try:
        assert worker.probe()["threads"] == [1, 1]
        seconds = interleaved_step_seconds(size, "float32", False, QUICK, torch=worker)
    finally:
        worker.close()
    _, timed = steps(size, QUICK)
    assert set(seconds) == {"transformer_keras", "keras_hub", "pytorch"}
    assert len(seconds["transformer_keras"]) == len(seconds["keras_hub"]) == timed
    assert len(seconds["pytorch"]) == 2 * turn_steps(timed, 4)
