"""The README's multi-machine command, for each family: two workers on 127.0.0.1.

    TF_CONFIG='{"cluster": {"worker": [A, B]}, "task": {"type": "worker", "index": I}}' \
        transformer-keras train FAMILY ... --strategy multi-worker --output SHARED

Both workers get validation data and one shared output folder. Only the chief
writes (training state, best checkpoint, TensorBoard logs, samples, export);
the other worker writes to a temporary folder. Once the first epoch's state
is saved, one worker is killed, the job dies, and the same two commands
started again resume it and finish: the chief's export then serves.
"""

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.child_processes import REPOSITORY, child_environment, free_port
from tests.recipes.runs import cli, progress
from transformer_keras.export.client import load_client

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]


def _classifier(folder, output):
    rows = [f"review {i} was {'good' if i % 3 else 'bad'}\t{'pos' if i % 3 else 'neg'}"
            for i in range(96)]  # fmt: skip
    (folder / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(rows[:80]) + "\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + "\n".join(rows[80:]) + "\n")
    return cli(
        "train", "classifier", "--train", folder / "train.tsv", "--validation",
        folder / "dev.tsv", "--output", output, "--preset", "tiny", "--ensemble", "1",
        "--epochs", "2", "--batch-size", "8", "--vocabulary-size", "100",
    )  # fmt: skip


def _language_model(folder, output):
    text = " ".join(f"the {word} sat on the mat." for word in ["cat", "dog", "bird"] * 60)
    (folder / "train.txt").write_text(text)
    (folder / "valid.txt").write_text(text[:600])
    return cli(
        "train", "lm", "--train", folder / "train.txt", "--validation", folder / "valid.txt",
        "--output", output, "--preset", "tiny", "--context", "32", "--epochs", "2",
        "--batch-size", "8", "--no-xla", "--sample-prompt", "the",
    )  # fmt: skip


def _translator(folder, output):
    words = ["one", "two", "three", "four", "five", "six"]
    pairs = [
        f"{a} {b}\t{words.index(a) + 1} {words.index(b) + 1}" for a in words for b in words
    ]
    (folder / "train.tsv").write_text("\n".join(pairs * 3) + "\n")
    (folder / "valid.tsv").write_text("\n".join(pairs[:8]) + "\n")
    return cli(
        "train", "translator", "--train-pairs", folder / "train.tsv", "--validation-pairs",
        folder / "valid.tsv", "--output", output, "--preset", "tiny", "--tokenizer", "word",
        "--max-length", "8", "--epochs", "2", "--token-budget", "128",
    )  # fmt: skip


FAMILIES = {"classifier": _classifier, "language model": _language_model,
            "translator": _translator}  # fmt: skip


def _start_job(command):
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(2)]}
    return [
        subprocess.Popen(
            [*command, "--strategy", "multi-worker"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
            env=child_environment(
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            ),
        )
        for i in range(2)
    ]


def _stop(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
    return [worker.communicate() for worker in workers]


@pytest.mark.parametrize("family", FAMILIES)
def test_two_workers_train_resume_after_a_kill_and_export_once(tmp_path, family):
    output = tmp_path / "shared" / "model"
    command = FAMILIES[family](tmp_path, output)
    run_dir = Path(f"{output}.training")

    workers = _start_job(command)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and all(w.poll() is None for w in workers):
        state = progress(run_dir) or {}
        if state.get("epoch", 0) >= 1 and "status" not in state:
            break
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)  # One worker dies; the job is lost.
    time.sleep(1)
    outputs = _stop(workers)
    assert (progress(run_dir) or {}).get("epoch", 0) >= 1, outputs[0][1][-3000:]
    assert not output.exists()

    workers = _start_job(command)
    try:
        outputs = [worker.communicate(timeout=600) for worker in workers]
    finally:
        _stop(workers)
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stdout[-2000:] + stderr[-4000:]
        assert "Resuming from the state" in stdout
        assert "training on 2 replicas" in stdout
    chief_stdout, other_stdout = (stdout for stdout, _ in outputs)
    if family == "language model":  # Samples are printed by the chief only.
        assert "sample after epoch" in chief_stdout
        assert "sample after epoch" not in other_stdout
    assert (output / "saved_model.pb").is_file() and Path(f"{output}.keras").is_file()
    assert not any(output.parent.glob(".model.tmp-*"))  # No leftover staging folder.
    assert (run_dir / "checkpoints" / "best.weights.h5").is_file()
    assert not (run_dir / "backup" / "latest").exists()  # The finished run's state is gone.
    client = load_client(output)
    if family == "classifier":
        labels, _, _ = client.classify(["review 4 was good"])
        assert labels[0] in ("pos", "neg")
    elif family == "language model":
        assert isinstance(client.generate(["the"], max_new_tokens=5, seed=1)[0], str)
    else:
        assert isinstance(client.translate(["one two"])[0], str)
