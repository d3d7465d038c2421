"""Training on several devices or machines through `tf.distribute` (TensorFlow backend).

The zoo adds no parallelism of its own: `get_strategy` picks one of
TensorFlow's strategies, the model, its optimizer and its metrics are created
under `strategy.scope()`, and Keras' `fit` hands each replica its share of
every global batch (`strategy.experimental_distribute_dataset`). The helpers
here cover what is left: naming a strategy on the command line, splitting the
CPU into logical devices to test on a laptop, the per-replica batch size, and
which worker of a multi-worker job writes files.

    strategy = get_strategy("mirrored")          # every local GPU
    with strategy.scope():
        model = TransformerClassifier.from_preset("small", num_classes=2, ...)
        model.compile()
    model.fit(global_batches, ...)                # batches of the global size

On the JAX backend use `keras.distribution.DataParallel` instead (see "Training on
more hardware" in the README); `get_strategy` accepts only `"default"` there.
"""

import contextlib
import json
import os
import shutil
import tempfile

import keras

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")


def get_strategy(strategy="default"):
    """The `tf.distribute.Strategy` named by `strategy`, or `strategy` itself.

    Args:
        strategy: a `tf.distribute.Strategy` (returned as is) or one of
            - `"default"`: the default strategy, one device (a GPU if there
              is one, else the CPU);
            - `"mirrored"`: `MirroredStrategy` over every local GPU (or the
              logical CPUs made by `split_cpu_devices`);
            - `"multi-worker"`: `MultiWorkerMirroredStrategy`, the cluster
              read from the `TF_CONFIG` environment variable (a single local
              worker without it);
            - `"tpu"`: `TPUStrategy` on the TPU named by the `TPU_NAME`
              environment variable (default `"local"`, a TPU VM).

    Returns:
        A `tf.distribute.Strategy` (`None` for `"default"` on a non-TensorFlow
        backend, where Keras' own distribution API applies).

    Example:
    >>> get_strategy("default").num_replicas_in_sync
    1
    """
    if keras.backend.backend() != "tensorflow":
        if strategy == "default":
            return None
        raise ValueError(
            "`tf.distribute` strategies need the TensorFlow backend; on "
            f"{keras.backend.backend()!r} use `keras.distribution.DataParallel`. "
            f"Received: strategy={strategy!r}"
        )
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "tpu":
        return _tpu_strategy()
    raise ValueError(
        f"`strategy` must be a tf.distribute.Strategy or one of {list(STRATEGIES)}. "
        f"Received: strategy={strategy!r}"
    )


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return
    try:
        config = json.loads(raw)
        config["cluster"]["worker"], config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            "`TF_CONFIG` must be JSON like "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
            f'"index": 0}} ({type(error).__name__}: {error}). Received: TF_CONFIG={raw!r}'
        ) from None


def _tpu_strategy():
    import tensorflow as tf

    name = os.environ.get("TPU_NAME", "local")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"No TPU found at TPU_NAME={name!r} ({type(error).__name__}: {message[:200]}). "
            "Set TPU_NAME to the TPU's name or address, or choose another strategy. "
            "Received: strategy='tpu'"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def split_cpu_devices(count):
    """Splits the physical CPU into `count` logical devices `/cpu:0` ... `/cpu:{count-1}`.

    A `MirroredStrategy` then mirrors over them, which tests multi-replica
    training on a machine without GPUs. TensorFlow allows this only before it
    initializes its devices (before the first op runs), so call it first
    thing in a fresh process.

    Args:
        count: the number of logical CPU devices, at least 1.

    Returns:
        The names of the logical CPU devices.

    Raises:
        RuntimeError: TensorFlow's devices are already initialized with a
            different split.

    Example:
    >>> [name.split("/")[-1] for name in split_cpu_devices(2)]  # doctest: +SKIP
    ['device:CPU:0', 'device:CPU:1']
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"`count` must be a positive integer. Received: count={count!r}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        current = tf.config.list_logical_devices("CPU")
        if len(current) != count:
            raise RuntimeError(
                f"TensorFlow already initialized {len(current)} logical CPU device(s); "
                f"call split_cpu_devices({count}) before any TensorFlow op runs "
                "(first thing in a fresh process)."
            ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def replica_batch_size(global_batch_size, strategy=None):
    """The examples each replica gets per step: `global_batch_size / replicas`.

    Datasets given to `fit` are batched with the *global* batch size; the
    strategy splits every batch between the replicas. Keras averages the
    loss per replica and sums the replicas' gradients, which equals the
    one-device gradient only when the replicas get equal shares, so the
    global batch size must be a multiple of the number of replicas.

    Args:
        global_batch_size: examples per step over all replicas.
        strategy: a `tf.distribute.Strategy`; `None` for the current one.

    Returns:
        An `int`.

    Example:
    >>> replica_batch_size(64)
    64
    """
    if (
        isinstance(global_batch_size, bool)
        or not isinstance(global_batch_size, int)
        or global_batch_size <= 0
    ):
        raise ValueError(
            "`global_batch_size` must be a positive integer. "
            f"Received: global_batch_size={global_batch_size!r}"
        )
    replicas = num_replicas(strategy)
    if global_batch_size % replicas:
        raise ValueError(
            f"`global_batch_size` must be a multiple of the number of replicas ({replicas}) "
            f"so that every replica gets an equal share. "
            f"Received: global_batch_size={global_batch_size}"
        )
    return global_batch_size // replicas


def num_replicas(strategy=None):
    """Replicas that train in sync: 1 without a strategy or on non-TensorFlow backends."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return (strategy or tf.distribute.get_strategy()).num_replicas_in_sync


