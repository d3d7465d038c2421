"""The one decode loop: prefill a KV cache once, then one token per step.

Over 400 lines on purpose: the one loop of every backend and every caller
(language model, greedy translation), with its cache sizing and its sliding
window, reads best in one place.

The loop knows nothing about the model. A model hands it a step function

    step_fn(token_ids (B, T) int32, cache, cache_update_index) -> (logits (B, T, V), cache)

that runs the new tokens at cache positions `cache_update_index ..` and returns
float32 logits and the updated cache (with `cache=None` it must run without a
cache and return `(logits, None)`), and a sampler

    sample_fn(logits (B, V), step) -> (B,) int32

(see `sampling.sample`; `step` is the buffer position, handy to derive a
per-step seed). The language model closes its step function over its backbone,
the translator over the encoder output's cross-attention cache.

How a batch of prompts of different lengths decodes together (as in KerasHub):
prompts are right-padded into one token buffer of `P + max_new_tokens`
columns; the shortest prompt is prefilled in one pass; from then on every row
advances one position per step, and a row whose prompt is longer than the
current position is forced to its own prompt token instead of the sample. So
the cache never holds padding and needs no padding mask. A row stops after
`max_new_tokens` new tokens or after producing `stop_token_id`; the loop ends
when every row has stopped.

Past the context (`context_length` positions, the size of the cache), the
loop slides: it re-prefills the last `context_length // 2` tokens in one pass
at positions `0 ..` and continues, so the time per token stays flat and the
model always sees between half a window and a full window of context. Without
a cache (`cache=None`, full recomputation, for tests and benchmarks) every step
runs the model on the last `context_length` tokens.

The loop is written with `keras.ops` (`ops.while_loop`, `ops.cond`,
`ops.slice`, `ops.slice_update`), so the same loop runs on TensorFlow and on
JAX. The backends differ only at the edges, in how the loop is compiled and
how its shapes are known:

- TensorFlow: `decode` runs inside a `tf.function` traced once for every
  batch size, prompt length and setting (shapes are dynamic there); bad
  prompt lengths fail with in-graph assertions. The prefill runs with
  TensorFlow's kernels. With `jit_compile=True` (and a cache) the
  token-by-token loop is its own XLA program (`tf.function(jit_compile=True)`).
- JAX: shapes are static. The token buffer's length and the prefill's width
  are Python ints: the caller computes them on the host and runs `decode`
  under `jax.jit` (as `TransformerLM.generate` does); called eagerly with
  concrete arrays, `decode` computes them itself. A prefill wider than the
  shortest prompt writes positions that the loop overwrites before any query
  can attend to them (attention is causal), so one width serves many prompt
  lengths. Without a cache each step runs the model on a fixed window and
  reads the logits at the step's position (attention is causal).

Under XLA (both backends) XLA updates the cache in place (one cache per
layer, heads before positions, see `Decoder.initial_cache`), where
TensorFlow's kernels copy the cache tensor at every step; and a step projects
its one token's queries, keys and values with one matrix product
(`MultiHeadAttention._fused_projection`). Measured with
`benchmarks/lm_generation.py` (README.md, "Generation speed"): a cached step
costs about its memory traffic, the weights plus the filled cache read once.
XLA needs static shapes, so everything the loop carries has one: the prefill
runs before the loop, a slide re-prefills exactly `context_length // 2`
tokens, and the token buffer and the cache are padded to the next power of two
(`padded_length`), so a handful of lengths covers every call. XLA compiles
once per batch size and padded length; on TensorFlow the `tf.function` around
`decode` is still traced once.

Legend: B batch, T tokens in one step, P longest prompt, L buffer length
(`P + max_new_tokens`), C context length, V vocabulary.
"""

import functools

import keras
import numpy as np
from keras import ops

# Logit given to the padding id: decoding never produces padding.
_SUPPRESSED = -1e9

