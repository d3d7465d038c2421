"""A small classifier training run that a test kills in the middle of an epoch.

    python killable_training.py OUTPUT_DIR [--pause-at-step N]

3 epochs of 8 steps, the training state saved every 2 steps in
OUTPUT_DIR/backup; run again with the same command after a kill, it resumes
there. With `--pause-at-step N` the run waits, after optimizer step N and
its saved state, until it is killed: the kill lands at a known step however
loaded the machine is (a resumed run starts after step N and never waits).
Prints `step N` after each optimizer step, then one JSON line:

    {"state_at_start": {"epoch", "step", "iterations"} or null,
     "final_iterations": 24, "op_determinism": bool}

and writes the final model and optimizer variables to OUTPUT_DIR/final.npz.
"""

import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.text import ByteTokenizer
from transformer_keras.training.backup import PROGRESS_FILE, latest_state
from transformer_keras.training.reproducibility import set_seed
from transformer_keras.training.resumable_fit import fit_resumable

EPOCHS = 3
BATCH_SIZE = 8
SAVE_EVERY = 2
TEXTS = [
    f"review {i}: {'good' if i % 3 else 'bad'} film, {i * 7 % 11} stars" for i in range(64)
]
STEPS_PER_EPOCH = len(TEXTS) // BATCH_SIZE


class PrintSteps(keras.callbacks.Callback):
    """Prints the optimizer step after each step; once step `pause_at` is done, waits.

    The wait comes at the start of the next step, after every callback of step
    `pause_at` (the state backup of `fit_resumable` among them) has run, so the
    state of that step is saved when the run starts waiting. A resumed run
    starts after that step and never waits.
    """

    def __init__(self, pause_at=None):
        super().__init__()
        self.pause_at = pause_at
        self.reached_pause = False

    def on_train_batch_end(self, batch, logs=None):
        iterations = int(self.model.optimizer.iterations)
        print(f"step {iterations}", flush=True)
        self.reached_pause = iterations == self.pause_at

    def on_train_batch_begin(self, batch, logs=None):
        while self.reached_pause:
            time.sleep(1)  # Until the test kills this process.


def train(output_dir, pause_at_step=None):
    """Trains (or resumes) the run in `output_dir`; returns the model and the report."""
    set_seed(0)
    backup_dir = os.path.join(output_dir, "backup")
    state = latest_state(backup_dir)
    state_at_start = json.loads((state / PROGRESS_FILE).read_text()) if state else None
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        tokenizer=ByteTokenizer(),
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=24,
        dropout=0.0,
    )
    model.build((None, 24))
    model.compile(total_steps=EPOCHS * STEPS_PER_EPOCH, learning_rate=3e-3)
    token_ids = model.preprocess(TEXTS)
    labels = np.array(["good" in text for text in TEXTS], "int64")

    def make_batches():
        examples = tf.data.Dataset.from_tensor_slices((token_ids, labels))
        return examples.shuffle(64, seed=3, reshuffle_each_iteration=True).batch(BATCH_SIZE)

    fit_resumable(
        model,
        make_batches,
        epochs=EPOCHS,
        backup_dir=backup_dir,
        save_freq=SAVE_EVERY,
        callbacks=[PrintSteps(pause_at_step)],
        verbose=0,
    )
    report = {
        "state_at_start": state_at_start,
        "final_iterations": int(model.optimizer.iterations),
        # TensorFlow exports no public getter for the flag `set_seed` sets.
        "op_determinism": bool(tf_config.is_op_determinism_enabled()),
    }
    return model, report


def final_variables(model):
    """The model's and its optimizer's variables, keyed by position and shape.

    Keyed by position, not by `path`: Keras makes layer names unique per process
    (`transformer_classifier_41` in a test worker, `transformer_classifier` in a child),
    while the order of the variables is fixed by the model's structure. (Optimizer
    variable names embed those layer paths too.)
    """
    variables = model.weights + model.optimizer.variables
    return {
        f"{index:04d}_{'x'.join(map(str, v.shape))}": np.array(v)
        for index, v in enumerate(variables)
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--pause-at-step", type=int, default=None)
    args = parser.parse_args()
    model, report = train(args.output_dir, args.pause_at_step)
    np.savez(os.path.join(args.output_dir, "final.npz"), **final_variables(model))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
