"""What every `transformer-keras train <model>` command shares.

- `add_training_arguments(parser)`: `--strategy`, `--seed`, `--deterministic`
  and `--save-every`.
- `start_training(args)`: seeds everything (`set_seed`) and returns the
  `tf.distribute.Strategy`; create the model, optimizer and metrics under
  `strategy_scope(strategy)`.
- `fit_command_model(...)`: `fit_resumable` with those options, so that the
  same command run again after a crash resumes at the same epoch and step.
- `chief_writes(path, strategy)` (re-exported): where this worker writes an
  export; only the chief's copy is kept.

TensorFlow is imported inside the functions so that `--help` stays instant.
"""

import contextlib
import os

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")  # distribute.STRATEGIES


def add_training_arguments(parser):
    """Adds `--strategy`, `--seed`, `--deterministic` and `--save-every` to `parser`."""
    group = parser.add_argument_group("distribution and reproducibility")
    group.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy: one device (default), every local GPU (mirrored), "
        "the workers in TF_CONFIG (multi-worker) or the TPU in TPU_NAME (tpu)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of initialization, dropout and data order (default 0)",
    )
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="also make TensorFlow ops deterministic (slower; same seed, same weights)",
    )
    group.add_argument(
        "--save-every",
        type=int,
        metavar="STEPS",
        help="save the training state every STEPS steps as well as every epoch; a run "
        "killed and started again with the same command resumes from it",
    )


def start_training(args):
    """Seeds everything from `args` and returns the `tf.distribute.Strategy` to train under.

    Args:
        args: parsed arguments with `strategy`, `seed` and `deterministic`
            (see `add_training_arguments`).

    Returns:
        A `tf.distribute.Strategy`.
    """
    from transformer_keras.training.distribute import get_strategy
    from transformer_keras.training.reproducibility import set_seed

    set_seed(args.seed, deterministic=args.deterministic)
    strategy = get_strategy(args.strategy)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        print(f"training on {strategy.num_replicas_in_sync} replicas ({args.strategy})")
    return strategy


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context for `None` (no strategy given)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def check_global_batch_size(batch_size, strategy):
    """Raises a `ValueError` unless `--batch-size` splits evenly over the replicas."""
    from transformer_keras.training.distribute import num_replicas

    replicas = num_replicas(strategy)
    if batch_size % replicas:
        raise ValueError(
            f"--batch-size is the global batch; it must be a multiple of the {replicas} "
            f"replicas. Received: batch_size={batch_size}"
        )


def save_frequency(args):
    """`fit_resumable`'s `save_freq` from `--save-every`."""
    if args.save_every is None:
        return "epoch"
    if args.save_every <= 0:
        raise ValueError(
            "--save-every must be a positive number of steps. "
            f"Received: save_every={args.save_every}"
        )
    return args.save_every


def backup_dir(output_dir):
    """Where a run keeps its resumable training state: `output_dir/backup`."""
    return os.path.join(output_dir, "backup")


def fit_command_model(
    model,
    make_batches,
    args,
    output_dir,
    epochs,
    steps_per_epoch=None,
    callbacks=(),
    validation_data=None,
    strategy=None,
    verbose=2,
):
    """`fit_resumable` with the command's `--save-every`, state in `output_dir/backup`.

    Args:
        model: built and compiled (under `strategy.scope()`).
        make_batches: a function returning a new dataset of one epoch of
            global batches, shuffled with `args.seed`.
        args: the parsed command arguments.
        output_dir: the run's folder (checkpoints, logs, backup).
        epochs, steps_per_epoch, callbacks, validation_data, verbose: as in
            `fit_resumable`.
        strategy: the strategy returned by `start_training`.

    Returns:
        The `keras.callbacks.History`.
    """
    from transformer_keras.training.resumable_fit import fit_resumable

    return fit_resumable(
        model,
        make_batches,
        epochs=epochs,
        backup_dir=backup_dir(output_dir),
        steps_per_epoch=steps_per_epoch,
        save_freq=save_frequency(args),
        callbacks=callbacks,
        validation_data=validation_data,
        verbose=verbose,
        strategy=strategy,
    )


def chief_writes(path, strategy=None):
    """See `transformer_keras.training.distribute.chief_writes`."""
    from transformer_keras.training.distribute import chief_writes as _chief_writes

    return _chief_writes(path, strategy)
