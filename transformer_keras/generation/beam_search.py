"""Batched beam search over a cached decoder step, in one `tf.while_loop`.

The search keeps, for every batch row, `K` alive hypotheses (not ended yet)
and the `K` best finished ones (ended with `end_id`), as in GNMT (Wu et al.,
2016) and the Flax WMT example:

1. one decoder step scores the next token of all `B * K` alive hypotheses,
   reading and extending the self-attention KV cache;
2. the `2K` best extensions per row are kept (at most `K` of them end, so at
   least `K` stay alive); the `K` best that did not end become the new beams,
   and the cache is reordered to follow their parent beam;
3. extensions that end and rank among the `K` best are scored with the GNMT
   length penalty `log p / ((5 + length) / 6) ** alpha` and merged into the
   finished pool (so beam size 1 with `alpha = 0` is greedy decoding);
4. the loop stops after `max_length` tokens, or earlier once no alive
   hypothesis can still beat the worst finished one of its row (in particular
   when every beam has ended).

`beam_size` and `max_length` are tensors: one traced graph serves every value
(and every batch size and source length).

Legend: B batch, K beams, T generated length, V vocabulary.
"""

import tensorflow as tf

# A finite "minus infinity": sums and comparisons stay NaN-free.
NEG_INF = -1.0e9


