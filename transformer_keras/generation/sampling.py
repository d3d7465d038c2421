"""From next-token logits to next tokens: greedy, temperature, top-k and top-p.

Written with `keras.ops`, so the same sampler runs inside the decode loop on
TensorFlow (under XLA too) and on JAX (under `jax.jit`). Every setting is a
tensor, so one traced decode loop serves them all: changing the temperature or
switching top-k on never retraces. The conventions are the same in Python and
in an exported SavedModel:

- `temperature = 0` is greedy decoding (argmax); `temperature > 0` divides the
  logits before sampling. Negative or non-finite temperatures are errors.
- `top_k = 0` keeps every token; `top_k = k > 0` keeps the `k` most likely
  ones (all of them when `k >= V`). Negative values are errors.
- `top_p = 1` keeps every token; `top_p` in (0, 1) keeps the smallest set of
  most likely tokens whose probability reaches `top_p` (nucleus sampling,
  Holtzman et al., 2019), computed after top-k. Values outside (0, 1] are
  errors.

Random draws are stateless: a `(2,)` seed gives the same draw on every call
of one backend (TensorFlow's stateless ops, JAX's threefry keys). The two
backends draw different numbers from one seed, and so do TensorFlow's kernels
and XLA.

Legend: B batch, V vocabulary.
"""

import math

import keras
from keras import ops

_NEG_INF = float("-inf")


def check_sampling_settings(temperature, top_k, top_p):
    """Python-side check of the settings; raises `ValueError` naming the bad one."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise ValueError(
            f"`temperature` must be a number >= 0. Received: temperature={temperature!r}"
        )
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(
            "`temperature` must be finite and >= 0 (0 means greedy). "
            f"Received: temperature={temperature!r}"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(
            f"`top_k` must be an integer >= 0 (0 or None means off). Received: top_k={top_k!r}"
        )
    if (
        isinstance(top_p, bool)
        or not isinstance(top_p, int | float)
        or not math.isfinite(top_p)
        or not 0.0 < top_p <= 1.0
    ):
        raise ValueError(
            f"`top_p` must be in (0, 1] (1 or None means off). Received: top_p={top_p!r}"
        )


def assert_sampling_settings(temperature, top_k, top_p):
    """In-graph version of `check_sampling_settings` (TensorFlow, exported signatures).

    Returns the assertion ops; under `tf.function` they run automatically.
    """
    import tensorflow as tf

    return [
        tf.debugging.assert_equal(
            tf.math.is_finite(temperature),
            True,
            message="temperature must be finite and >= 0 (0 means greedy)",
        ),
        tf.debugging.assert_greater_equal(
            temperature, 0.0, message="temperature must be finite and >= 0 (0 means greedy)"
        ),
        tf.debugging.assert_greater_equal(top_k, 0, message="top_k must be >= 0 (0 means off)"),
        tf.debugging.assert_greater(
            top_p, 0.0, message="top_p must be in (0, 1] (1 means off)"
        ),
        tf.debugging.assert_less_equal(
            top_p, 1.0, message="top_p must be in (0, 1] (1 means off)"
        ),
    ]


def filter_logits(logits, top_k, top_p):
    """Sets the logits of tokens outside the top-k / top-p set to `-inf`.

    Args:
        logits: `(B, V)` float32.
        top_k: scalar int32 tensor, 0 = off.
        top_p: scalar float32 tensor in (0, 1], 1 = off.

    Returns:
        `(B, V)` float32 logits; at least the most likely token of each row
        stays finite. Ties with the last kept logit are kept too.

    Example:
    >>> logits = ops.convert_to_tensor([[1.0, 3.0, 2.0]])
    >>> ops.convert_to_numpy(filter_logits(logits, 2, 1.0)).tolist()
    [[-inf, 3.0, 2.0]]
    """
    logits = ops.convert_to_tensor(logits, "float32")
    vocabulary_size = ops.shape(logits)[-1]
    top_k = ops.cast(top_k, "int32")
    top_p = ops.cast(top_p, "float32")
    k = ops.where(top_k > 0, ops.minimum(top_k, vocabulary_size), vocabulary_size)
    sorted_logits = -ops.sort(-logits, axis=-1)  # (B, V), descending
    rank = ops.arange(vocabulary_size, dtype="int32")[None, :]  # (1, V)
    in_top_k = rank < k  # (1, V)
    sorted_probs = ops.softmax(ops.where(in_top_k, sorted_logits, _NEG_INF), axis=-1)  # (B, V)
    # Probability mass of the strictly more likely tokens: the first token is
    # always kept, and every token is kept when top_p == 1 (no rounding loss).
    mass_before = ops.pad(
        ops.cumsum(sorted_probs[:, :-1], axis=-1), [[0, 0], [1, 0]]
    )  # (B, V), exclusive
    keep = in_top_k & ((mass_before < top_p) | (top_p >= 1.0))  # (B, V)
    threshold = ops.min(
        ops.where(keep, sorted_logits, float("inf")), axis=-1, keepdims=True
    )  # (B, 1)
    return ops.where(logits >= threshold, logits, _NEG_INF)


def categorical(logits, seed):
    """One stateless draw per row of `(B, V)` logits: `(B,)` int32 ids.

    The backend's edge: TensorFlow's `stateless_categorical` takes the seed
    tensor as it is; `keras.random` takes a JAX key array (the seed as uint32).
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        seed = tf.cast(seed, tf.int32)
        return tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int32)[:, 0]
    if keras.backend.backend() != "jax":
        raise ValueError(
            "Sampling runs on the tensorflow and jax backends. "
            f"Received: backend={keras.backend.backend()!r}"
        )
    draws = keras.random.categorical(logits, 1, dtype="int32", seed=ops.cast(seed, "uint32"))
    return draws[:, 0]


def sample(logits, temperature, top_k, top_p, seed):
    """Picks one token per row of `(B, V)` logits.

    Args:
        logits: `(B, V)` float logits.
        temperature: scalar; 0 (or below) is greedy, see the module docstring.
        top_k: scalar int, 0 = off.
        top_p: scalar float in (0, 1], 1 = off.
        seed: `(2,)` int stateless seed; the same seed gives the same draw.

    Returns:
        `(B,)` int32 token ids.

    Example:
    >>> logits = ops.convert_to_tensor([[0.0, 3.0, 1.0]])
    >>> ops.convert_to_numpy(sample(logits, 0.0, 0, 1.0, seed=[0, 0])).tolist()
    [1]
    >>> ops.convert_to_numpy(sample(logits, 1.0, 1, 1.0, seed=[0, 0])).tolist()  # top-1
    [1]
    """
    logits = ops.cast(logits, "float32")
    temperature = ops.cast(temperature, "float32")
    seed = ops.cast(seed, "int32")

    def draw():
        # Shift by the row maximum first: tiny temperatures cannot overflow.
        shifted = logits - ops.max(logits, axis=-1, keepdims=True)  # (B, V)
        scaled = filter_logits(shifted / temperature, top_k, top_p)  # (B, V)
        return categorical(scaled, seed)

    def greedy():
        return ops.cast(ops.argmax(logits, axis=-1), "int32")

    return ops.cond(temperature > 0.0, draw, greedy)
