"""The training state a killed run resumes from: everything that decides what comes next.

One module (over 400 lines) because the state is one format: what is saved
(`save_training_state`, `TrainingStateBackup`) and what is read back
(`load_training_state`, `restore_*`) must change together.

Keras 3's `BackupAndRestore` records the batch it saved at but restarts the
interrupted epoch from its first batch, with weights that have already seen
part of it, and it overwrites its files in place, so a kill during a save can
leave weights and epoch counter that disagree. The zoo keeps its own state:

    BACKUP_DIR/latest                                the name of the newest state
    BACKUP_DIR/state-240-2-40/weights.weights.h5     model and optimizer variables
    BACKUP_DIR/state-240-2-40/variables.npz          random-seed states, metric sums
    BACKUP_DIR/state-240-2-40/callbacks.npz          arrays of callback states
    BACKUP_DIR/state-240-2-40/progress.json          {"epoch": 2, "step": 40,
                                                      "iterations": 240, "callbacks": ...}

`epoch` is the epoch in progress and `step` the batches of it already done
(`step == 0`: the epoch has not started). `status` is absent while training
goes on, `"stopped"` once the training loop is over (its last epoch done, or
early stopping or a time limit ended it) and `"finished"` once the final
weights are in place (the best ones restored). The seed-generator states make
dropout draw the same masks after a resume; the metric sums make a resumed
epoch log the metrics of the whole epoch; `callbacks` holds what each callback
carries between epochs (`callback_state.py`: early stopping's best value,
patience count and best weights, the best checkpoint's value, ...).

Each save writes a new folder under a temporary name, renames it into place,
then atomically replaces the `latest` file that names it (`utils/atomic.py`),
and only then deletes the older folders; whenever the process dies, `latest`
names a complete state. In a multi-worker job only the chief's copy is kept
(`distribute.chief_writes`).

`TrainingStateBackup` is the callback that writes it during `fit`;
`fit_resumable` (in `resumable_fit.py`) restores it and resumes at the same
epoch and step.
"""

import json
import math
import shutil
from pathlib import Path

import keras
import numpy as np

from transformer_keras.training.callback_state import (
    callback_keys,
    callback_state,
    restore_callback_state,
)
from transformer_keras.training.distribute import chief_writes
from transformer_keras.utils.atomic import atomic_directory, atomic_file
from transformer_keras.utils.validation import check_positive_int

WEIGHTS_FILE = "weights.weights.h5"
PROGRESS_FILE = "progress.json"
VARIABLES_FILE = "variables.npz"
CALLBACKS_FILE = "callbacks.npz"
STATUSES = ("stopped", "finished")
LATEST_FILE = "latest"
STATE_PREFIX = "state-"


def latest_state(backup_dir):
    """The folder of the newest complete training state in `backup_dir`, or `None`.

    Raises:
        ValueError: the `latest` file is unreadable or names a missing folder.
    """
    pointer = Path(backup_dir) / LATEST_FILE
    if not pointer.exists():
        return None
    try:
        name = pointer.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        name = f"<unreadable: {error}>"
    path = Path(backup_dir) / name
    if not name.startswith(STATE_PREFIX) or "/" in name or not path.is_dir():
        raise ValueError(
            f"The training state in '{backup_dir}' is broken: '{pointer}' names "
            f"{name!r}, which is not a state folder; delete '{backup_dir}' to start the run "
            f"over. Received: backup_dir='{backup_dir}'"
        )
    return path