# Shortest padded length: below it, padding costs less than another compilation.
_MIN_PADDED_LENGTH = 16


def _is_int(value):
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def padded_length(length):
    """`length` rounded up to a power of two (at least 16).

    The lengths XLA compiles the decode loop for: calls whose lengths round to
    the same value share one compiled program, and padding wastes less than
    half of the buffer. A Python int gives a Python int (a static shape); a
    tensor gives a scalar int32 tensor.

    Example:
    >>> [int(padded_length(n)) for n in (1, 16, 17, 100, 1040)]
    [16, 16, 32, 128, 2048]
    """
    if _is_int(length):
        return 1 << (max(int(length), _MIN_PADDED_LENGTH) - 1).bit_length()
    # Smear the highest set bit of length - 1 into every lower bit, add one.
    bits = ops.maximum(ops.cast(length, "int32"), _MIN_PADDED_LENGTH) - 1
    for shift in (1, 2, 4, 8, 16):
        bits = ops.bitwise_or(bits, ops.right_shift(bits, shift))
    return bits + 1


def cache_length(prompt_length, max_new_tokens, context_length, padded=False):
    """Positions a decoding call can fill: prompt + new tokens, at most the context.

    Size the cache with it: every step reads the whole cache, so a cache of
    the whole context would cost every call, whatever its output length.
    Python ints give a Python int (a static shape), tensors a tensor.

    Args:
        prompt_length, max_new_tokens: scalar ints.
        context_length: int, the most positions the model holds.
        padded: round up with `padded_length` first (the shapes XLA compiles
            the decode loop for, see `decode(jit_compile=True)`).

    Example:
    >>> [int(cache_length(5, n, 1040)) for n in (3, 100, 2000)]
    [8, 105, 1040]
    >>> [int(cache_length(5, n, 1040, padded=True)) for n in (3, 100, 2000)]
    [16, 128, 1040]
    """
    if _is_int(prompt_length) and _is_int(max_new_tokens):
        needed = int(prompt_length) + max(int(max_new_tokens), 0)
        if padded:
            needed = padded_length(needed)
        return min(needed, int(context_length))
    needed = ops.cast(prompt_length, "int32") + ops.maximum(
        ops.cast(max_new_tokens, "int32"), 0
    )
    if padded:
        needed = padded_length(needed)
    return ops.minimum(needed, int(context_length))


def prefill_width(shortest_prompt, cache_size):
    """A static prefill width for prompts whose shortest has `shortest_prompt` tokens.

    The prefill covers all but the last token of the shortest prompt, rounded
    up to a power of two (at most the cache), so that calls with prompts of
    similar lengths share one compiled program (JAX); see the module
    docstring. 0 means no prefill.

    Example:
    >>> [prefill_width(n, 64) for n in (1, 2, 17, 40, 64)]
    [0, 16, 16, 64, 64]
    """
    if shortest_prompt <= 1:
        return 0
    return min(padded_length(int(shortest_prompt) - 1), int(cache_size))


def _host_values(tensor):
    """`tensor` as a NumPy array when its values are known (not traced), else `None`."""
    try:
        return np.asarray(ops.convert_to_numpy(tensor))
    except Exception:  # a tracer or a symbolic tensor: values known only when run
        return None


