"""The training state: saved atomically, restored exactly, and clear errors for broken files."""

import doctest
import json

import keras
import numpy as np
import pytest

from transformer_keras.training import backup
from transformer_keras.training.backup import (
    PROGRESS_FILE,
    VARIABLES_FILE,
    WEIGHTS_FILE,
    TrainingStateBackup,
    delete_training_state,
    latest_state,
    load_checkpoint,
    load_training_state,
    save_training_state,
)

pytestmark = pytest.mark.tf_only


def _model(units=1, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _trained_model(steps=3):
    model = _model()
    x = np.arange(12, dtype="float32").reshape(4, 3)
    model.fit(x, np.ones((4, 1)), batch_size=4, epochs=steps, verbose=0)
    return model


def _variables(model):
    return [v.numpy() for v in model.weights + model.optimizer.variables]


def test_the_state_restores_weights_optimizer_and_progress(tmp_path):
    trained = _trained_model()
    path = save_training_state(trained, tmp_path, epoch=2, step=5)
    expected = sorted([PROGRESS_FILE, VARIABLES_FILE, WEIGHTS_FILE])
    assert sorted(p.name for p in path.iterdir()) == expected
    fresh = _model(seed=1)
    progress = load_training_state(fresh, tmp_path)
    assert progress == {"epoch": 2, "step": 5, "iterations": 3}
    for restored, saved in zip(_variables(fresh), _variables(trained)):
        np.testing.assert_array_equal(restored, saved)


def test_no_state_means_a_new_run(tmp_path):
    assert load_training_state(_model(), tmp_path) is None


def test_saving_again_keeps_only_the_newest_state(tmp_path):
    model = _trained_model()
    save_training_state(model, tmp_path, epoch=0, step=1)
    newest = save_training_state(model, tmp_path, epoch=0, step=2)
    assert latest_state(tmp_path) == newest
    assert load_training_state(_model(), tmp_path)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "state-3-0-2"]
    delete_training_state(tmp_path)
    assert latest_state(tmp_path) is None and list(tmp_path.iterdir()) == []


def test_a_save_killed_before_it_is_named_latest_is_ignored_then_cleaned(tmp_path):
    """What a kill during a save leaves: a partial temporary, or a complete folder that
    `latest` does not name yet. The previous state is restored; the next save cleans up."""
    model = _trained_model()
    previous = save_training_state(model, tmp_path, epoch=0, step=1)
    (tmp_path / ".state-3-0-2.tmp-killed").mkdir()  # Killed while writing.
    (tmp_path / ".latest.tmp-killed").write_text("state-3-0-2")
    unnamed = tmp_path / "state-3-0-2"  # Killed between the two renames.
    unnamed.mkdir()
    assert latest_state(tmp_path) == previous
    assert load_training_state(_model(), tmp_path)["step"] == 1
    save_training_state(model, tmp_path, epoch=0, step=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "state-3-0-3"]


def test_an_unbuilt_model_is_refused(tmp_path):
    save_training_state(_trained_model(), tmp_path, epoch=1, step=0)
    unbuilt = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Build the model"):
        load_training_state(unbuilt, tmp_path)


def _break_truncated_weights(path):
    weights = path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _break_missing_weights(path):
    (path / WEIGHTS_FILE).unlink()


def _break_garbage_progress(path):
    (path / PROGRESS_FILE).write_text("{not json")


def _break_incomplete_progress(path):
    (path / PROGRESS_FILE).write_text(json.dumps({"epoch": 1}))


def _break_mismatched_progress(path):
    (path / PROGRESS_FILE).write_text(json.dumps({"epoch": 1, "step": 0, "iterations": 99}))


@pytest.mark.parametrize(
    "damage",
    [
        _break_truncated_weights,
        _break_missing_weights,
        _break_garbage_progress,
        _break_incomplete_progress,
        _break_mismatched_progress,
    ],
)
def test_a_broken_state_is_a_clear_error_naming_its_folder(tmp_path, damage):
    path = save_training_state(_trained_model(), tmp_path, epoch=1, step=0)
    damage(path)
    with pytest.raises(ValueError) as error:
        load_training_state(_model(), tmp_path)
    message = str(error.value)
    assert f"'{path}'" in message
    assert f"delete '{tmp_path}'" in message
    assert message.endswith(f"Received: backup_dir='{tmp_path}'")


@pytest.mark.parametrize("latest", ["state-9-9-9", "../elsewhere", "", "\udcff"])
def test_a_broken_latest_file_is_a_clear_error(tmp_path, latest):
    save_training_state(_trained_model(), tmp_path, epoch=1, step=0)
    (tmp_path / "latest").write_text(latest, errors="surrogateescape")
    with pytest.raises(ValueError, match="is not a state folder; delete") as error:
        load_training_state(_model(), tmp_path)
    assert str(error.value).endswith(f"Received: backup_dir='{tmp_path}'")


def test_the_state_of_another_model_is_a_clear_error(tmp_path):
    save_training_state(_trained_model(), tmp_path, epoch=1, step=0)
    other = _model(units=2)
    other.build((None, 3))
    with pytest.raises(ValueError, match="corrupt, truncated or from a different model"):
        load_training_state(other, tmp_path)


def test_the_callback_saves_every_save_freq_steps_and_each_epoch_end(tmp_path):
    model = _model()
    callback = TrainingStateBackup(tmp_path, save_freq=2)
    saved = []
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: saved.append(callback.last_saved)
    )
    x = np.ones((10, 3), "float32")
    model.fit(x, np.ones((10, 1)), batch_size=2, epochs=1, callbacks=[callback, spy], verbose=0)
    assert saved == [None, (0, 2), (0, 2), (0, 4), (0, 4)]
    assert callback.last_saved == (1, 0)  # The epoch end.
    assert load_training_state(_model(), tmp_path)["iterations"] == 5


def test_a_non_finite_loss_stops_training_without_saving_it(tmp_path):
    model = _model()
    callback = TrainingStateBackup(tmp_path, save_freq=1)
    x = np.ones((8, 3), "float32")
    x[5] = np.inf  # The third batch of two.
    model.fit(
        x,
        np.ones((8, 1)),
        batch_size=2,
        epochs=3,
        shuffle=False,
        callbacks=[callback],
        verbose=0,
    )
    assert callback.non_finite["epoch"] == 0 and callback.non_finite["step"] == 3
    assert not np.isfinite(callback.non_finite["loss"])
    assert callback.last_saved == (0, 2)  # Neither the bad step nor the epoch end.
    restored = _model()
    assert load_training_state(restored, tmp_path)["iterations"] == 2
    assert all(np.all(np.isfinite(v)) for v in _variables(restored))


def test_a_checkpoint_loads_or_names_its_broken_file(tmp_path):
    trained, path = _trained_model(), tmp_path / "best.weights.h5"
    trained.save_weights(path)
    fresh = _model(seed=1)
    load_checkpoint(fresh, path)
    for restored, saved in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"The checkpoint at '{path}' cannot be loaded"):
        load_checkpoint(fresh, path)
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        load_checkpoint(fresh, tmp_path / "missing.weights.h5")


@pytest.mark.parametrize("save_freq", [0, -2, 1.5, "steps", True])
def test_bad_save_freq_is_rejected(tmp_path, save_freq):
    with pytest.raises(ValueError, match="Received: save_freq="):
        TrainingStateBackup(tmp_path, save_freq=save_freq)


def test_docstring_examples_run():
    assert doctest.testmod(backup).failed == 0
