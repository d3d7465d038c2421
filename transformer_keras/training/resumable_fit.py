"""`fit_resumable`: `model.fit` that survives a kill and stops on a NaN loss.

Run the same call again after the process died (SIGKILL, preemption, power
loss) and training continues from the last saved state at the same epoch and
step, with the same optimizer state, the same dropout seeds, the same next
batch and the same callback states (early stopping's patience and best
weights, the best checkpoint's value, ...), so that with fixed seeds it ends
with the weights of an uninterrupted run. A run killed after its training
loop ended (its last epoch, or early stopping) only runs the callbacks' end
of training (early stopping's restore of the best weights) again.

How: the batches of all epochs form one stream, `make_batches().repeat()`.
With a seeded `shuffle(..., seed=SEED, reshuffle_each_iteration=True)` the
order of every epoch is a fixed function of the seed *for the first iterator
of a new dataset object* (each further iterator of the same object draws new
shuffle seeds), so `make_batches` is a function that builds a new dataset:
a restarted run rebuilds the same stream and skips the
`epoch * steps_per_epoch + step` batches already trained on (it reads and
drops them: their preprocessing runs again, their training does not). An
epoch interrupted half-way is finished by a first `fit` over its remaining
steps, the later epochs by a second one on a second new stream. The callbacks
see both as one training run: they are called through `_OneRun`, which
passes on the first `on_train_begin` only (then restores their saved states)
and one `on_train_end`, when the run is over.
"""

import contextlib

import keras

from transformer_keras.training.backup import (
    TrainingStateBackup,
    delete_training_state,
    latest_state,
    load_training_state,
    restore_callback_states,
    restore_metric_sums,
)
from transformer_keras.training.distribute import is_chief, multi_worker_fit


class NonFiniteLossError(ValueError):
    """Training stopped because the loss became NaN or infinite."""


def fit_resumable(
    model,
    make_batches,
    epochs,
    backup_dir,
    steps_per_epoch=None,
    save_freq="epoch",
    callbacks=(),
    validation_data=None,
    verbose="auto",
    strategy=None,
    delete_state_when_done=True,
):
    """`model.fit(make_batches(), epochs=...)` that resumes where a killed run stopped.

    Args:
        model: a built, compiled model (create and compile it under
            `strategy.scope()` when distributing).
        make_batches: a function of no arguments that builds a new
            `tf.data.Dataset` of one epoch of *global* batches, shuffled with a
            fixed seed if at all (see the module docstring).
        epochs: the total number of epochs.
        backup_dir: the folder of this run's training state (one per run).
        steps_per_epoch: batches per epoch; defaults to the cardinality of
            `make_batches()`, counted with one pass over the data when
            TensorFlow cannot tell it (filtered or token-budget batches).
        save_freq: `"epoch"` or a number of steps between saves (the state
            is also saved at every epoch end).
        callbacks: more Keras callbacks (`ModelCheckpoint`, `EarlyStopping`,
            `TensorBoard`, ...). They see the interrupted epoch and the
            later ones as two `fit` calls.
        validation_data: passed to `fit`.
        verbose: `fit`'s verbosity.
        strategy: the `tf.distribute.Strategy` (which worker writes).
        delete_state_when_done: remove the state after the last epoch, so
            that the same call starts a new run (Keras' `BackupAndRestore`
            does the same).

    Returns:
        A `keras.callbacks.History` with the logs of every epoch run by this
        call (an interrupted epoch's metrics cover its remaining steps only).

    Raises:
        NonFiniteLossError: the loss became NaN or infinite; the last good
            state is kept in `backup_dir` and the message says where.
        ValueError: a bad argument, or a corrupt training state (its path
            named).

    Example:
    >>> import tempfile, keras, numpy as np, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> def make_batches():
    ...     examples = (np.ones((8, 2)), np.ones((8, 1)))
    ...     return tf.data.Dataset.from_tensor_slices(examples).shuffle(8, seed=0).batch(4)
    >>> history = fit_resumable(
    ...     model, make_batches, epochs=2, backup_dir=tempfile.mkdtemp(), verbose=0)
    >>> len(history.history["loss"])
    2
    """
    _check_epochs(epochs)
    steps_per_epoch = _steps_per_epoch(make_batches, steps_per_epoch)
    with _scope(strategy):  # Optimizer variables made while loading are distributed too.
        progress = load_training_state(model, backup_dir) or {"epoch": 0, "step": 0}
    epoch, step = progress["epoch"], progress["step"]
    if step >= steps_per_epoch:  # Saved on an epoch's last step.
        epoch, step = epoch + 1, 0
    over = progress.get("status") is not None or epoch >= epochs
    if epoch or step or over:
        where = "after its training loop" if over else f"epoch {epoch + 1}, step {step}"
        print(
            f"Resuming from the state in '{latest_state(backup_dir)}': {where}"
            + ("." if over else f" of {steps_per_epoch}."),
            flush=True,
        )
    backup = TrainingStateBackup(
        backup_dir, save_freq=save_freq, strategy=strategy, callbacks=callbacks, epochs=epochs
    )
    backup.start = (epoch, step)
    run = _OneRun(
        [*callbacks, backup], model, backup_dir, resumed=bool(epoch or step or over), step=step
    )
    history = keras.callbacks.History()
    history.set_model(model)
    history.on_train_begin()
    fit_kwargs = dict(
        callbacks=[run],
        validation_data=validation_data,
        verbose=verbose,
        shuffle=False,  # `make_batches` shuffles (with its seed); Keras cannot.
    )
    with multi_worker_fit(model, strategy, lambda: next(iter(make_batches()))):
        if not over:
            _fit_epochs(
                model, make_batches, epochs, steps_per_epoch, epoch, step, history, fit_kwargs
            )
        run.end()
    if backup.non_finite is not None:
        raise NonFiniteLossError(_non_finite_message(backup, backup_dir, steps_per_epoch))
    if delete_state_when_done and is_chief(strategy):
        delete_training_state(backup_dir)
    return history