def save_training_state(
    model, backup_dir, epoch, step, strategy=None, callbacks=(), status=None
):
    """Writes the state of a run as the newest state of `backup_dir`.

    Args:
        model: a built, compiled model.
        backup_dir: the run's backup folder.
        epoch: the epoch in progress (0-based).
        step: batches of that epoch already done.
        strategy: the `tf.distribute.Strategy`; on a multi-worker job's
            non-chief workers the state goes to a temporary folder that is
            deleted.
        callbacks: the run's callbacks; the state of each one that keeps any
            (`callback_state`) is saved with the model's.
        status: `None` while training goes on, `"stopped"` when the training
            loop is over, `"finished"` when the final weights are in place.

    Returns:
        The `pathlib.Path` of the new state folder.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"`status` must be None or one of {STATUSES}. Received: {status=}")
    progress = {"epoch": int(epoch), "step": int(step), "iterations": _iterations(model)}
    if status is not None:
        progress["status"] = status
    states, arrays = _callback_states(callbacks)
    if states:
        progress["callbacks"] = states
    name = f"{STATE_PREFIX}{progress['iterations']}-{progress['epoch']}-{progress['step']}"
    if status is not None:
        name += f"-{status}"
    with chief_writes(Path(backup_dir).absolute(), strategy) as root:
        root = Path(root)
        with atomic_directory(root / name) as staging:
            model.save_weights(staging / WEIGHTS_FILE)
            np.savez(staging / VARIABLES_FILE, **_state_variables(model))
            if arrays:
                np.savez(staging / CALLBACKS_FILE, **arrays)
            (staging / PROGRESS_FILE).write_text(json.dumps(progress))
        with atomic_file(root / LATEST_FILE) as staging_file:
            staging_file.write_text(name)
        _delete_states(root, keep=name)
    return Path(backup_dir).absolute() / name


def _callback_states(callbacks):
    """`({key: JSON state}, {array name: array})` of the callbacks that keep a state."""
    states, arrays = {}, {}
    for key, callback in zip(callback_keys(callbacks), callbacks):
        state = callback_state(callback)
        if state is None:
            continue
        state = dict(state)
        values = state.pop("arrays", None)
        state["arrays"] = None if values is None else len(values)
        for index, value in enumerate(values or ()):
            arrays[f"{key}/{index}"] = np.asarray(value)
        states[key] = state
    return states, arrays


def _seed_states(model):
    """The state variables of the model's seed generators (dropout and the like).

    `model.variables` holds the weights, then these: neither `save_weights`
    nor the optimizer saves them.
    """
    weights = {id(variable) for variable in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _state_variables(model):
    """`{name: array}` of the seed states and metric sums, keyed by position."""
    values = {f"seed_{i}": np.asarray(v) for i, v in enumerate(_seed_states(model))}
    values.update({f"metric_{i}": np.asarray(v) for i, v in enumerate(model.metrics_variables)})
    return values


def delete_training_state(backup_dir):
    """Removes every training state from `backup_dir` (the next run starts anew)."""
    root = Path(backup_dir)
    if root.is_dir():
        (root / LATEST_FILE).unlink(missing_ok=True)
        _delete_states(root, keep=None)


def _delete_states(root, keep):
    """Deletes the state folders (and leftovers of killed saves) other than `keep`."""
    for path in root.iterdir():
        name = path.name.lstrip(".")
        if name.startswith(STATE_PREFIX) and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(LATEST_FILE + ".tmp-"):
            path.unlink(missing_ok=True)


def load_training_state(model, backup_dir):
    """Restores the state saved in `backup_dir` into `model`; `None` if there is none.

    Args:
        model: the same model (built and compiled) that saved the state.
        backup_dir: the run's backup folder.

    Returns:
        `{"epoch": int, "step": int, "iterations": int}` or `None`.

    Example:
    >>> import tempfile, keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, verbose=0)
    >>> backup_dir = tempfile.mkdtemp()
    >>> save_training_state(model, backup_dir, epoch=1, step=0).name
    'state-2-1-0'
    >>> load_training_state(model, backup_dir)
    {'epoch': 1, 'step': 0, 'iterations': 2}

    Raises:
        ValueError: the state exists but is corrupt, truncated or from
            another model; the message names the folder.
    """
    path = latest_state(backup_dir)
    if path is None:
        return None
    if not model.built:
        raise ValueError(
            "Build the model (call it on a batch or `model.build(shape)`) before restoring "
            f"its training state. Received: backup_dir='{backup_dir}'"
        )
    try:
        progress = json.loads((path / PROGRESS_FILE).read_text())
        _check_progress(progress)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # Variables to load into.
        model.load_weights(path / WEIGHTS_FILE)
        _restore_seed_states(model, path)
    except Exception as error:  # OSError (h5py), JSON, shape and structure errors alike.
        message = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
        raise ValueError(
            f"The training state in '{path}' cannot be restored ({type(error).__name__}: "
            f"{message[:300]}). It is corrupt, truncated or from a different model; "
            f"delete '{backup_dir}' to start the run over. Received: backup_dir='{backup_dir}'"
        ) from error
    if _iterations(model) != progress["iterations"]:
        raise ValueError(
            f"The training state in '{path}' is inconsistent: progress.json says "
            f"{progress['iterations']} optimizer steps, the weights file "
            f"{_iterations(model)}; delete '{backup_dir}' to start the run over. "
            f"Received: backup_dir='{backup_dir}'"
        )
    return progress


def _restore_seed_states(model, path):
    if not (path / VARIABLES_FILE).exists():
        return
    with np.load(path / VARIABLES_FILE) as saved:
        seeds = _seed_states(model)
        if len([name for name in saved.files if name.startswith("seed_")]) != len(seeds):
            raise ValueError(f"{VARIABLES_FILE} holds another number of seed states")
        for index, variable in enumerate(seeds):
            variable.assign(saved[f"seed_{index}"])


def restore_metric_sums(model, backup_dir):
    """Puts the metric sums of the latest state back (a run resumed mid-epoch).

    Call it after Keras resets the metrics at the start of the epoch, so the
    epoch's logs cover all its batches. Does nothing without a saved state or
    when the metrics differ (another number or shape of variables).
    """
    path = latest_state(backup_dir)
    if path is None or not (path / VARIABLES_FILE).exists():
        return
    variables = model.metrics_variables
    with np.load(path / VARIABLES_FILE) as saved:
        names = [name for name in saved.files if name.startswith("metric_")]
        values = [saved[f"metric_{index}"] for index in range(len(names))]
    if len(values) == len(variables) and all(
        tuple(v.shape) == value.shape for v, value in zip(variables, values)
    ):
        for variable, value in zip(variables, values):
            variable.assign(value)


def restore_callback_states(callbacks, backup_dir):
    """Gives each callback the state saved with the latest training state.

    Callbacks are matched by `callback_keys` (class name and rank); one
    without a saved state is left as it is.
    """
    path = latest_state(backup_dir)
    if path is None:
        return
    progress = json.loads((path / PROGRESS_FILE).read_text())
    states = progress.get("callbacks", {})
    arrays = np.load(path / CALLBACKS_FILE) if (path / CALLBACKS_FILE).exists() else None
    try:
        for key, callback in zip(callback_keys(callbacks), callbacks):
            if key not in states:
                continue
            state = dict(states[key])
            count = state.pop("arrays")
            state["arrays"] = (
                None if count is None else [arrays[f"{key}/{i}"] for i in range(count)]
            )
            restore_callback_state(callback, state)
    finally:
        if arrays is not None:
            arrays.close()


def load_checkpoint(model, path):
    """`model.load_weights(path)` with one clear error naming a missing or broken file.

    For the weights files that `ModelCheckpoint` writes (such as
    `callbacks.best_weights_path(output_dir)`).

    Args:
        model: a built model of the architecture that saved the file.
        path: a `.weights.h5` file.

    Raises:
        FileNotFoundError: nothing exists at `path`.
        ValueError: the file is corrupt, truncated or from another model.

    Example:
    >>> import tempfile, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = tempfile.mkdtemp() + "/best.weights.h5"
    >>> model.save_weights(path)
    >>> load_checkpoint(model, path)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at '{path}': the path does not exist.")
    try:
        model.load_weights(path)
    except Exception as error:  # OSError (h5py), shape and structure errors alike.
        message = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
        raise ValueError(
            f"The checkpoint at '{path}' cannot be loaded ({type(error).__name__}: "
            f"{message[:300]}); it is corrupt, truncated or from a different model. "
            f"Received: path='{path}'"
        ) from error


