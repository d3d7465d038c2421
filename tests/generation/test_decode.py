"""Tests of `generation/decode.py` with toy step functions whose answers are known.

The toy models are plain TensorFlow functions with the step-function interface,
so the loop's bookkeeping (prefill, forced prompt tokens, stop tokens, lengths,
the sliding window) is checked independently of any Transformer; the language
model's tests check the loop with a real model.
"""

import pytest
import tensorflow as tf

from transformer_keras.generation.decode import (
    cache_length,
    continuations,
    decode,
    pack_prompts,
    padded_length,
)

pytestmark = pytest.mark.tf_only

VOCABULARY_SIZE = 32
PAD = 0


def greedy(logits, step):
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def write_cache(cache, token_ids, cache_update_index):
    """The toy cache is `(B, C)`: the token ids written at their positions."""
    if cache is None:
        return None
    columns = cache_update_index + tf.range(tf.shape(token_ids)[1])  # (T,)
    updated = tf.tensor_scatter_nd_update(
        tf.transpose(cache), columns[:, None], tf.transpose(token_ids)
    )  # (C, B)
    return tf.transpose(updated)  # (B, C)


def successor_step(token_ids, cache, cache_update_index):
    """Predicts `last token + 1` at every position."""
    logits = 10.0 * tf.one_hot(token_ids + 1, VOCABULARY_SIZE)  # (B, T, V)
    return logits, write_cache(cache, token_ids, cache_update_index)


def context_size_step(token_ids, cache, cache_update_index):
    """Predicts how many tokens the model sees: its cache prefix plus the new ones."""
    visible = tf.shape(token_ids)[1] + tf.cast(cache_update_index, tf.int32)
    if cache is None:
        visible = tf.shape(token_ids)[1]
    batch_size = tf.shape(token_ids)[0]
    logits = 10.0 * tf.one_hot(tf.fill([batch_size, 1], visible), VOCABULARY_SIZE)
    return logits, write_cache(cache, token_ids, cache_update_index)


def run(step_fn, prompts, max_new_tokens, context_length=16, use_cache=True, **kwargs):
    prompts = tf.ragged.constant(prompts, tf.int32, ragged_rank=1, inner_shape=())
    ids, lengths = pack_prompts(prompts, context_length)
    cache = tf.zeros([prompts.nrows(), context_length], tf.int32) if use_cache else None
    tokens, lengths = decode(
        step_fn, greedy, ids, lengths, max_new_tokens, context_length, cache, **kwargs
    )
    return tokens.numpy().tolist(), lengths.numpy().tolist()


@pytest.mark.parametrize("use_cache", [True, False])
def test_prompts_of_different_lengths_continue_independently(use_cache):
    tokens, lengths = run(successor_step, [[3, 4, 5], [10]], 4, use_cache=use_cache)
    assert tokens == [[3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 0, 0]]
    assert lengths == [7, 5]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_longer_prompts_are_forced_to_their_own_tokens(jit_compile):
    # Row 1 is decoded from position 1 on, but its prompt tokens win over predictions.
    tokens, lengths = run(successor_step, [[7], [3, 9, 2, 20]], 2, jit_compile=jit_compile)
    assert tokens == [[7, 8, 9, 0, 0, 0], [3, 9, 2, 20, 21, 22]]
    assert lengths == [3, 6]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_row_stops_after_its_stop_token_and_the_others_go_on(jit_compile):
    tokens, lengths = run(
        successor_step, [[3], [12]], 6, stop_token_id=5, jit_compile=jit_compile
    )
    assert tokens == [[3, 4, 5, 0, 0, 0, 0], [12, 13, 14, 15, 16, 17, 18]]
    assert lengths == [3, 7]


def test_a_stop_token_inside_the_prompt_does_not_stop():
    tokens, lengths = run(successor_step, [[5, 2]], 2, stop_token_id=5)
    assert tokens == [[5, 2, 3, 4]]
    assert lengths == [4]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_the_loop_ends_when_every_row_has_stopped(jit_compile):
    tokens, lengths = run(
        successor_step, [[3], [4]], 20, stop_token_id=6, jit_compile=jit_compile
    )
    assert lengths == [4, 3]
    assert len(tokens[0]) == 21  # the buffer, padded after each row's end


