"""The one fit pipeline on a small Keras model: options, the fit, the best weights,
the finished state, the export and the end of a run.

The families' recipes run through it in `tests/commands`; killed runs in
`test_resume_classifier.py` and `test_multi_worker_cli.py`.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.recipes.pipeline import (
    FitPlan,
    RunOptions,
    check_global_batch_size,
    export_run,
    finish_run,
    fit_plan,
    start_run,
    training_dir,
)
from transformer_keras.training.backup import PROGRESS_FILE, latest_state

pytestmark = pytest.mark.tf_only


def test_run_options_check_their_values():
    assert RunOptions().save_freq == "epoch" and RunOptions(save_every=5).save_freq == 5
    with pytest.raises(ValueError, match="Received: save_every=0"):
        RunOptions(save_every=0)


def test_the_training_folder_sits_beside_the_export():
    assert training_dir("saved_models/sst2/") == "saved_models/sst2.training"


def test_the_global_batch_must_be_a_positive_multiple_of_the_replicas():
    check_global_batch_size("batch_size", 8, None)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        check_global_batch_size("batch_size", 0, None)


def _plan(epochs=3):
    """A linear model whose validation loss is lowest after the first epoch: the
    validation targets are the negated training targets."""
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]

    def build_model():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        return model

    def make_batches(model):
        return tf.data.Dataset.from_tensor_slices((x, 2 * x)).batch(8)

    def validation(model):
        return tf.data.Dataset.from_tensor_slices((x, -0.2 * x)).batch(32)

    return FitPlan(
        build_model=build_model,
        make_batches=make_batches,
        epochs=epochs,
        validation_data=validation,
        monitor="val_loss",
        mode="min",
    )


def test_the_fit_keeps_the_best_weights_and_a_second_call_does_not_train_again(
    tmp_path, capsys
):
    options = RunOptions(seed=0, verbose=0)
    start_run(options)
    history = keras.callbacks.History()
    model = fit_plan(
        _plan(), tmp_path / "run", RunOptions(seed=0, verbose=0, callbacks=(history,))
    )
    losses = history.history["val_loss"]
    assert len(losses) == 3 and int(np.argmin(losses)) == 0
    best = model.evaluate(*_validation_arrays(), verbose=0)
    assert best == pytest.approx(min(losses), rel=1e-5)  # The best epoch's weights.
    state = latest_state(tmp_path / "run" / "backup")
    assert json.loads((state / PROGRESS_FILE).read_text())["status"] == "finished"

    capsys.readouterr()
    again = fit_plan(_plan(), tmp_path / "run", options)
    assert "trained weights found" in capsys.readouterr().out
    for mine, theirs in zip(model.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))

    finish_run(tmp_path / "run")
    assert latest_state(tmp_path / "run" / "backup") is None  # The next call starts anew.


def _validation_arrays():
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    return x, -0.2 * x


def test_the_export_is_written_by_the_given_function(tmp_path):
    def export(model, path):
        Path(path).mkdir()
        (Path(path) / "weights.json").write_text(json.dumps(len(model.weights)))

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    path = export_run(model, export, tmp_path / "model")
    assert path == (tmp_path / "model").absolute()
    assert json.loads((path / "weights.json").read_text()) == 2
