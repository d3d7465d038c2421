"""Callbacks: the default set for a training run, text samples and BLEU at epoch end."""

import importlib.util
import os

import keras
import sacrebleu

from transformer_keras.utils.validation import check_positive_int


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
        checkpoint: add the ModelCheckpoint callback.

    Returns:
        A list of `keras.callbacks.Callback`.

    Example:
    >>> import tempfile
    >>> callbacks = default_callbacks(tempfile.mkdtemp(), tensorboard=False)
    >>> [type(callback).__name__ for callback in callbacks]
    ['BackupAndRestore', 'TerminateOnNaN', 'BestWeightsCheckpoint']
    """
    if mode is None:
        mode = "max" if monitor.endswith("bleu") else "auto"
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
                best_weights_path(output_dir),
                monitor=monitor,
                mode=mode,
                save_best_only=True,
                save_weights_only=True,
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
    if tensorboard is True or (tensorboard == "auto" and tensorboard_installed):
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")))
    return callbacks


class BestWeightsCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint(save_best_only=True)` for a value logged only on some epochs.

    A monitor such as `val_bleu` (from `BleuCallback(every_n_epochs=n)`) is
    missing from the other epochs' logs; Keras' `ModelCheckpoint` would warn
    on each of them. This one waits silently for the next epoch that logs it.
    It takes the arguments of `keras.callbacks.ModelCheckpoint`.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "best.weights.h5")
    >>> callback = BestWeightsCheckpoint(
    ...     path, monitor="val_bleu", mode="max", save_best_only=True, save_weights_only=True
    ... )
    >>> callback.on_epoch_end(0, {"loss": 1.0})  # No val_bleu this epoch: no warning.
    >>> os.path.exists(path)
    False
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.monitor not in logs:
            return
        super().on_epoch_end(epoch, logs)


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
    """Corpus BLEU (sacreBLEU) of `translate_fn(sources)`, logged as `val_bleu`.

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

    def bleu(self):
        """The corpus BLEU of the current model on the sources, in [0, 100]."""
        hypotheses = list(self.translate_fn(self.sources))
        return sacrebleu.corpus_bleu(hypotheses, [self.references]).score

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs or logs is None:
            return
        logs["val_bleu"] = self.bleu()