def length_penalty(length, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (Wu et al., 2016, eq. 14).

    Example:
    >>> float(length_penalty(1, 0.6))
    1.0
    """
    length = tf.cast(length, tf.float32)
    return tf.pow((5.0 + length) / 6.0, tf.cast(alpha, tf.float32))


def expand_to_beams(tensor, beam_size):
    """`(B, ...)` -> `(B * K, ...)`: each row repeated `K` times, rows of a batch adjacent.

    Used for what the step function closes over (cross-attention cache, source
    padding mask) and for the initial self-attention cache; `tensor` may be a
    nest of tensors (a per-layer cache tuple).
    """
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_size, axis=0), tensor)


def _flatten(tensor):
    """`(B, K, ...)` -> `(B * K, ...)`."""
    shape = tf.shape(tensor)
    return tf.reshape(tensor, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))


def _gather_beams(tensor, beam_indices):
    """Picks beams per batch row: `(B, K_in, ...)` with `(B, K_out)` -> `(B, K_out, ...)`."""
    return tf.gather(tensor, beam_indices, axis=1, batch_dims=1)


def _gather_cache(cache, beam_indices, beam_size):
    """Reorders a `(B * K_in, ...)` cache by `(B, K)` parent beams -> `(B * K, ...)`."""
    batch_size = tf.shape(beam_indices)[0]
    offsets = tf.range(batch_size)[:, None] * beam_size  # (B, 1)
    flat_indices = tf.reshape(beam_indices + offsets, [-1])  # (B * K,)
    return tf.gather(cache, flat_indices, axis=0)


def beam_search(
    step_fn,
    cache,
    batch_size,
    beam_size,
    max_length,
    start_id,
    end_id,
    pad_id=0,
    alpha=0.6,
    return_all=False,
):
    """Finds the most likely sequences under the GNMT length-penalised score.

    Args:
        step_fn: `step_fn(token_ids (B*K, 1) int32, cache, index) ->
            (logits (B*K, 1, V) float32, cache)`, the model's cached decoder
            step (closing over anything batch-wide, already expanded to
            `B * K` rows with `expand_to_beams`).
        cache: the initial cache, a tensor whose axis 0 has `B * K` rows.
        batch_size: `B` (int or scalar tensor).
        beam_size: `K` >= 1 (int or scalar tensor).
        max_length: most tokens to generate, end token included (>= 1).
        start_id, end_id, pad_id: special ids.
        alpha: length-penalty exponent; 0 ranks by plain log-probability
            (beam size 1 is then exactly greedy decoding).
        return_all: return all `K` finished hypotheses per row, best first.

    Returns:
        `(tokens, scores)`: tokens `(B, T)` int32 (or `(B, K, T)`), the
        generated ids without the start id, ending with `end_id` then
        `pad_id` (a hypothesis cut by `max_length` has no end id); `T` is
        `max_length`. Scores `(B,)` (or `(B, K)`) are the penalised
        log-probabilities.
    """
    beam_size = tf.convert_to_tensor(beam_size, tf.int32)
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    batch_size = tf.convert_to_tensor(batch_size, tf.int32)
    alpha = tf.convert_to_tensor(alpha, tf.float32)
    total_length = max_length + 1  # the start token, then up to max_length tokens

    # Position 0 holds the start id; later positions start as padding.
    sequences = tf.fill([batch_size, beam_size, total_length], pad_id)  # (B, K, T+1)
    sequences = tf.concat(
        [tf.fill([batch_size, beam_size, 1], start_id), sequences[:, :, 1:]], axis=2
    )
    # Only beam 0 is live at first: the K copies of the start would tie.
    alive_log_probs = tf.tile(
        tf.concat([[0.0], tf.fill([beam_size - 1], NEG_INF)], axis=0)[None], [batch_size, 1]
    )  # (B, K)
    finished_sequences = tf.zeros_like(sequences)  # (B, K, T+1)
    finished_scores = tf.fill([batch_size, beam_size], NEG_INF)  # (B, K)
    finished_flags = tf.zeros([batch_size, beam_size], tf.bool)  # (B, K)
    best_penalty = length_penalty(max_length, alpha)

    def not_done(index, alive_sequences, alive_log_probs, cache, f_seq, f_scores, f_flags):
        # The best any alive beam can still reach: its log-prob only falls, the
        # penalty is largest at max_length.
        best_alive = alive_log_probs[:, 0] / best_penalty  # (B,)
        worst_finished = tf.reduce_min(tf.where(f_flags, f_scores, NEG_INF), axis=1)  # (B,)
        all_settled = tf.reduce_all(worst_finished > best_alive)
        return (index < max_length) & ~all_settled

    def step(index, alive_sequences, alive_log_probs, cache, f_seq, f_scores, f_flags):
        tokens = tf.reshape(alive_sequences[:, :, index], [-1, 1])  # (B*K, 1)
        logits, cache = step_fn(tokens, cache, index)
        vocabulary_size = tf.shape(logits)[-1]
        log_probs = tf.nn.log_softmax(tf.cast(logits[:, -1], tf.float32))  # (B*K, V)
        # Padding is never generated (as in the decode loop).
        is_pad = tf.one_hot(pad_id, vocabulary_size, on_value=True, off_value=False)
        log_probs = tf.where(is_pad[None, :], NEG_INF, log_probs)
        log_probs = tf.reshape(log_probs, [batch_size, beam_size, vocabulary_size])
        candidates = alive_log_probs[:, :, None] + log_probs  # (B, K, V)
        candidates = tf.reshape(candidates, [batch_size, -1])  # (B, K*V)

        # 2K candidates: at most K end here, so K stay alive (2K <= K * V as V >= 2).
        top_log_probs, top_indices = tf.math.top_k(candidates, k=2 * beam_size)  # (B, 2K)
        parent_beams = top_indices // vocabulary_size  # (B, 2K)
        next_tokens = top_indices % vocabulary_size  # (B, 2K)
        top_sequences = _gather_beams(alive_sequences, parent_beams)  # (B, 2K, T+1)
        top_sequences = _write_tokens(top_sequences, next_tokens, index + 1)
        # An extension that ends is a finished hypothesis only when it ranks
        # among the K best (as in Hugging Face's scorer): beam size 1 is then
        # exactly greedy. Extensions of the placeholder beams never count.
        in_top_k = tf.range(2 * beam_size)[None, :] < beam_size  # (1, 2K)
        real = top_log_probs > NEG_INF / 2
        ended = tf.equal(next_tokens, end_id)  # (B, 2K)
        finishing = ended & real & in_top_k  # (B, 2K)

        # New alive beams: the K best extensions that did not end.
        alive_scores = tf.where(ended, NEG_INF, top_log_probs)  # (B, 2K)
        alive_scores, alive_choice = tf.math.top_k(alive_scores, k=beam_size)  # (B, K)
        alive_sequences = _gather_beams(top_sequences, alive_choice)  # (B, K, T+1)
        alive_parents = _gather_beams(parent_beams, alive_choice)  # (B, K)
        cache = tf.nest.map_structure(
            lambda c: _gather_cache(c, alive_parents, beam_size), cache
        )

        # Finished pool: merge the extensions that ended with the old pool.
        new_scores = top_log_probs / length_penalty(index + 1, alpha)  # (B, 2K)
        new_scores = tf.where(finishing, new_scores, NEG_INF)
        pool_sequences = tf.concat([f_seq, top_sequences], axis=1)  # (B, 3K, T+1)
        pool_scores = tf.concat([f_scores, new_scores], axis=1)  # (B, 3K)
        pool_flags = tf.concat([f_flags, finishing], axis=1)  # (B, 3K)
        f_scores, pool_choice = tf.math.top_k(pool_scores, k=beam_size)  # (B, K)
        f_seq = _gather_beams(pool_sequences, pool_choice)
        f_flags = _gather_beams(pool_flags, pool_choice)
        return index + 1, alive_sequences, alive_scores, cache, f_seq, f_scores, f_flags

    loop_vars = (
        tf.constant(0),
        sequences,
        alive_log_probs,
        cache,
        finished_sequences,
        finished_scores,
        finished_flags,
    )
    shape_invariants = tf.nest.map_structure(_relaxed_shape, loop_vars)
    (index, alive_sequences, alive_log_probs, _, f_seq, f_scores, f_flags) = tf.while_loop(
        not_done,
        step,
        loop_vars,
        shape_invariants=shape_invariants,
        maximum_iterations=max_length,
    )

    # Rows where nothing ended (cut by max_length) fall back to alive beams.
    any_finished = tf.reduce_any(f_flags, axis=1)  # (B,)
    alive_final_scores = alive_log_probs / length_penalty(index, alpha)  # (B, K)
    sequences = tf.where(any_finished[:, None, None], f_seq, alive_sequences)
    scores = tf.where(any_finished[:, None], f_scores, alive_final_scores)
    sequences = _pad_after_end(sequences[:, :, 1:], end_id, pad_id)  # (B, K, T)
    if return_all:
        return sequences, scores
    return sequences[:, 0], scores[:, 0]


def _write_tokens(sequences, tokens, index):
    """Writes `(B, K)` tokens at position `index` of `(B, K, T)` sequences."""
    length = tf.shape(sequences)[2]
    at_index = tf.equal(tf.range(length), index)[None, None, :]  # (1, 1, T)
    return tf.where(at_index, tokens[:, :, None], sequences)


def _pad_after_end(sequences, end_id, pad_id):
    """Replaces everything after the first `end_id` by `pad_id`: `(B, K, T)`."""
    ends = tf.cast(tf.equal(sequences, end_id), tf.int32)
    ended_before = tf.cumsum(ends, axis=2, exclusive=True) > 0  # (B, K, T)
    return tf.where(ended_before, pad_id, sequences)


def _relaxed_shape(tensor):
    """Loop invariant: keep the rank, let every size vary (dynamic B, K, T)."""
    return tf.TensorShape([None] * tensor.shape.rank)