def test_padding_is_never_generated():
    def pad_loving_step(token_ids, cache, cache_update_index):
        logits = 10.0 * tf.one_hot(tf.zeros_like(token_ids), VOCABULARY_SIZE)  # (B, T, V)
        return logits - tf.one_hot(2 * tf.ones_like(token_ids), VOCABULARY_SIZE), cache

    tokens, _ = run(pad_loving_step, [[7]], 3)
    assert tokens == [[7, 1, 1, 1]]  # argmax without the padding id


@pytest.mark.parametrize("jit_compile", [False, True])
def test_cache_slides_by_half_a_window_when_full(jit_compile):
    tokens, _ = run(context_size_step, [[9]], 14, context_length=6, jit_compile=jit_compile)
    # Positions 1..6 see 1..6 tokens; then the last 3 are re-prefilled and the
    # context grows again from 3 to 6 before the next slide.
    assert tokens == [[9, 1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6]]


def test_full_recomputation_always_sees_the_last_window():
    tokens, _ = run(context_size_step, [[9]], 9, context_length=6, use_cache=False)
    assert tokens == [[9, 1, 2, 3, 4, 5, 6, 6, 6, 6]]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_prompt_that_fills_the_context_slides_before_its_first_new_token(jit_compile):
    tokens, _ = run(
        context_size_step,
        [[9, 9, 9, 9, 9, 9, 9, 9]],
        3,
        context_length=6,
        jit_compile=jit_compile,
    )
    # pack_prompts kept the last 6 tokens; the prefill saw all 6.
    assert tokens == [[9, 9, 9, 9, 9, 9, 6, 3, 4]]


def test_padded_lengths_are_powers_of_two_and_the_cache_at_most_the_context():
    lengths = [1, 16, 17, 64, 65, 1000, 1024, 1025, 4096 + 1040]
    assert [int(padded_length(n)) for n in lengths] == [
        16, 16, 32, 64, 128, 1024, 1024, 2048, 8192
    ]  # fmt: skip
    new_tokens = (0, 48, 49, 1100, 5000)
    assert [int(cache_length(16, n, 1040, padded=True)) for n in new_tokens] == [
        16, 64, 128, 1040, 1040
    ]  # fmt: skip
    assert [int(cache_length(16, n, 1040)) for n in new_tokens] == [16, 64, 65, 1040, 1040]


def test_pack_prompts_keeps_the_last_tokens_and_starts_empty_prompts():
    ids, lengths = pack_prompts(tf.ragged.constant([[1, 2, 3, 4, 5], [], [7]]), 3, start_id=2)
    assert ids.numpy().tolist() == [[3, 4, 5], [2, 0, 0], [7, 0, 0]]
    assert lengths.numpy().tolist() == [3, 1, 1]


def test_an_empty_prompt_without_start_token_is_rejected_in_graph():
    ids, lengths = pack_prompts(tf.ragged.constant([[4], []], tf.int32), 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one token"):
        decode(successor_step, greedy, ids, lengths, 2, 8, tf.zeros([2, 8], tf.int32))


def test_continuations_drop_the_prompt_and_a_final_stop_token():
    tokens = tf.constant([[3, 4, 5, 0], [12, 13, 14, 15], [5, 6, 0, 0]])
    new = continuations(tokens, tf.constant([1, 2, 2]), tf.constant([3, 4, 2]), 5)
    assert new.to_list() == [[4], [14, 15], []]


def test_one_trace_serves_every_batch_size_prompt_length_and_budget():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def generate(ids, lengths, max_new_tokens):
        cache = tf.zeros([tf.shape(ids)[0], 16], tf.int32)
        return decode(successor_step, greedy, ids, lengths, max_new_tokens, 16, cache)

    for prompts, max_new_tokens in [([[3]], 2), ([[3, 4], [5]], 5), ([[1, 2, 3]] * 4, 9)]:
        ids, lengths = pack_prompts(tf.ragged.constant(prompts, tf.int32), 16)
        tokens, _ = generate(ids, lengths, max_new_tokens)
        expected = [p + list(range(p[-1] + 1, p[-1] + 1 + max_new_tokens)) for p in prompts]
        width = max(len(p) for p in prompts) + max_new_tokens
        assert tokens.numpy().tolist() == [e + [0] * (width - len(e)) for e in expected]
    assert generate.experimental_get_tracing_count() == 1


def test_an_empty_batch_returns_an_empty_batch():
    tokens, lengths = run(successor_step, [], 3, use_cache=False)
    assert tokens == [] and lengths == []


def test_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(importlib.import_module("transformer_keras.generation.decode")).failed
        == 0
    )
