"""One call that makes a training run repeatable: `set_seed(seed, deterministic)`.

What a seed fixes, through `keras.utils.set_random_seed`: Python's `random`,
NumPy's global generator and the backend's (TensorFlow's global seed, or the
Keras seed generator on JAX). With it, weight initialization, dropout masks and
every `tf.data` shuffle that is given the same `seed` repeat exactly.

What it cannot fix alone: ops whose result depends on thread scheduling
(reductions on GPUs, parallel `tf.data` maps with stateful functions). With
`deterministic=True`, `tf.config.experimental.enable_op_determinism()` makes
TensorFlow choose deterministic kernels and run such input pipelines in
order, at some speed cost. TensorFlow has no public way to turn it off again:
it holds for the rest of the process.
"""

import keras


def check_seed(seed):
    """Raises a `ValueError` unless `seed` is an integer in `[0, 2**32)`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"`seed` must be an integer in [0, 2**32). Received: seed={seed!r}")


def set_seed(seed, deterministic=False):
    """Seeds Python, NumPy and the backend; optionally makes TensorFlow ops deterministic.

    Call it first, before building the model and the datasets, and give the
    same `seed` to the `tf.data` shuffles (as the `train` commands do).

    Args:
        seed: an integer in `[0, 2**32)`.
        deterministic: also call `tf.config.experimental.enable_op_determinism()`
            (TensorFlow backend; on JAX, CPU and TPU runs are deterministic
            already, GPU runs need `XLA_FLAGS=--xla_gpu_deterministic_ops=true`
            set before JAX starts).

    Returns:
        `seed`.

    Example:
    >>> import numpy as np
    >>> _ = set_seed(7)
    >>> first = np.random.rand()
    >>> _ = set_seed(7)
    >>> first == np.random.rand()
    True
    """
    check_seed(seed)
    if not isinstance(deterministic, bool):
        raise ValueError(
            f"`deterministic` must be True or False. Received: deterministic={deterministic!r}"
        )
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed
