"""Callbacks: the default set for a training run, text samples, BLEU, a time limit."""

import importlib.util
import math
import os
import tempfile
import time

import keras

from transformer_keras.training.bleu import corpus_scores
from transformer_keras.utils.atomic import atomic_file
from transformer_keras.utils.validation import check_choice, check_positive_int


def best_weights_path(output_dir):
    """Where `default_callbacks(output_dir)` keeps the best weights."""
    return os.path.join(output_dir, "checkpoints", "best.weights.h5")


def default_callbacks(
    output_dir,
    monitor="val_loss",
    mode=None,
    early_stopping_patience=None,
    tensorboard="auto",
    backup=True,
    checkpoint=True,
    chief=True,
):
    """The callbacks every training run wants, all writing under `output_dir`.

    - `BackupAndRestore(output_dir/backup)`: an interrupted `fit` called again
      with the same callbacks resumes from the last finished epoch.
    - `TerminateOnNaN`.
    - `BestWeightsCheckpoint`: the best weights by `monitor`, at
      `best_weights_path(output_dir)` (`checkpoints/best.weights.h5`).
    - `EarlyStopping` on `monitor` (restoring the best weights) when
      `early_stopping_patience` is set.
    - `TensorBoard(output_dir/logs)`, which needs the `tensorboard` package
      (TensorFlow 2.21 no longer installs it).

    On a worker other than the chief of a multi-worker job (`chief=False`)
    nothing is written: the checkpoint only tracks the best value and there
    is no TensorBoard log.

    Callbacks that add values to the logs, such as `BleuCallback`, must come
    before these in the `callbacks` list for `monitor` to see them.

    Args:
        output_dir: the run's folder.
        monitor: the logged value that decides "best" and early stopping.
        mode: `"min"`, `"max"` or `"auto"`; defaults to `"max"` for a BLEU
            monitor and `"auto"` otherwise.
        early_stopping_patience: epochs without improvement before stopping,
            or `None` for no early stopping.
        tensorboard: add the TensorBoard callback: `True`, `False`, or
            `"auto"` (when the `tensorboard` package is installed).
        backup: add the BackupAndRestore callback.
        checkpoint: add the `BestWeightsCheckpoint` callback.
        chief: whether this process writes files (see
            `transformer_keras.training.distribute.is_chief`).

    Returns:
        A list of `keras.callbacks.Callback`.

    Example:
    >>> import tempfile
    >>> callbacks = default_callbacks(tempfile.mkdtemp(), tensorboard=False)
    >>> [type(callback).__name__ for callback in callbacks]
    ['BackupAndRestore', 'TerminateOnNaN', 'BestWeightsCheckpoint']
    """
    if mode is None:
        mode = "max" if _higher_is_better(monitor) else "auto"
    if early_stopping_patience is not None:
        check_positive_int("early_stopping_patience", early_stopping_patience)
    tensorboard_installed = importlib.util.find_spec("tensorboard") is not None
    if tensorboard not in (True, False, "auto"):
        raise ValueError(
            "`tensorboard` must be True, False or 'auto'. "
            f"Received: tensorboard={tensorboard!r}"
        )
    if tensorboard is True and not tensorboard_installed:
        raise ValueError(
            "`tensorboard=True` needs the `tensorboard` package (`pip install tensorboard`). "
            f"Received: tensorboard={tensorboard!r}"
        )
    callbacks = []
    if backup:
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                os.path.join(output_dir, "backup"), double_checkpoint=True
            )
        )
    callbacks.append(keras.callbacks.TerminateOnNaN())
    if checkpoint:
        callbacks.append(
            BestWeightsCheckpoint(
                best_weights_path(output_dir), monitor=monitor, mode=mode, write=chief
            )
        )
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=early_stopping_patience,
                restore_best_weights=True,
            )
        )
    if chief and (tensorboard is True or (tensorboard == "auto" and tensorboard_installed)):
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")))
    return callbacks