def _check_progress(progress):
    keys = ("epoch", "step", "iterations")
    if not isinstance(progress, dict) or not all(
        isinstance(progress.get(key), int) and progress[key] >= 0 for key in keys
    ):
        raise ValueError(f"{PROGRESS_FILE} must hold non-negative integers {list(keys)}")
    if progress.get("status", None) not in (None, *STATUSES):
        raise ValueError(f"{PROGRESS_FILE} has an unknown status {progress['status']!r}")


def _iterations(model):
    if model.optimizer is None:
        return 0
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class TrainingStateBackup(keras.callbacks.Callback):
    """Saves the training state every `save_freq` steps and at every epoch end.

    Use it through `fit_resumable`, which restores the state, tells the
    callback where the run resumed (`start`), and puts it after every other
    callback so that the states it saves (`callbacks`) include their updates
    of the epoch. A step whose loss is NaN or infinite is never saved: the
    callback stops training and keeps the last good state (`non_finite` then
    describes the step). The state saved at the end of the last epoch, or of
    an epoch after which a callback stopped training, has status `"stopped"`.

    Args:
        backup_dir: the run's backup folder (one per run).
        save_freq: `"epoch"`, or a positive integer: also save after every
            `save_freq` optimizer steps.
        strategy: the `tf.distribute.Strategy` (who writes, see
            `save_training_state`).
        callbacks: the run's other callbacks, whose states are saved too.
        epochs: the run's number of epochs (`None`: only a stop marks the end).

    Attributes:
        non_finite: `None`, or `{"epoch", "step", "loss"}` of the first step
            whose loss was not finite.
        last_saved: `(epoch, step)` of the last state written, or `None`.
        last_saved_path: the folder of that state, or `None`.
    """

    def __init__(self, backup_dir, save_freq="epoch", strategy=None, callbacks=(), epochs=None):
        super().__init__()
        if save_freq != "epoch":
            check_positive_int("save_freq", save_freq)
        self.backup_dir = backup_dir
        self.save_freq = save_freq
        self.strategy = strategy
        self.callbacks = list(callbacks)
        self.epochs = epochs
        self.start = (0, 0)
        self.non_finite = None
        self.last_saved = None
        self.last_saved_path = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _step_in_epoch(self, batch):
        """Batches of the current epoch done after `batch` (resumed epochs included)."""
        start_epoch, start_step = self.start
        return batch + 1 + (start_step if self._epoch == start_epoch else 0)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            if self.non_finite is None:
                self.non_finite = {
                    "epoch": self._epoch,
                    "step": self._step_in_epoch(batch),
                    "loss": float(loss),
                }
            self.model.stop_training = True
            return
        if self.save_freq != "epoch" and _iterations(self.model) % self.save_freq == 0:
            self._save(self._epoch, self._step_in_epoch(batch))

    def on_epoch_end(self, epoch, logs=None):
        if self.non_finite is not None:
            return
        over = self.model.stop_training or (
            self.epochs is not None and epoch + 1 >= self.epochs
        )
        self._save(epoch + 1, 0, status="stopped" if over else None)

    def _save(self, epoch, step, status=None):
        self.last_saved_path = save_training_state(
            self.model,
            self.backup_dir,
            epoch,
            step,
            self.strategy,
            callbacks=self.callbacks,
            status=status,
        )
        self.last_saved = (epoch, step)