def _check_prompt_lengths(prefill_length, prompt_lengths, context_length):
    """Prompts hold 1 to `context_length` tokens: in-graph (TensorFlow) or on the host."""
    at_least_one = "every prompt needs at least one token"
    fit = "prompts must fit the context (see pack_prompts)"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        checks = [
            tf.debugging.assert_greater_equal(prefill_length, 1, message=at_least_one),
            tf.debugging.assert_less_equal(
                tf.reduce_max(prompt_lengths), context_length, message=fit
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(prefill_length)
    lengths = _host_values(prompt_lengths)
    if lengths is not None and lengths.size:  # under jax.jit the caller checked them
        if lengths.min() < 1:
            raise ValueError(f"{at_least_one}. Received: prompt_lengths={lengths.tolist()}")
        if lengths.max() > context_length:
            raise ValueError(f"{fit}. Received: prompt_lengths={lengths.tolist()}")
    return prefill_length


def _xla_loops(run_loop):
    """The loop as two XLA programs (TensorFlow), with and without the slide.

    XLA compiles both branches of a `cond`, and a cache shorter than the
    slide's window (a call that never slides) cannot take a window's keys:
    the program that a call takes is the only one compiled for it.
    """
    import tensorflow as tf

    return [
        tf.function(
            functools.partial(run_loop, can_slide=can_slide),
            jit_compile=True,
            autograph=False,
        )
        for can_slide in (False, True)
    ]


def decode(
    step_fn,
    sample_fn,
    prompt_ids,
    prompt_lengths,
    max_new_tokens,
    context_length,
    cache=None,
    stop_token_id=-1,
    pad_id=0,
    jit_compile=False,
    buffer_length=None,
    prefill=None,
):
    """Generates up to `max_new_tokens` tokens after each prompt.

    On TensorFlow call it inside a `tf.function` (the loop is then traced
    once for every batch size, prompt length and sampling setting). On JAX
    call it under `jax.jit` with `buffer_length` and `prefill` (static), or
    eagerly with concrete arrays.

    Args:
        step_fn: `(token_ids, cache, cache_update_index) -> (logits, cache)`,
            see the module docstring.
        sample_fn: `(logits (B, V), step) -> (B,)` int32 ids.
        prompt_ids: `(B, P)` int32 right-padded prompts (see
            `ragged.pack_prompts`, `prompts.pack_prompt_rows`).
        prompt_lengths: `(B,)` int32, each between 1 and `context_length`.
        max_new_tokens: scalar int, new tokens per row.
        context_length: int, number of positions the model (and cache) holds.
        cache: the step function's initial (empty) cache; `None` recomputes
            the whole window at every step instead.
        stop_token_id: scalar int; a row stops after producing it (its last
            token is then the stop token). -1 = none.
        pad_id: the padding id; it is never generated and fills each row after
            its end.
        jit_compile: compile the token-by-token loop with XLA (needs a cache;
            see the module docstring) and pad the buffer to a power of two.
            `step_fn` and `sample_fn` must then be XLA-compatible. (JAX
            always compiles the loop.)
        buffer_length: static int, the token buffer's width, at least the
            longest prompt plus `max_new_tokens` and at least `P` (static
            shapes: JAX; `prompt_ids` may then be padded wider than the
            longest prompt). `None` computes it (`P + max_new_tokens`,
            padded with `jit_compile`).
        prefill: static int, how many positions to prefill before the loop
            (with `buffer_length`; see `prefill_width`). `None` prefills all
            but the last token of the shortest prompt.

    Returns:
        `(token_ids (B, L) int32, lengths (B,) int32)`: prompt plus new tokens,
        padded after `lengths`. Under `jax.jit` (traced lengths) the width is
        `buffer_length` instead of `L`.
    """
    context_length = int(context_length)
    window = max(context_length // 2, 1)  # tokens kept when the cache is full
    prompt_ids = ops.cast(prompt_ids, "int32")
    prompt_lengths = ops.cast(prompt_lengths, "int32")
    stop_token_id = ops.cast(stop_token_id, "int32")
    jit_compile = bool(jit_compile) and cache is not None
    batch_size, prompt_length = ops.shape(prompt_ids)
    # TensorFlow's graph has dynamic shapes; JAX (and a given buffer length) static ones.
    dynamic = buffer_length is None and keras.backend.backend() == "tensorflow"
    if dynamic:
        max_new_tokens = ops.cast(max_new_tokens, "int32")
        total_length = prompt_length + max_new_tokens  # L
        buffer_length = padded_length(total_length) if jit_compile else total_length
    else:
        # Static shapes: the buffer may be wider than the longest prompt plus
        # the new tokens (the caller pads prompts to one width for many calls).
        lengths = _host_values(prompt_lengths)
        new_tokens = _host_values(max_new_tokens)
        if lengths is not None and new_tokens is not None:  # eager, concrete
            total_length = int(lengths.max(initial=0)) + int(new_tokens)
        else:
            total_length = ops.max(prompt_lengths) + ops.cast(max_new_tokens, "int32")
        if buffer_length is None:
            if not _is_int(total_length):
                raise ValueError(
                    "Under jax.jit, pass the static `buffer_length` and `prefill` (see "
                    "`padded_length` and `prefill_width`). Received: buffer_length=None"
                )
            buffer_length = padded_length(total_length) if jit_compile else total_length
        buffer_length = max(int(buffer_length), int(prompt_length))
        if prefill is None:
            if lengths is None:
                raise ValueError(
                    "Under jax.jit, pass the static `prefill` width (see `prefill_width`). "
                    "Received: prefill=None"
                )
            prefill = max(int(lengths.min(initial=1)) - 1, 0)
        # An empty batch has nothing to decode (and nothing worth compiling).
        if _is_int(batch_size) and batch_size == 0:
            width = total_length if _is_int(total_length) else buffer_length
            return ops.zeros((0, width), "int32"), prompt_lengths
    tokens = ops.pad(
        prompt_ids, [[0, 0], [0, buffer_length - prompt_length]], constant_values=pad_id
    )  # (B, L or padded L)
    if dynamic:
        # An empty batch prefills one (absent) token and skips the loop.
        shortest = ops.min(prompt_lengths, initial=np.iinfo("int32").max)
        prefill_length = ops.where(batch_size > 0, shortest, 1)
    else:
        prefill_length = ops.min(prompt_lengths)
    prefill_length = _check_prompt_lengths(prefill_length, prompt_lengths, context_length)

    def next_logits(token_ids, cache, cache_update_index, position=None):
        logits, cache = step_fn(token_ids, cache, cache_update_index)  # (B, T, V)
        if position is None:
            logits = logits[:, -1]  # (B, V)
        else:
            logits = ops.take(logits, position, axis=1)  # (B, V)
        logits = ops.cast(logits, "float32")
        not_pad = ops.arange(ops.shape(logits)[-1], dtype="int32") != pad_id  # (V,)
        return ops.where(not_pad[None, :], logits, _SUPPRESSED), cache

    def logits_at(tokens, index, cache, window_start, refill, can_slide):
        """Logits for position `index`: one cached step, or a window in one pass."""
        if cache is None:
            if dynamic:  # the last `context_length` tokens
                start = ops.maximum(index - context_length, 0)
                logits, _ = next_logits(
                    ops.slice(tokens, [0, start], [batch_size, index - start]), None, 0
                )
                return logits, None
            # A fixed width: the window ends at or after `index`.
            width = min(context_length, buffer_length)
            start = ops.maximum(index - width, 0)
            window_ids = ops.slice(tokens, [0, start], [batch_size, width])  # (B, W)
            logits, _ = next_logits(window_ids, None, 0, position=index - 1 - start)
            return logits, None

        def prefill():  # after a slide: the last `window` tokens at 0 ..
            last_window = ops.slice(tokens, [0, window_start], [batch_size, window])  # (B, W)
            return next_logits(last_window, cache, 0)

        def step():  # the cache holds window_start .. index - 2: add index - 1
            last = ops.slice(tokens, [0, index - 1], [batch_size, 1])  # (B, 1)
            return next_logits(last, cache, index - 1 - window_start)

        # Without a slide the re-prefill branch is left out: XLA compiles
        # both branches of a `cond`, and a cache shorter than `window` (a
        # call that never slides) cannot take a window's keys.
        return ops.cond(refill, prefill, step) if can_slide else step()

    def body(state, can_slide):
        index = state["index"]
        logits, cache = logits_at(
            state["tokens"],
            index,
            state.get("cache"),
            state["window_start"],
            state["refill"],
            can_slide,
        )
        in_prompt = index < prompt_lengths  # (B,)
        sampled = sample_fn(logits, index)  # (B,)
        prompt_token = ops.slice(state["tokens"], [0, index], [batch_size, 1])[:, 0]  # (B,)
        token = ops.where(in_prompt, prompt_token, sampled)  # (B,)
        tokens = ops.slice_update(state["tokens"], [0, index], token[:, None])  # (B, L)
        finished = (index + 1 >= prompt_lengths + max_new_tokens) | (
            ops.logical_not(in_prompt) & (token == stop_token_id)
        )
        # The next step feeds `token` at cache position index - window_start:
        # when that is past the cache, slide to the last `window` tokens.
        full = index - state["window_start"] >= context_length
        new_state = dict(
            state,
            index=index + 1,
            tokens=tokens,
            window_start=ops.where(full, index + 1 - window, state["window_start"]),
            refill=full,
            done=state["done"] | finished,
            lengths=ops.where(state["done"], state["lengths"], index + 1),
        )
        if cache is not None:
            new_state["cache"] = cache
        return new_state

    def cond(state):
        return (state["index"] < total_length) & ops.logical_not(ops.all(state["done"]))

    def run_loop(state, can_slide):
        return ops.while_loop(cond, lambda state: body(state, can_slide), state)

    state = dict(
        index=prefill_length,
        tokens=tokens,
        window_start=ops.convert_to_tensor(0, "int32"),
        refill=ops.convert_to_tensor(False),
        done=ops.zeros([batch_size], "bool"),
        lengths=prompt_lengths,
    )
    if cache is not None:
        # Prefill, in one pass before the loop: all but the last token of the
        # shortest prompt (the loop's first step feeds that one).
        if dynamic:
            state["cache"] = ops.cond(
                prefill_length > 1,
                lambda: step_fn(
                    ops.slice(tokens, [0, 0], [batch_size, prefill_length - 1]), cache, 0
                )[1],
                lambda: cache,
            )
        elif prefill > 0:
            prefix = ops.slice(tokens, [0, 0], [batch_size, prefill])  # (B, prefill)
            state["cache"] = step_fn(prefix, cache, 0)[1]
            # A narrower prefill leaves the rest of the prompt to the loop.
            state["index"] = ops.minimum(prefill_length, prefill + 1)
        else:
            state["cache"] = cache
            state["index"] = ops.minimum(prefill_length, 1)
    if not dynamic:
        state = run_loop(state, can_slide=buffer_length > context_length)
    elif jit_compile:
        # Two programs, so that a call that cannot slide compiles no slide;
        # XLA compiles the one a call takes.
        loops = _xla_loops(run_loop)

        def decode_all(state):
            return ops.cond(
                total_length > context_length,  # index reaches the context
                lambda: loops[True](state),
                lambda: loops[False](state),
            )
    else:

        def decode_all(state):
            return run_loop(state, can_slide=True)

    if dynamic:
        # An empty batch has nothing to decode (and nothing worth compiling).
        if _is_int(batch_size):
            state = decode_all(state) if batch_size > 0 else state
        else:
            state = ops.cond(batch_size > 0, lambda: decode_all(state), lambda: state)
    lengths = state["lengths"]
    token_ids = state["tokens"]
    if dynamic or _is_int(total_length):
        token_ids = ops.slice(token_ids, [0, 0], [batch_size, total_length])  # (B, L)
    width = ops.shape(token_ids)[1]
    in_output = ops.arange(width, dtype="int32")[None, :] < lengths[:, None]  # (B, L)
    return ops.where(in_output, token_ids, pad_id), lengths
