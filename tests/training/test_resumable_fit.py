"""`fit_resumable` in one process: an interrupted run resumed equals an uninterrupted one.

The same with a real SIGKILL and a new process is `test_fault_tolerance.py`.
"""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.training import resumable_fit
from transformer_keras.training.backup import latest_state, load_training_state
from transformer_keras.training.resumable_fit import NonFiniteLossError, fit_resumable

pytestmark = pytest.mark.tf_only

STEPS_PER_EPOCH = 4  # 16 examples in batches of 4.
rng = np.random.default_rng(0)
FEATURES = rng.normal(size=(16, 3)).astype("float32")
TARGETS = FEATURES @ np.array([[1.0], [-2.0], [0.5]], "float32")


class Interrupted(Exception):
    """Stands for the process dying."""


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.iteration:
            raise Interrupted


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def make_batches():
    examples = tf.data.Dataset.from_tensor_slices((FEATURES, TARGETS))
    return examples.shuffle(16, seed=7, reshuffle_each_iteration=True).batch(4)


def _uninterrupted(tmp_path, epochs=3):
    model = _model()
    fit_resumable(
        model, make_batches, epochs=epochs, backup_dir=tmp_path / "reference", verbose=0
    )
    return model.get_weights()


@pytest.mark.parametrize(
    "stop_at, save_freq, resumes_at",
    [(7, 2, "epoch 2, step 2 of 4"), (9, "epoch", "epoch 3, step 0 of 4")],
)
def test_an_interrupted_run_resumes_to_the_same_weights(
    tmp_path, capsys, stop_at, save_freq, resumes_at
):
    expected = _uninterrupted(tmp_path)
    backup_dir = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit_resumable(
            _model(),
            make_batches,
            epochs=3,
            backup_dir=backup_dir,
            save_freq=save_freq,
            callbacks=[InterruptAt(stop_at)],
            verbose=0,
        )
    capsys.readouterr()
    state = latest_state(backup_dir)
    model = _model()
    history = fit_resumable(
        model, make_batches, epochs=3, backup_dir=backup_dir, save_freq=save_freq, verbose=0
    )
    assert f"Resuming from the state in '{state}': {resumes_at}." in (capsys.readouterr().out)
    assert int(model.optimizer.iterations) == 3 * STEPS_PER_EPOCH
    assert history.epoch == ([1, 2] if save_freq == 2 else [2])
    for actual, wanted in zip(model.get_weights(), expected):
        np.testing.assert_allclose(actual, wanted, atol=1e-6, rtol=0)
    assert latest_state(backup_dir) is None  # Done: the next call starts a new run.


def test_the_state_can_be_kept_after_the_last_epoch(tmp_path):
    model = _model()
    fit_resumable(
        model,
        make_batches,
        epochs=1,
        backup_dir=tmp_path,
        verbose=0,
        delete_state_when_done=False,
    )
    assert load_training_state(_model(), tmp_path)["epoch"] == 1


def test_an_epoch_of_unknown_length_is_counted_once(tmp_path):
    def filtered_batches():  # TensorFlow cannot tell how many batches a filter keeps.
        return make_batches().filter(lambda x, y: tf.reduce_all(tf.math.is_finite(x)))

    assert int(filtered_batches().cardinality()) == tf.data.UNKNOWN_CARDINALITY
    model = _model()
    fit_resumable(model, filtered_batches, epochs=2, backup_dir=tmp_path, verbose=0)
    assert int(model.optimizer.iterations) == 2 * STEPS_PER_EPOCH


def test_validation_data_is_evaluated_every_epoch(tmp_path):
    history = fit_resumable(
        _model(),
        make_batches,
        epochs=2,
        backup_dir=tmp_path,
        validation_data=make_batches(),
        verbose=0,
    )
    assert len(history.history["val_loss"]) == 2


def test_what_the_callbacks_add_to_the_logs_reaches_the_history_and_the_progress_line(
    tmp_path, capsys
):
    class Score(keras.callbacks.Callback):  # Like BleuCallback: a value of its own.
        def on_epoch_end(self, epoch, logs=None):
            logs["val_score"] = 10.0 + epoch

    history = fit_resumable(
        _model(), make_batches, epochs=2, backup_dir=tmp_path, callbacks=[Score()], verbose=2
    )
    assert history.history["val_score"] == [10.0, 11.0]
    assert "val_score: 11.0" in capsys.readouterr().out


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_state(tmp_path):
    def poisoned_batches():
        targets = TARGETS.copy()
        targets[11] = np.nan
        examples = tf.data.Dataset.from_tensor_slices((FEATURES, targets))
        return examples.batch(4)  # Example 11 is in step 3 of every epoch.

    with pytest.raises(NonFiniteLossError) as error:
        fit_resumable(
            _model(), poisoned_batches, epochs=3, backup_dir=tmp_path, save_freq=1, verbose=0
        )
    message = str(error.value)
    assert message.startswith("Training stopped at epoch 1, step 3: the loss became nan.")
    assert (
        f"The last good state (epoch 1, step 2) is kept in '{latest_state(tmp_path)}'"
        in message
    )
    assert isinstance(error.value, ValueError)  # The CLI prints it as one line.
    restored = _model()
    assert load_training_state(restored, tmp_path)["iterations"] == 2
    assert all(np.all(np.isfinite(weight)) for weight in restored.get_weights())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "Received: epochs=0"),
        ({"epochs": 2.0}, "Received: epochs=2.0"),
        ({"steps_per_epoch": 0}, "Received: steps_per_epoch=0"),
        ({"make_batches": make_batches()}, "must be a function that returns a new"),
        ({"make_batches": lambda: [1, 2]}, "Received: make_batches=<function"),
        (
            {"make_batches": lambda: make_batches().repeat()},
            "finite, non-empty epoch, or pass `steps_per_epoch`",
        ),
        (
            {"make_batches": lambda: make_batches().filter(lambda x, y: False)},
            "cardinality is 0",
        ),
    ],
)
def test_bad_arguments_are_rejected(tmp_path, kwargs, message):
    arguments = {"make_batches": make_batches, "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit_resumable(_model(), backup_dir=tmp_path, verbose=0, **arguments)


def test_docstring_examples_run():
    assert doctest.testmod(resumable_fit).failed == 0
