"""The one compiled decode loop: prefill a KV cache once, then one token per step.

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

With `jit_compile=True` (and a cache) the whole token-by-token loop is one XLA
program: XLA updates the cache in place (one cache per layer, heads before
positions, see `Decoder.initial_cache`), where TensorFlow's kernels copy the
cache tensor at every step; and a step projects its one token's queries, keys
and values with one matrix product (`MultiHeadAttention._fused_projection`).
Measured with `benchmarks/lm_generation.py` (README.md, "Generation speed"): a
cached step costs about its memory traffic, the weights plus the filled cache
read once. XLA needs static shapes, so everything the
loop carries has one: the prefill runs before the loop (its length is the
shortest prompt's), a slide re-prefills exactly `context_length // 2` tokens,
and the token buffer and the cache are padded to the next power of two
(`padded_length`), so a handful of lengths covers every call. XLA compiles
once per batch size and padded length; the `tf.function` around `decode` is
still traced once.

Legend: B batch, T tokens in one step, P longest prompt, L buffer length
(`P + max_new_tokens`), C context length, V vocabulary.
"""

import functools

import tensorflow as tf

# Logit given to the padding id: decoding never produces padding.
_SUPPRESSED = -1e9


def pack_prompts(prompts, context_length, start_id=None, pad_id=0):
    """Ragged prompts -> a right-padded `(B, P)` int32 buffer and `(B,)` lengths.

    Args:
        prompts: `tf.RaggedTensor` of token ids, `(B, None)`.
        context_length: prompts longer than this keep their last tokens.
        start_id: the token an empty prompt starts from; `None` leaves empty
            prompts empty (then `decode` rejects them).
        pad_id: fills the buffer after each prompt.

    Returns:
        `(token_ids (B, P) int32, lengths (B,) int32)`.

    Example:
    >>> ids, lengths = pack_prompts(tf.ragged.constant([[5, 6, 7], []]), 2, start_id=1)
    >>> ids.numpy().tolist(), lengths.numpy().tolist()
    ([[6, 7], [1, 0]], [2, 1])
    """
    prompts = tf.cast(prompts, tf.int32)[:, -context_length:]
    if start_id is not None:
        empty = tf.cast(prompts.row_lengths() == 0, tf.int64)  # (B,)
        starts = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(empty)], tf.constant(start_id, tf.int32)), empty
        )  # (B, 0 or 1)
        prompts = tf.concat([starts, prompts], axis=1)
    lengths = tf.cast(prompts.row_lengths(), tf.int32)
    return prompts.to_tensor(default_value=pad_id), lengths


# Shortest padded length: below it, padding costs less than another compilation.
_MIN_PADDED_LENGTH = 16


def padded_length(length):
    """`length` rounded up to a power of two (at least 16), a scalar int32 tensor.

    The lengths XLA compiles the decode loop for: calls whose lengths round to
    the same value share one compiled program, and padding wastes less than
    half of the buffer.

    Example:
    >>> [int(padded_length(n)) for n in (1, 16, 17, 100, 1040)]
    [16, 16, 32, 128, 2048]
    """
    # Smear the highest set bit of length - 1 into every lower bit, add one.
    bits = tf.maximum(tf.cast(length, tf.int32), _MIN_PADDED_LENGTH) - 1
    for shift in (1, 2, 4, 8, 16):
        bits = tf.bitwise.bitwise_or(bits, tf.bitwise.right_shift(bits, shift))
    return bits + 1


