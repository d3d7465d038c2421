"""`train lm`, `train translator` and masked-LM pre-training, killed at every point.

Each command is SIGKILLed at the points where a run can die and started again
with the same command line; the weights it finally saves must be those of a
run never killed. The points:

- in the middle of the second epoch, after a saved step (`--save-every`), when
  the first epoch's end saved the state of the best-checkpoint, sample and
  BLEU callbacks with the training state;
- once training has finished, while the model is exported.

The masked language model is pre-trained by `train classifier --pretrain-text`:
its run (in `OUTPUT.training/pretrained`) is killed mid-epoch, at an epoch's
end and once it has finished (while `masked_lm.keras` is saved or the
fine-tuning has begun). The classifier's own points, early stopping's among
them, are in `test_resume_classifier.py`.
"""

import random

import numpy as np
import pytest

import transformer_keras.models  # noqa: F401  (registers the classes the .keras files name)
from tests.recipes.runs import cli, exporting, kill_when, progress, run
from transformer_keras.export import load_keras_model

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]

RUN_ARGUMENTS = ("--seed", "3", "--deterministic", "--save-every", "3")


def _language_model(folder, output):
    rng = random.Random(0)
    words = ["the", "cat", "dog", "sat", "on", "a", "mat", "ran", "far"]
    (folder / "train.txt").write_text(" ".join(rng.choice(words) for _ in range(700)))
    (folder / "valid.txt").write_text(" ".join(rng.choice(words) for _ in range(120)))
    return cli(
        "train", "lm", "--train", folder / "train.txt", "--validation", folder / "valid.txt",
        "--output", output, "--preset", "tiny", "--context", "32", "--epochs", "3",
        "--batch-size", "8", "--no-xla", "--export-without-xla", "--sample-prompt", "the",
        *RUN_ARGUMENTS,
    )  # fmt: skip


def _translator(folder, output):
    words = ["one", "two", "three", "four", "five", "six"]
    pairs = [
        f"{a} {b}\t{words.index(a) + 1} {words.index(b) + 1}" for a in words for b in words
    ]
    (folder / "train.tsv").write_text("\n".join(pairs * 2) + "\n")
    (folder / "valid.tsv").write_text("\n".join(pairs[:8]) + "\n")
    return cli(
        "train", "translator", "--train-pairs", folder / "train.tsv", "--validation-pairs",
        folder / "valid.tsv", "--output", output, "--preset", "tiny", "--tokenizer", "word",
        "--max-length", "8", "--epochs", "3", "--token-budget", "96", *RUN_ARGUMENTS,
    )  # fmt: skip


def _pretrained_classifier(folder, output):
    rng = random.Random(0)
    good, bad = ["good", "great", "fine"], ["bad", "dull", "poor"]
    rows = []
    for _ in range(48):
        positive = rng.random() < 0.5
        rows.append(f"the film was {rng.choice(good if positive else bad)}\t"
                    f"{'pos' if positive else 'neg'}")  # fmt: skip
    (folder / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(rows[:40]) + "\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + "\n".join(rows[40:]) + "\n")
    unlabelled = [f"a {rng.choice(good + bad)} story of a {rng.choice(['cat', 'dog'])}"
                  for _ in range(54)]  # fmt: skip
    unlabelled += ["zebras graze quietly\tcebras", "the zebras were superb"]
    (folder / "unlabelled.txt").write_text("\n".join(unlabelled) + "\n")
    return cli(
        "train", "classifier", "--train", folder / "train.tsv", "--validation",
        folder / "dev.tsv", "--output", output, "--preset", "tiny", "--ensemble", "1",
        "--epochs", "1", "--batch-size", "8", "--vocabulary-size", "100", "--max-length", "16",
        "--pretrain-text", folder / "unlabelled.txt", "--pretrain-epochs", "3",
        # 3 steps per epoch: a state saved every 2 steps falls mid-epoch (step 1 of epoch 1).
        "--pretrain-batch-size", "8", "--seed", "3", "--deterministic", "--save-every", "2",
    )  # fmt: skip


def _weights(path):
    model = load_keras_model(path)
    return [np.asarray(weight) for weight in model.weights]


def _assert_same_weights(resumed, reference):
    resumed, reference = _weights(resumed), _weights(reference)
    assert len(resumed) == len(reference)
    for got, expected in zip(resumed, reference):
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def _mid_epoch(run_dir, epoch):
    def condition():
        state = progress(run_dir) or {}
        in_epoch = state.get("epoch") == epoch and state.get("step", 0) > 0
        return "status" not in state and in_epoch

    return condition


def _epoch_end(run_dir, epoch):
    def condition():
        state = progress(run_dir) or {}
        return "status" not in state and state.get("epoch") == epoch and state.get("step") == 0

    return condition


def _finished(run_dir):
    return lambda: (progress(run_dir) or {}).get("status") == "finished"


@pytest.mark.parametrize("family", ["language model", "translator"])
def test_a_run_killed_at_every_point_saves_the_uninterrupted_weights(tmp_path, family):
    make_command = _language_model if family == "language model" else _translator
    reference = tmp_path / "reference" / "model"
    run(make_command(tmp_path, reference))

    output = tmp_path / "killed" / "model"
    run_dir = f"{output}.training"
    command = make_command(tmp_path, output)
    # Killed in its second epoch: the state of the first epoch's end (the
    # callbacks' included) and of a saved step since.
    kill_when(command, _mid_epoch(run_dir, 1))
    callbacks = progress(run_dir)["callbacks"]
    assert any(name.startswith("BestWeightsCheckpoint") for name in callbacks)
    stdout = kill_when(command, lambda: exporting(output))
    assert "Resuming from the state" in stdout
    stdout = run(command)
    assert "trained weights found" in stdout  # the export starts over, training does not
    assert (output / "saved_model.pb").is_file()

    _assert_same_weights(f"{output}.keras", f"{reference}.keras")


def test_masked_lm_pretraining_killed_at_every_point_gives_the_uninterrupted_encoder(
    tmp_path,
):
    reference = tmp_path / "reference" / "model"
    run(_pretrained_classifier(tmp_path, reference))
    # One tokenizer, learned on the pre-training and training texts (first
    # column only), is shared by the masked LM saved beside the run and the
    # classifier fine-tuned from it.
    pretrained = load_keras_model(
        reference.parent / "model.training" / "pretrained" / "masked_lm.keras"
    )
    classifier = load_keras_model(f"{reference}.keras")
    vocabulary = classifier.tokenizer.vocabulary
    assert vocabulary == pretrained.tokenizer.vocabulary
    assert {"zebras", "graze"} <= set(vocabulary) and "cebras" not in vocabulary
    assert classifier.vocabulary_size == pretrained.vocabulary_size
    assert pretrained.mask_token_id == classifier.tokenizer.vocabulary_size
    assert classifier.max_sequence_length == pretrained.max_sequence_length == 16

    output = tmp_path / "killed" / "model"
    pretrain_dir = output.parent / "model.training" / "pretrained"
    command = _pretrained_classifier(tmp_path, output)
    kill_when(command, _epoch_end(pretrain_dir, 1))
    kill_when(command, _mid_epoch(pretrain_dir, 1))
    kill_when(command, _finished(pretrain_dir))
    run(command)

    _assert_same_weights(
        output.parent / "model.training" / "pretrained" / "masked_lm.keras",
        reference.parent / "model.training" / "pretrained" / "masked_lm.keras",
    )
    _assert_same_weights(f"{output}.keras", f"{reference}.keras")
