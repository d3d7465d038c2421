"""The training state a killed run resumes from: weights, optimizer, epoch and step.

Keras 3's `BackupAndRestore` records the batch it saved at but restarts the
interrupted epoch from its first batch, with weights that have already seen
part of it, and it overwrites its files in place, so a kill during a save can
leave weights and epoch counter that disagree. The zoo keeps its own state:

    BACKUP_DIR/latest                                the name of the newest state
    BACKUP_DIR/state-240-2-40/weights.weights.h5     model and optimizer variables
    BACKUP_DIR/state-240-2-40/progress.json          {"epoch": 2, "step": 40, "iterations": 240}

`epoch` is the epoch in progress and `step` the batches of it already done
(`step == 0`: the epoch has not started). Each save writes a new folder under
a temporary name, renames it into place, then atomically replaces the
`latest` file that names it (`utils/atomic.py`), and only then deletes the
older folders; whenever the process dies, `latest` names a complete state.
In a multi-worker job only the chief's copy is kept
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

from transformer_keras.training.distribute import chief_writes
from transformer_keras.utils.atomic import atomic_directory, atomic_file
from transformer_keras.utils.validation import check_positive_int

WEIGHTS_FILE = "weights.weights.h5"
PROGRESS_FILE = "progress.json"
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


def save_training_state(model, backup_dir, epoch, step, strategy=None):
    """Writes the model and optimizer variables, `epoch` and `step`, as the newest state.

    Args:
        model: a built, compiled model.
        backup_dir: the run's backup folder.
        epoch: the epoch in progress (0-based).
        step: batches of that epoch already done.
        strategy: the `tf.distribute.Strategy`; on a multi-worker job's
            non-chief workers the state goes to a temporary folder that is
            deleted.

    Returns:
        The `pathlib.Path` of the new state folder.
    """
    progress = {"epoch": int(epoch), "step": int(step), "iterations": _iterations(model)}
    name = f"{STATE_PREFIX}{progress['iterations']}-{progress['epoch']}-{progress['step']}"
    with chief_writes(Path(backup_dir).absolute(), strategy) as root:
        root = Path(root)
        with atomic_directory(root / name) as staging:
            model.save_weights(staging / WEIGHTS_FILE)
            (staging / PROGRESS_FILE).write_text(json.dumps(progress))
        with atomic_file(root / LATEST_FILE) as staging_file:
            staging_file.write_text(name)
        _delete_states(root, keep=name)
    return Path(backup_dir).absolute() / name


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


def _iterations(model):
    if model.optimizer is None:
        return 0
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class TrainingStateBackup(keras.callbacks.Callback):
    """Saves the training state every `save_freq` steps and at every epoch end.

    Use it through `fit_resumable`, which restores the state and tells the
    callback where the run resumed (`start`). A step whose loss is NaN or
    infinite is never saved: the callback stops training and keeps the last
    good state (`non_finite` then describes the step).

    Args:
        backup_dir: the run's backup folder (one per run).
        save_freq: `"epoch"`, or a positive integer: also save after every
            `save_freq` optimizer steps.
        strategy: the `tf.distribute.Strategy` (who writes, see
            `save_training_state`).

    Attributes:
        non_finite: `None`, or `{"epoch", "step", "loss"}` of the first step
            whose loss was not finite.
        last_saved: `(epoch, step)` of the last state written, or `None`.
        last_saved_path: the folder of that state, or `None`.
    """

    def __init__(self, backup_dir, save_freq="epoch", strategy=None):
        super().__init__()
        if save_freq != "epoch":
            check_positive_int("save_freq", save_freq)
        self.backup_dir = backup_dir
        self.save_freq = save_freq
        self.strategy = strategy
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
        if self.non_finite is None:
            self._save(epoch + 1, 0)

    def _save(self, epoch, step):
        self.last_saved_path = save_training_state(
            self.model, self.backup_dir, epoch, step, self.strategy
        )
        self.last_saved = (epoch, step)
