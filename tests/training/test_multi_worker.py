"""`MultiWorkerMirroredStrategy` with two worker processes on 127.0.0.1.

Both workers train the classifier in sync; the chief alone keeps the training
state and the export, the other worker writes to a temporary folder it
deletes (the TensorFlow multi-worker guide's rule).
"""

import json
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tests.child_processes import child_environment, free_port, last_json_line, start_script
from transformer_keras.export.saved_model import load_saved_model
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.text import ByteTokenizer
from transformer_keras.training.backup import load_training_state

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Runs the two workers to the end: `(output_dir, [chief report, other report])`."""
    output_dir = tmp_path_factory.mktemp("multi_worker")
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(2)]}
    workers = [
        start_script(
            "multi_worker_training",
            output_dir,
            env=child_environment(
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    reports = []
    try:
        for worker in workers:
            stdout, stderr = worker.communicate(timeout=600)
            assert worker.returncode == 0, stderr[-5000:]
            reports.append(last_json_line(stdout))
    finally:
        for worker in workers:  # A failed worker leaves the other waiting for it.
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    return output_dir, reports


def test_the_workers_train_in_sync_over_two_replicas(job):
    _, (chief, other) = job
    assert chief["replicas"] == other["replicas"] == 2
    assert len(chief["loss"]) == 2 and np.all(np.isfinite(chief["loss"]))
    assert chief["loss"] == other["loss"]  # Each logs the mean over both workers.


def test_only_the_chief_keeps_what_it_writes(job):
    output_dir, (chief, other) = job
    assert chief["chief"] and not other["chief"]
    assert chief["written_to"] == str(output_dir / "export") and chief["written_exists_after"]
    assert not other["written_to"].startswith(str(output_dir))
    assert not other["written_exists_after"]
    assert sorted(path.name for path in output_dir.iterdir()) == [
        "backup",
        "export",
        "export.keras",
    ]


def test_the_chief_export_serves(job):
    output_dir, _ = job
    serve = load_saved_model(output_dir / "export").signatures["serving_default"]
    outputs = serve(text=tf.constant(["text 3 was good", ""]))
    assert [label.decode() in ("bad", "good") for label in outputs["label"].numpy()] == [
        True,
        True,
    ]


def test_the_chief_checkpoint_restores_every_step(job):
    output_dir, _ = job
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        tokenizer=ByteTokenizer(),
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=20,
        dropout=0.0,
    )
    model.build((None, 20))
    model.compile()
    progress = load_training_state(model, output_dir / "backup")
    assert progress == {"epoch": 2, "step": 0, "iterations": 8, "status": "stopped"}
