"""`train classifier` killed at any point and run again exports the model of an unbroken run.

The points: in the middle of an epoch; at an epoch's end after the best
epoch, while early stopping counts its patience; after early stopping fired;
during the export. The validation set makes early stopping's course certain
for every seed: each of its texts appears twice, with both labels, so the
validation accuracy is exactly 0.5 after every epoch; the first epoch is the
best, the third stops the run (patience 2), and the first epoch's weights are
exported.
"""

import random

import numpy as np
import pytest

from tests.recipes.runs import cli, exporting, kill_when, progress, run
from transformer_keras.export.client import load_client

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]

POSITIVE = ["good", "great", "fine", "superb", "lovely", "moving"]
NEGATIVE = ["bad", "awful", "dull", "poor", "weak", "tedious"]


def _write_data(folder):
    rng = random.Random(0)
    rows = ["sentence\tlabel"]
    for _ in range(240):
        positive = rng.random() < 0.5
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        rows.append(f"the film was {word} and {rng.choice(['long', 'short', 'new'])}\t"
                    f"{'pos' if positive else 'neg'}")  # fmt: skip
    (folder / "train.tsv").write_text("\n".join(rows) + "\n")
    texts = [f"a {word} story" for word in POSITIVE + NEGATIVE]
    pairs = [f"{text}\t{label}" for text in texts for label in ("pos", "neg")]
    (folder / "validation.tsv").write_text("\n".join(["sentence\tlabel", *pairs]) + "\n")
    return texts + rows[1:40]


def _command(folder, output):
    return cli(
        "train", "classifier", "--train", folder / "train.tsv",
        "--validation", folder / "validation.tsv", "--output", output,
        "--preset", "tiny", "--ensemble", "1", "--epochs", "6", "--patience", "2",
        "--batch-size", "8", "--learning-rate", "3e-3", "--vocabulary-size", "200",
        "--seed", "5", "--deterministic", "--save-every", "4",
    )  # fmt: skip


def _state(run_dir):
    return progress(run_dir) or {}


def test_a_run_killed_at_every_point_exports_the_uninterrupted_model(tmp_path):
    texts = _write_data(tmp_path)
    reference = tmp_path / "reference" / "model"
    run(_command(tmp_path, reference))

    output = tmp_path / "killed" / "model"
    run_dir = f"{output}.training"
    command = _command(tmp_path, output)

    def mid_epoch():
        state = _state(run_dir)
        return "status" not in state and state.get("step", 0) > 0

    def waiting_after_the_best_epoch():
        state = _state(run_dir)
        stopping = state.get("callbacks", {}).get("EarlyStopping-0", {})
        return "status" not in state and state.get("step") == 0 and stopping.get("wait", 0) >= 1

    def early_stopping_fired():
        return _state(run_dir).get("status") in ("stopped", "finished")

    kill_when(command, mid_epoch)
    at_kill = _state(run_dir)
    assert 0 < at_kill["step"] and at_kill["epoch"] == 0  # inside the first epoch
    stdout = kill_when(command, waiting_after_the_best_epoch)
    assert f"epoch 1, step {at_kill['step']} of 30." in stdout
    stopping = _state(run_dir)["callbacks"]["EarlyStopping-0"]
    assert stopping["best_epoch"] == 0 and stopping["arrays"]  # best weights kept
    stdout = kill_when(command, early_stopping_fired)
    assert "Resuming from the state" in stdout
    stdout = kill_when(command, lambda: exporting(output))
    assert "trained weights found" in stdout or "after its training loop" in stdout
    stdout = run(command)
    assert "trained weights found" in stdout  # the export starts over, training does not
    assert not (output.parent / "model.training" / "backup" / "latest").exists()

    _, _, expected = load_client(reference).classify(texts)
    _, _, resumed = load_client(output).classify(texts)
    np.testing.assert_allclose(resumed, expected, atol=1e-6, rtol=0)