def distribute_dataset(dataset, strategy=None):
    """`strategy.experimental_distribute_dataset(dataset)`, for custom training loops.

    Each element of `dataset` is a global batch; every replica gets a slice
    of it. `fit`, `evaluate` and `predict` do this themselves: give them the
    plain dataset.

    Args:
        dataset: a `tf.data.Dataset` of global batches.
        strategy: a `tf.distribute.Strategy`; `None` for the current one.

    Returns:
        A `tf.distribute.DistributedDataset`.
    """
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"`dataset` must be a tf.data.Dataset. Received: dataset={type(dataset).__name__}"
        )
    strategy = strategy or tf.distribute.get_strategy()
    return strategy.experimental_distribute_dataset(dataset)


def is_chief(strategy=None):
    """Whether this process writes the run's files (checkpoints, exports).

    In a multi-worker job that is worker 0 (or the task of type `chief`);
    every other strategy has one process, which is the chief.
    """
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    resolver = (strategy or tf.distribute.get_strategy()).cluster_resolver
    task_type = resolver.task_type if resolver is not None else None
    if task_type in (None, "chief"):  # No task type: a single process.
        return True
    has_chief_task = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and resolver.task_id == 0 and not has_chief_task


@contextlib.contextmanager
def chief_writes(path, strategy=None):
    """Yields where this worker writes `path`: `path` itself on the chief, else a temp path.

    Every worker of a multi-worker job must run the same saving code (saving
    can involve collective ops), but only the chief's copy is kept: the
    others write into a private temporary folder that is deleted on exit, as
    the TensorFlow multi-worker guide recommends.

    Args:
        path: the final file or folder.
        strategy: a `tf.distribute.Strategy`; `None` for the current one.

    Yields:
        A `str` path to write.

    Example:
    >>> with chief_writes("/tmp/run/export") as target:
    ...     target
    '/tmp/run/export'
    """
    path = str(path)
    if is_chief(strategy):
        yield path
        return
    scratch = tempfile.mkdtemp(prefix="transformer_keras-worker-")
    try:
        yield os.path.join(scratch, os.path.basename(path.rstrip("/")) or "output")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` (collective all-reduce)."""
    if strategy is None or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@contextlib.contextmanager
def multi_worker_fit(model, strategy, make_sample_batch):
    """Lets Keras 3's `fit` / `evaluate` run under a `MultiWorkerMirroredStrategy`.

    Keras 3 (up to at least 3.15; keras-team/keras#20585) fails at once with
    `MultiWorkerMirroredStrategy` in two places:

    1. It builds a model created under a strategy's scope from
       `strategy.reduce("MEAN", first_batch)`, which the multi-worker strategy
       cannot do for a tuple of tensors (and which would need equal batch
       shapes on every worker). Here the model's metrics and loss are built
       from a local sample batch with Keras' own build step, and the strategy
       is hidden from the model while the context is open, so Keras skips that
       step; it still finds the strategy through the open `strategy.scope()`
       and distributes the data and the steps as usual.
    2. It averages the scalar logs (loss, metrics) over the workers with
       `strategy.reduce("MEAN", value, axis=0)`, which fails for a scalar; the
       strategy's `reduce` is given `axis=None` for scalars while the context
       is open (the same mean over every replica).

    Other strategies are left alone.

    Args:
        model: a compiled model created under `strategy.scope()`.
        strategy: the `tf.distribute.Strategy`.
        make_sample_batch: a function returning one `(x, y)` or
            `(x, y, sample_weight)` batch (called for multi-worker only).
    """
    if not is_multi_worker(strategy):
        yield
        return
    model._maybe_symbolic_build(data_batch=make_sample_batch())  # Keras' build, local batch.
    hidden, model._distribute_strategy = model._distribute_strategy, None
    strategy.reduce = _scalar_safe_reduce(strategy)
    try:
        with strategy.scope():
            yield
    finally:
        del strategy.reduce  # The class's own method again.
        model._distribute_strategy = hidden


def _scalar_safe_reduce(strategy):
    reduce = type(strategy).reduce

    def scalar_safe_reduce(reduce_op, value, axis=None):
        local = strategy.experimental_local_results(value)[0]
        if axis is not None and len(local.shape) == 0:
            axis = None  # A scalar has no axis 0; reduce over the replicas only.
        return reduce(strategy, reduce_op, value, axis)

    return scalar_safe_reduce
