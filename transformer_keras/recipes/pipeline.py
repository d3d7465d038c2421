"""The one fit pipeline: every family's recipe trains and exports through it.

    options = RunOptions(seed=0)              # how: seed, devices, saving
    strategy = start_run(options)             # seeds everything, picks the strategy
    ...                                       # the family's tokenizer, data and FitPlan
    model = fit_plan(plan, run_dir, options, strategy)   # resumable fit, best weights
    path = export_run(model, export, output, strategy)   # the chief writes
    finish_run(run_dir, strategy=strategy)    # the next call starts anew

A family's recipe (`recipes/classifier.py`, ...) is its defaults plus its data
wiring: it learns a tokenizer, describes the run as a `FitPlan` (how to build
and compile the model, one epoch of batches, validation data, what "best"
means, its own callbacks) and hands it here. This module does the rest, the
same way for every family:

- seeding (`set_seed`, TensorFlow op determinism on request) and the
  `tf.distribute` strategy, whose scope the model, optimizer and metrics are
  created under;
- the resumable fit (`training.resumable_fit`): the state of the run (weights,
  optimizer, dropout seeds, data position and every callback's state) is saved
  in `TRAINING_DIR/backup` every epoch (and every `save_every` steps); the same
  call after a kill continues where it stopped;
- the callbacks: the family's first (they may log values, like `val_bleu`),
  then the defaults (`training.callbacks.default_callbacks`: NaN guard, best
  checkpoint, early stopping, TensorBoard), then the caller's;
- the best weights restored at the end (the best checkpoint by the plan's
  monitor), and the state marked "finished";
- the export, written by the chief only (other workers write to a temporary
  folder), after which the training state is deleted. A run killed during the
  export finds its finished state and exports again; a run started after a
  completed one starts anew.

`TRAINING_DIR` is `OUTPUT + ".training"` (`training_dir(output)`): the
checkpoints, TensorBoard logs and the training state of the run exported to
`OUTPUT`.
"""

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import Any