class _OneRun(keras.callbacks.CallbackList):
    """The run's callbacks, called as if the fits of a resumed run were one.

    `on_train_begin` reaches them once (the first fit's); then, in a resumed
    process, their saved states are restored (and, mid-epoch, the metric sums
    after Keras resets the metrics at the epoch's start). `on_train_end`
    reaches them once, from `end()` when the run is over: early stopping then
    restores its best weights once, at the end, as in an uninterrupted run.

    Keras gives each callback list its own copy of an epoch's logs; what the
    run's callbacks add to them (`val_bleu`) is copied back to `fit`'s logs
    (`_LogsBack`, the last of the list), for its progress bar and `History`.
    """

    def __init__(self, callbacks, model, backup_dir, resumed, step):
        self.logs_back = _LogsBack()
        super().__init__([*callbacks, self.logs_back], model=model)
        self.backup_dir = backup_dir
        self.resumed = resumed
        self.restore_metrics = resumed and step > 0
        self.begun = False
        self.ended = False

    def on_train_begin(self, logs=None):
        if self.begun:
            return
        self.begun = True
        super().on_train_begin(logs)
        if self.resumed:
            restore_callback_states(self.callbacks, self.backup_dir)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if self.restore_metrics:  # Keras reset them just before this call.
            self.restore_metrics = False
            restore_metric_sums(self.model, self.backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        self.logs_back.target = logs
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        """Ignored: a fit may be the first of two; see `end`."""

    def end(self, logs=None):
        """Ends the run for the callbacks (once), after its last fit."""
        if self.ended:
            return
        self.on_train_begin()  # A run resumed after its loop ended never began.
        self.ended = True
        super().on_train_end(logs)


class _LogsBack(keras.callbacks.Callback):
    """Copies the epoch's logs, as the callbacks before it left them, into `target`."""

    target = None

    def on_epoch_end(self, epoch, logs=None):
        if self.target is not None and logs is not None:
            self.target.update(logs)


def _fit_epochs(model, make_batches, epochs, steps_per_epoch, epoch, step, history, fit_kwargs):
    """Finishes an interrupted epoch, then fits the later ones."""
    stream = _stream(make_batches, epoch * steps_per_epoch + step)
    if step and epoch < epochs:
        run = model.fit(
            stream,
            initial_epoch=epoch,
            epochs=epoch + 1,
            steps_per_epoch=steps_per_epoch - step,
            **fit_kwargs,
        )
        _merge(history, run)
        epoch, step = epoch + 1, 0
        stream = _stream(make_batches, epoch * steps_per_epoch)
    if epoch < epochs and not model.stop_training:
        run = model.fit(
            stream,
            initial_epoch=epoch,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            **fit_kwargs,
        )
        _merge(history, run)


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _check_epochs(epochs):
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")


def _steps_per_epoch(make_batches, steps_per_epoch):
    if steps_per_epoch is not None:
        if (
            isinstance(steps_per_epoch, bool)
            or not isinstance(steps_per_epoch, int)
            or steps_per_epoch <= 0
        ):
            raise ValueError(
                "`steps_per_epoch` must be a positive integer. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        return steps_per_epoch
    import tensorflow as tf

    dataset = _new_dataset(make_batches)
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.UNKNOWN_CARDINALITY:  # E.g. token-budget batches.
        cardinality = int(dataset.reduce(0, lambda count, _: count + 1))  # One pass.
    if cardinality <= 0:  # Infinite or empty.
        raise ValueError(
            "`make_batches()` must give a finite, non-empty epoch, or pass `steps_per_epoch` "
            f"(the dataset's cardinality is {cardinality}). Received: steps_per_epoch=None"
        )
    return cardinality


def _new_dataset(make_batches):
    import tensorflow as tf

    dataset = make_batches() if callable(make_batches) else None
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "`make_batches` must be a function that returns a new tf.data.Dataset of one "
            "epoch of batches (a dataset object replays its shuffle order only once). "
            f"Received: make_batches={make_batches!r}"
        )
    return dataset


def _stream(make_batches, skip):
    """Every epoch's batches in a row from a new dataset, the first `skip` dropped."""
    return _new_dataset(make_batches).repeat().skip(skip)


def _merge(history, run):
    history.epoch += run.epoch
    for key, values in run.history.items():
        history.history.setdefault(key, []).extend(values)


def _non_finite_message(backup, backup_dir, steps_per_epoch):
    bad = backup.non_finite
    if backup.last_saved is None:
        kept = f"The training state in '{backup_dir}' (if any) is as it was before this run"
    else:
        epoch, step = backup.last_saved
        if step >= steps_per_epoch:
            epoch, step = epoch + 1, 0
        kept = (
            f"The last good state (epoch {epoch + 1}, step {step}) is kept in "
            f"'{backup.last_saved_path}'"
        )
    return (
        f"Training stopped at epoch {bad['epoch'] + 1}, step {bad['step']}: the loss became "
        f"{bad['loss']}. {kept}. Lower the learning rate or check the data, then run again "
        "to resume from it."
    )