def cache_length(prompt_length, max_new_tokens, context_length, padded=False):
    """Positions a decoding call can fill: prompt + new tokens, at most the context.

    Size the cache with it: every step reads the whole cache, so a cache of
    the whole context would cost every call, whatever its output length.

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
    needed = tf.cast(prompt_length, tf.int32) + tf.maximum(tf.cast(max_new_tokens, tf.int32), 0)
    if padded:
        needed = padded_length(needed)
    return tf.minimum(needed, int(context_length))


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
):
    """Generates up to `max_new_tokens` tokens after each prompt.

    Runs a `tf.while_loop`; call it inside a `tf.function` (the loop is then
    traced once for every batch size, prompt length and sampling setting).

    Args:
        step_fn: `(token_ids, cache, cache_update_index) -> (logits, cache)`,
            see the module docstring.
        sample_fn: `(logits (B, V), step) -> (B,)` int32 ids.
        prompt_ids: `(B, P)` int32 right-padded prompts (see `pack_prompts`).
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
            see the module docstring). `step_fn` and `sample_fn` must then be
            XLA-compatible.

    Returns:
        `(token_ids (B, L) int32, lengths (B,) int32)`: prompt plus new tokens,
        padded after `lengths`.
    """
    context_length = int(context_length)
    window = max(context_length // 2, 1)  # tokens kept when the cache is full
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    prompt_lengths = tf.cast(prompt_lengths, tf.int32)
    max_new_tokens = tf.cast(max_new_tokens, tf.int32)
    stop_token_id = tf.cast(stop_token_id, tf.int32)
    jit_compile = bool(jit_compile) and cache is not None
    batch_size = tf.shape(prompt_ids)[0]
    total_length = tf.shape(prompt_ids)[1] + max_new_tokens  # L
    buffer_length = padded_length(total_length) if jit_compile else total_length
    tokens = tf.pad(
        prompt_ids,
        [[0, 0], [0, buffer_length - tf.shape(prompt_ids)[1]]],
        constant_values=pad_id,
    )  # (B, L or padded L)
    # An empty batch prefills one (absent) token and skips the loop.
    prefill_length = tf.where(batch_size > 0, tf.reduce_min(prompt_lengths), 1)
    checks = [
        tf.debugging.assert_greater_equal(
            prefill_length, 1, message="every prompt needs at least one token"
        ),
        tf.debugging.assert_less_equal(
            tf.reduce_max(prompt_lengths),
            context_length,
            message="prompts must fit the context (see pack_prompts)",
        ),
    ]
    with tf.control_dependencies(checks):
        prefill_length = tf.identity(prefill_length)

    def next_logits(token_ids, cache, cache_update_index):
        logits, cache = step_fn(token_ids, cache, cache_update_index)  # (B, T, V)
        logits = tf.cast(logits[:, -1], tf.float32)  # (B, V)
        not_pad = tf.one_hot(pad_id, tf.shape(logits)[-1], on_value=False, off_value=True)
        return tf.where(not_pad[None, :], logits, _SUPPRESSED), cache

    def logits_at(tokens, index, cache, window_start, refill, can_slide):
        """Logits for position `index`: one cached step, or a window in one pass."""
        if cache is None:
            start = tf.maximum(index - context_length, 0)
            logits, _ = next_logits(tokens[:, start:index], None, tf.constant(0))
            return logits, None

        def prefill():  # after a slide: the last `window` tokens at 0 ..
            last_window = tf.gather(tokens, window_start + tf.range(window), axis=1)  # (B, W)
            return next_logits(last_window, cache, tf.constant(0))

        def step():  # the cache holds window_start .. index - 2: add index - 1
            last = tf.gather(tokens, index - 1, axis=1)[:, None]  # (B, 1)
            return next_logits(last, cache, index - 1 - window_start)

        # Without a slide the re-prefill branch is left out: XLA compiles
        # both branches of a `cond`, and a cache shorter than `window` (a
        # call that never slides) cannot take a window's keys.
        return tf.cond(refill, prefill, step) if can_slide else step()

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
        token = tf.where(in_prompt, tf.gather(state["tokens"], index, axis=1), sampled)
        rows = tf.range(tf.shape(token)[0])  # (B,)
        positions = tf.stack([rows, tf.fill(tf.shape(token), index)], axis=1)  # (B, 2)
        tokens = tf.tensor_scatter_nd_update(state["tokens"], positions, token)  # (B, L)
        finished = (index + 1 >= prompt_lengths + max_new_tokens) | (
            ~in_prompt & (token == stop_token_id)
        )
        # The next step feeds `token` at cache position index - window_start:
        # when that is past the cache, slide to the last `window` tokens.
        full = index - state["window_start"] >= context_length
        new_state = dict(
            state,
            index=index + 1,
            tokens=tokens,
            window_start=tf.where(full, index + 1 - window, state["window_start"]),
            refill=full,
            done=state["done"] | finished,
            lengths=tf.where(state["done"], state["lengths"], index + 1),
        )
        if cache is not None:
            new_state["cache"] = cache
        return (new_state,)

    def cond(state):
        return (state["index"] < total_length) & ~tf.reduce_all(state["done"])

    def run_loop(state, can_slide):
        (state,) = tf.while_loop(cond, lambda state: body(state, can_slide), (state,))
        return state

    state = dict(
        index=prefill_length,
        tokens=tokens,
        window_start=tf.constant(0),
        refill=tf.constant(False),
        done=tf.zeros([batch_size], tf.bool),
        lengths=prompt_lengths,
    )
    if cache is not None:
        # Prefill, in one pass before the loop: all but the last token of the
        # shortest prompt (the loop's first step feeds that one).
        state["cache"] = tf.cond(
            prefill_length > 1,
            lambda: step_fn(tokens[:, : prefill_length - 1], cache, tf.constant(0))[1],
            lambda: cache,
        )
    if jit_compile:
        # Two programs, so that a call that cannot slide compiles no slide;
        # XLA compiles the one a call takes.
        loops = [
            tf.function(
                functools.partial(run_loop, can_slide=can_slide),
                jit_compile=True,
                autograph=False,
            )
            for can_slide in (False, True)
        ]

        def decode_all(state):
            return tf.cond(
                total_length > context_length,  # index reaches the context
                lambda: loops[True](state),
                lambda: loops[False](state),
            )
    else:

        def decode_all(state):
            return run_loop(state, can_slide=True)

    # An empty batch has nothing to decode (and nothing worth compiling).
    state = tf.cond(batch_size > 0, lambda: decode_all(state), lambda: state)
    lengths = state["lengths"]
    token_ids = state["tokens"][:, :total_length]  # (B, L)
    in_output = tf.range(total_length)[None, :] < lengths[:, None]  # (B, L)
    return tf.where(in_output, token_ids, pad_id), lengths


def continuations(token_ids, prompt_lengths, lengths, stop_token_id=-1):
    """The new tokens of each row, without the prompt and the stop token.

    Args:
        token_ids: `(B, L)` from `decode`.
        prompt_lengths: `(B,)` prompt lengths given to `decode`.
        lengths: `(B,)` lengths returned by `decode`.
        stop_token_id: dropped when it ends a row.

    Returns:
        A `(B, None)` int32 `tf.RaggedTensor`.
    """
    positions = tf.range(tf.shape(token_ids)[1])[None, :]  # (1, L)
    last = tf.gather(token_ids, tf.maximum(lengths - 1, 0), batch_dims=1)  # (B,)
    ends = lengths - tf.cast((last == stop_token_id) & (lengths > prompt_lengths), tf.int32)
    keep = (positions >= prompt_lengths[:, None]) & (positions < ends[:, None])  # (B, L)
    return tf.ragged.boolean_mask(token_ids, keep)