from transformer_keras.utils.validation import check_positive_int

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run trains, whatever the model.

    Attributes:
        seed: seed of initialization, dropout and data order.
        deterministic: also make TensorFlow ops deterministic (slower).
        strategy: a `tf.distribute.Strategy` or one of `STRATEGIES`
            (`transformer_keras.training.distribute.get_strategy`).
        save_every: also save the training state every this many steps
            (`None`: at every epoch end only).
        verbose: `fit`'s verbosity.
        callbacks: more Keras callbacks, run after the recipe's.
    """

    seed: int = 0
    deterministic: bool = False
    strategy: Any = "default"
    save_every: int | None = None
    verbose: Any = 2
    callbacks: tuple = ()

    def __post_init__(self):
        if self.save_every is not None:
            check_positive_int("save_every", self.save_every)

    @property
    def save_freq(self):
        return "epoch" if self.save_every is None else self.save_every


@dataclasses.dataclass
class FitPlan:
    """What a family's recipe hands to the pipeline.

    Attributes:
        build_model: `() -> model`, built and compiled; called under the
            strategy's scope.
        make_batches: `(model) -> tf.data.Dataset`, a new dataset of one epoch
            of global training batches, shuffled with a fixed seed if at all.
        epochs: epochs of training.
        steps_per_epoch: batches per epoch (`None`: counted once).
        validation_data: `(model) -> dataset` or `None`.
        monitor: the logged value that decides the best weights.
        mode: `"min"`, `"max"` or `"auto"` for `monitor`.
        patience: early-stopping patience in epochs (`None`: no early stop).
        callbacks: `(model, chief) -> list` of the family's callbacks (BLEU,
            samples, weight averaging), put before the default ones.
    """

    build_model: Callable
    make_batches: Callable
    epochs: int
    steps_per_epoch: int | None = None
    validation_data: Callable | None = None
    monitor: str = "val_loss"
    mode: str = "auto"
    patience: int | None = None
    callbacks: Callable = lambda model, chief: []


@dataclasses.dataclass
class TrainingResult:
    """What a recipe returns.

    Attributes:
        model: the trained Keras model (best weights).
        path: the exported SavedModel folder (its `.keras` file beside it).
        metrics: the final validation metrics of the Keras model.
    """

    model: object
    path: object
    metrics: dict


def training_dir(output):
    """Where the run exported to `output` keeps its checkpoints, logs and state."""
    return str(output).rstrip("/") + ".training"


# Strategies made by `start_run`, by name: TensorFlow allows one multi-worker
# strategy per process, made before any other TensorFlow op.
_STARTED = {}


def start_run(options):
    """Seeds everything and returns the run's `tf.distribute.Strategy` (or `None`).

    Call it first, before any TensorFlow op (reading the data included): a
    multi-worker strategy must exist before them. A strategy named by a string
    is made once per process; later calls return it (and seed again).

    Args:
        options: `RunOptions`.
    """
    from transformer_keras.training.distribute import get_strategy, num_replicas
    from transformer_keras.training.reproducibility import set_seed

    set_seed(options.seed, deterministic=options.deterministic)
    name = options.strategy
    if not isinstance(name, str):
        return get_strategy(name)
    if name not in _STARTED:
        _STARTED[name] = get_strategy(name)
        if num_replicas(_STARTED[name]) > 1:
            print(f"training on {num_replicas(_STARTED[name])} replicas ({name})", flush=True)
    return _STARTED[name]


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context for `None`."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def check_global_batch_size(name, batch_size, strategy):
    """Raises a `ValueError` unless `batch_size` splits evenly over the replicas."""
    from transformer_keras.training.distribute import num_replicas

    replicas = num_replicas(strategy)
    check_positive_int(name, batch_size)
    if batch_size % replicas:
        raise ValueError(
            f"`{name}` is the global batch; it must be a multiple of the {replicas} "
            f"replicas. Received: {name}={batch_size}"
        )


def fit_plan(plan, run_dir, options, strategy=None, seed=None):
    """Builds, trains (resumably) and returns the model of `plan`, best weights in.

    Args:
        plan: a `FitPlan`.
        run_dir: the folder of this run's checkpoints, logs and state.
        options: `RunOptions`.
        strategy: from `start_run`.
        seed: re-seed before building the model (ensemble members); `None`:
            `options.seed`.

    Returns:
        The trained model. Its state stays in `run_dir/backup` with status
        "finished" until `finish_run` deletes it, so that a run killed
        later (during the export, or in a later ensemble member) does not
        train it again.
    """
    from transformer_keras.training.backup import (
        latest_state,
        load_checkpoint,
        load_training_state,
        save_training_state,
    )
    from transformer_keras.training.callbacks import best_weights_path, default_callbacks
    from transformer_keras.training.distribute import is_chief
    from transformer_keras.training.reproducibility import set_seed
    from transformer_keras.training.resumable_fit import fit_resumable

    set_seed(options.seed if seed is None else seed, deterministic=options.deterministic)
    with strategy_scope(strategy):
        model = plan.build_model()
    backup_dir = os.path.join(run_dir, "backup")
    progress = None
    if latest_state(backup_dir):
        with strategy_scope(strategy):
            progress = load_training_state(model, backup_dir)
    if progress is not None and progress.get("status") == "finished":
        print(f"trained weights found in '{latest_state(backup_dir)}'", flush=True)
        return model
    chief = is_chief(strategy)
    validation = plan.validation_data(model) if plan.validation_data else None
    monitor = plan.monitor if validation is not None else "loss"
    callbacks = [
        *plan.callbacks(model, chief),
        *default_callbacks(
            run_dir,
            monitor=monitor,
            mode=plan.mode if validation is not None else "min",
            early_stopping_patience=plan.patience if validation is not None else None,
            backup=False,  # fit_resumable keeps the training state.
            chief=chief,
        ),
        *options.callbacks,
    ]
    fit_resumable(
        model,
        lambda: plan.make_batches(model),
        epochs=plan.epochs,
        backup_dir=backup_dir,
        steps_per_epoch=plan.steps_per_epoch,
        save_freq=options.save_freq,
        callbacks=callbacks,
        validation_data=validation,
        verbose=options.verbose,
        strategy=strategy,
        delete_state_when_done=False,
    )
    with strategy_scope(strategy):
        if os.path.exists(best_weights_path(run_dir)):
            load_checkpoint(model, best_weights_path(run_dir))  # Names a broken file.
        save_training_state(
            model, backup_dir, plan.epochs, 0, strategy, callbacks=(), status="finished"
        )
    return model


def export_run(model, export, output, strategy=None):
    """`export(model, path)` by the chief; other workers write to a temporary folder.

    Returns:
        The `pathlib.Path` of the export (the chief's).
    """
    from pathlib import Path

    from transformer_keras.training.distribute import chief_writes

    with chief_writes(output, strategy) as target:
        export(model, target)
    return Path(output).absolute()


def finish_run(*run_dirs, strategy=None):
    """Deletes the training state of finished runs: the same call then starts anew."""
    from transformer_keras.training.backup import delete_training_state
    from transformer_keras.training.distribute import is_chief

    if is_chief(strategy):
        for run_dir in run_dirs:
            delete_training_state(os.path.join(run_dir, "backup"))