class BestWeightsCheckpoint(keras.callbacks.Callback):
    """Saves the model's weights whenever `monitor` improves, atomically.

    The file is written under a temporary name and renamed into place
    (`utils/atomic.py`), so a kill never leaves a partial file. A monitor
    such as `val_bleu` (from `BleuCallback(every_n_epochs=n)`) is missing from
    the other epochs' logs; those epochs are skipped silently. In a
    multi-worker job every worker saves at the same epochs (reading the
    variables may take collective operations, which every worker must run),
    but only the chief keeps its file (`write=False` elsewhere: a temporary
    file, deleted). The best value is part of the training state a resumed
    run restores (`get_state`/`set_state`).

    Args:
        filepath: the `.weights.h5` file.
        monitor: the logged value to watch.
        mode: `"min"`, `"max"`, or `"auto"` (`"max"` for accuracies and
            BLEU, `"min"` otherwise).
        write: write the file (False on non-chief workers).

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "best.weights.h5")
    >>> callback = BestWeightsCheckpoint(path, monitor="val_bleu", mode="max")
    >>> callback.on_epoch_end(0, {"loss": 1.0})  # No val_bleu this epoch: no warning.
    >>> os.path.exists(path)
    False
    """

    def __init__(self, filepath, monitor="val_loss", mode="auto", write=True):
        super().__init__()
        check_choice("mode", mode, ("min", "max", "auto"))
        if mode == "auto":
            mode = "max" if _higher_is_better(monitor) else "min"
        self.filepath = str(filepath)
        self.monitor = monitor
        self.mode = mode
        self.write = write
        self.best = None

    def _improves(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)) or not self._improves(value):
            return
        self.best = float(value)
        if self.write:
            with atomic_file(self.filepath) as staging:
                self.model.save_weights(staging)
        else:
            with tempfile.TemporaryDirectory(prefix="transformer_keras-worker-") as scratch:
                self.model.save_weights(os.path.join(scratch, "best.weights.h5"))

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = state["best"]


def _higher_is_better(monitor):
    return any(word in monitor for word in ("acc", "bleu", "chrf"))


class StopAfter(keras.callbacks.Callback):
    """Ends `fit` once `seconds` of training have passed (checked after every batch).

    Example:
    >>> callback = StopAfter(seconds=60)
    >>> callback.seconds
    60
    """

    def __init__(self, seconds):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValueError(f"`seconds` must be positive. Received: seconds={seconds!r}")
        self.seconds = seconds
        self.deadline = None

    def on_train_begin(self, logs=None):
        self.deadline = time.monotonic() + self.seconds

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() > self.deadline:
            self.model.stop_training = True


class TextSampleCallback(keras.callbacks.Callback):
    """Prints what `sample_fn()` returns every `every_n_epochs` epochs.

    Args:
        sample_fn: a function of no arguments returning a string or a list of
            strings, e.g. `lambda: model.generate("ROMEO:", max_length=64)`.
        every_n_epochs: print after epochs `n, 2n, ...` (1-based).

    Example:
    >>> callback = TextSampleCallback(lambda: "to be or not", every_n_epochs=1)
    >>> callback.on_epoch_end(0)
    sample after epoch 1: to be or not
    """

    def __init__(self, sample_fn, every_n_epochs=1):
        super().__init__()
        if not callable(sample_fn):
            raise ValueError(f"`sample_fn` must be callable. Received: sample_fn={sample_fn!r}")
        check_positive_int("every_n_epochs", every_n_epochs)
        self.sample_fn = sample_fn
        self.every_n_epochs = every_n_epochs

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        samples = self.sample_fn()
        for sample in [samples] if isinstance(samples, str) else samples:
            print(f"sample after epoch {epoch + 1}: {sample}", flush=True)


class BleuCallback(keras.callbacks.Callback):
    """Corpus BLEU and chrF (sacreBLEU) of `translate_fn(sources)`: `val_bleu`, `val_chrf`.

    Put it before `ModelCheckpoint` / `EarlyStopping` to monitor `val_bleu`.

    Args:
        translate_fn: maps a list of source strings to a list of translations.
        sources: the source sentences.
        references: one reference translation per source.
        every_n_epochs: compute after epochs `n, 2n, ...` (1-based).

    Example:
    >>> sources = ["the cat sat on the mat ."]
    >>> callback = BleuCallback(lambda texts: texts, sources, references=sources)
    >>> logs = {}
    >>> callback.on_epoch_end(0, logs)
    >>> round(logs["val_bleu"], 2)
    100.0
    """

    def __init__(self, translate_fn, sources, references, every_n_epochs=1):
        super().__init__()
        if not callable(translate_fn):
            raise ValueError(
                f"`translate_fn` must be callable. Received: translate_fn={translate_fn!r}"
            )
        sources, references = list(sources), list(references)
        if not sources:
            raise ValueError(f"`sources` must not be empty. Received: sources={sources!r}")
        if len(references) != len(sources):
            raise ValueError(
                f"`references` must hold one translation per source ({len(sources)}). "
                f"Received: len(references)={len(references)}"
            )
        check_positive_int("every_n_epochs", every_n_epochs)
        self.translate_fn = translate_fn
        self.sources = sources
        self.references = references
        self.every_n_epochs = every_n_epochs

    def scores(self):
        """`{"bleu", "chrf"}` of the current model on the sources, each in [0, 100]."""
        return corpus_scores(list(self.translate_fn(self.sources)), self.references)

    def bleu(self):
        """The corpus BLEU of the current model on the sources, in [0, 100]."""
        return self.scores()["bleu"]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs or logs is None:
            return
        scores = self.scores()
        logs["val_bleu"], logs["val_chrf"] = scores["bleu"], scores["chrf"]
