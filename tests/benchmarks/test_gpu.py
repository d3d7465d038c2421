"""Tests of `benchmarks/gpu.py`: its `--quick` run on the CPU, without TensorFlow.

The script is made for a GPU machine that has JAX but no TensorFlow: its quick
mode runs here in such a process (`tests/child_processes/no_tensorflow.py`),
on files `prepare` wrote from ../shared/data, so that a device run starts from
a script known to work. nanoGPT's side needs PyTorch and a nanoGPT checkout;
its log parsing is tested on lines in the formats nanoGPT prints.
"""

import json
import pickle

import numpy as np
import pytest

from benchmarks import gpu
from tests.child_processes import child_environment, start_script


def test_prepare_writes_nanogpts_character_files(tmp_path):
    folder = gpu.prepare(tmp_path)
    meta = pickle.loads((folder / "meta.pkl").read_bytes())
    train = np.fromfile(folder / "train.bin", np.uint16)
    validation = np.fromfile(folder / "val.bin", np.uint16)
    assert meta["vocab_size"] == 65  # Tiny Shakespeare's characters
    assert "".join(meta["itos"][i] for i in train[:14]) == "First Citizen:"
    assert len(train) == int(0.9 * (len(train) + len(validation)))
    assert gpu.load_split(tmp_path, "train").min() == 1  # our ids: nanoGPT's plus one


def test_nanogpt_logs_are_parsed():
    lines = [
        (0.1, "using fused AdamW: True"),  # its loop starts here: seconds count from it
        (0.6, "step 0: train loss 4.2874, val loss 4.2823"),
        (1.1, "iter 0: loss 4.2649, time 21012.54ms, mfu -100.00%"),
        (30.1, "step 250: train loss 1.9692, val loss 2.0643"),
        (90.1, "step 500: train loss 1.4601, val loss 1.4683"),
        (95.1, "time per iteration: 135.8720ms, MFU: 31.42%"),
    ]
    rows = gpu.parse_training_log(lines)
    assert [row[0] for row in rows] == [0, 250, 500]
    np.testing.assert_allclose(
        np.array(rows),
        [[0, 0.5, 4.2874, 4.2823], [250, 30.0, 1.9692, 2.0643], [500, 90.0, 1.4601, 1.4683]],
    )
    summary = gpu.race_summary(rows[1:])
    assert summary["to_target"]["step"] == 500
    assert summary["final"] == 1.4683 and summary["finite"]
    assert gpu.parse_bench_log(lines) == 135.872
    assert gpu.race_summary([[250, 3.0, float("nan"), float("nan")]])["finite"] is False


def test_flops_per_token_is_nanogpts_formula():
    # GPT-2 small without the position table: 85M in the blocks + 38.6M in the embedding.
    assert (
        gpu.flops_per_token(123_653_376, 12, 12, 64, 1024)
        == 6 * 123_653_376 + 12 * 12 * 12 * 64 * 1024
    )
    assert gpu.peak_flops("NVIDIA H200") == 989e12 and gpu.peak_flops("cpu") is None


@pytest.mark.slow
def test_the_quick_run_works_on_jax_without_tensorflow(tmp_path):
    gpu.prepare(tmp_path / "data")
    output = tmp_path / "gpu.json"
    process = start_script(
        "no_tensorflow",
        "benchmarks.gpu",
        "--quick",
        "--data",
        tmp_path / "data",
        "--output",
        output,
        env=child_environment(KERAS_BACKEND="jax"),
        stdout=-1,
        stderr=-1,
    )
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["machine"]["backend"] == "jax" and report["quick"]
    race = report["race"]
    assert [row[0] for row in race["curve"]] == [10, 20] and race["finite"]
    assert race["final"] < race["curve"][0][3] + 1.0  # a loss, not garbage
    assert report["throughput"]["tokens_per_second"] > 0 and report["throughput"]["finite"]
    assert set(report["generation"]) == {"batch_1", "batch_64"}
    assert "| final val loss |" in stdout and "| generation tokens/s, batch 64 |" in stdout
