"""From next-token logits to next tokens: greedy, temperature, top-k and top-p.

Every setting is a tensor, so one traced decode loop serves them all: changing
the temperature or switching top-k on never retraces. The conventions are the
same in Python and in an exported SavedModel:

- `temperature = 0` is greedy decoding (argmax); `temperature > 0` divides the
  logits before sampling. Negative or non-finite temperatures are errors.
- `top_k = 0` keeps every token; `top_k = k > 0` keeps the `k` most likely
  ones (all of them when `k >= V`). Negative values are errors.
- `top_p = 1` keeps every token; `top_p` in (0, 1) keeps the smallest set of
  most likely tokens whose probability reaches `top_p` (nucleus sampling,
  Holtzman et al., 2019), computed after top-k. Values outside (0, 1] are
  errors.

Legend: B batch, V vocabulary.
"""

import math

import tensorflow as tf

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
    """In-graph version of `check_sampling_settings` (for exported signatures).

    Returns the assertion ops; under `tf.function` they run automatically.
    """
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
    """
    vocabulary_size = tf.shape(logits)[-1]
    top_k = tf.cast(top_k, tf.int32)
    top_p = tf.cast(top_p, tf.float32)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")  # (B, V)
    rank = tf.range(vocabulary_size)[None, :]  # (1, V)
    in_top_k = rank < k  # (1, V)
    sorted_probs = tf.nn.softmax(tf.where(in_top_k, sorted_logits, _NEG_INF))  # (B, V)
    # Probability mass of the strictly more likely tokens: the first token is
    # always kept, and every token is kept when top_p == 1 (no rounding loss).
    mass_before = tf.cumsum(sorted_probs, axis=-1, exclusive=True)  # (B, V)
    keep = in_top_k & ((mass_before < top_p) | (top_p >= 1.0))  # (B, V)
    threshold = tf.reduce_min(
        tf.where(keep, sorted_logits, float("inf")), axis=-1, keepdims=True
    )  # (B, 1)
    return tf.where(logits >= threshold, logits, _NEG_INF)


def sample(logits, temperature, top_k, top_p, seed):
    """Picks one token per row of `(B, V)` logits.

    Args:
        logits: `(B, V)` float logits.
        temperature: scalar; 0 (or below) is greedy, see the module docstring.
        top_k: scalar int, 0 = off.
        top_p: scalar float in (0, 1], 1 = off.
        seed: `(2,)` int32 stateless seed; the same seed gives the same draw.

    Returns:
        `(B,)` int32 token ids.

    Example:
    >>> logits = tf.constant([[0.0, 3.0, 1.0]])
    >>> sample(logits, 0.0, 0, 1.0, seed=[0, 0]).numpy().tolist()
    [1]
    >>> sample(logits, 1.0, 1, 1.0, seed=[0, 0]).numpy().tolist()  # top-1 = greedy
    [1]
    """
    logits = tf.cast(logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    seed = tf.cast(seed, tf.int32)

    def draw():
        # Shift by the row maximum first: tiny temperatures cannot overflow.
        shifted = logits - tf.reduce_max(logits, axis=-1, keepdims=True)  # (B, V)
        scaled = filter_logits(shifted / temperature, top_k, top_p)  # (B, V)
        return tf.random.stateless_categorical(scaled, 1, seed, dtype=tf.int32)[:, 0]

    def greedy():
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    return tf.cond(temperature > 0.0, draw, greedy)
