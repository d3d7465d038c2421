"""Tests of `generation/decode.py` with toy step functions whose answers are known.

The toy models are `keras.ops` functions with the step-function interface, so
the loop's bookkeeping (prefill, forced prompt tokens, stop tokens, lengths,
the sliding window) is checked independently of any Transformer, on the
TensorFlow and the JAX backend; the language model's tests check the loop with
a real model. Ragged prompts, in-graph assertions and tracing are TensorFlow's
edge (`tf_only`).
"""

import keras
import numpy as np
import pytest
from keras import ops

from transformer_keras.generation.decode import (
    cache_length,
    decode,
    padded_length,
    prefill_width,
)
from transformer_keras.generation.prompts import continuation_rows, pack_prompt_rows

VOCABULARY_SIZE = 32
PAD = 0
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def greedy(logits, step):
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


def write_cache(cache, token_ids, cache_update_index):
    """The toy cache is `(B, C)`: the token ids written at their positions."""
    if cache is None:
        return None
    return ops.slice_update(cache, [0, cache_update_index], ops.cast(token_ids, cache.dtype))


def successor_step(token_ids, cache, cache_update_index):
    """Predicts `token + 1` at every position."""
    logits = 10.0 * ops.one_hot(token_ids + 1, VOCABULARY_SIZE)  # (B, T, V)
    return logits, write_cache(cache, token_ids, cache_update_index)


def context_size_step(token_ids, cache, cache_update_index):
    """Predicts how many tokens each position sees: the cache prefix plus the new ones.

    Causal like a Transformer: position `t` of the new tokens sees
    `cache_update_index + t + 1` tokens (`t + 1` without a cache).
    """
    visible = ops.arange(1, ops.shape(token_ids)[1] + 1, dtype="int32")  # (T,)
    if cache is not None:
        visible = visible + ops.cast(cache_update_index, "int32")
    visible = ops.zeros_like(token_ids) + visible[None, :]  # (B, T)
    logits = 10.0 * ops.one_hot(visible, VOCABULARY_SIZE)  # (B, T, V)
    return logits, write_cache(cache, token_ids, cache_update_index)


def run(step_fn, prompts, max_new_tokens, context_length=16, use_cache=True, **kwargs):
    ids, lengths = pack_prompt_rows(prompts, context_length)
    cache = np.zeros([len(prompts), context_length], "int32") if use_cache else None
    tokens, lengths = decode(
        step_fn, greedy, ids, lengths, max_new_tokens, context_length, cache, **kwargs
    )
    return ops.convert_to_numpy(tokens).tolist(), ops.convert_to_numpy(lengths).tolist()


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
        logits = 10.0 * ops.one_hot(ops.zeros_like(token_ids), VOCABULARY_SIZE)  # (B, T, V)
        return logits - ops.one_hot(2 * ops.ones_like(token_ids), VOCABULARY_SIZE), cache

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
    # pack_prompt_rows kept the last 6 tokens; the prefill saw all 6.
    assert tokens == [[9, 9, 9, 9, 9, 9, 6, 3, 4]]


def test_padded_lengths_are_powers_of_two_and_the_cache_at_most_the_context():
    lengths = [1, 16, 17, 64, 65, 1000, 1024, 1025, 4096 + 1040]
    expected = [16, 16, 32, 64, 128, 1024, 1024, 2048, 8192]
    assert [int(padded_length(n)) for n in lengths] == expected
    # The same rule on the host (Python ints) and in the graph (tensors).
    assert [int(padded_length(ops.convert_to_tensor(n))) for n in lengths] == expected
    assert all(isinstance(padded_length(n), int) for n in lengths)
    new_tokens = (0, 48, 49, 1100, 5000)
    assert [int(cache_length(16, n, 1040, padded=True)) for n in new_tokens] == [
        16, 64, 128, 1040, 1040
    ]  # fmt: skip
    assert [int(cache_length(16, n, 1040)) for n in new_tokens] == [16, 64, 65, 1040, 1040]
    assert [int(cache_length(16, ops.convert_to_tensor(n), 1040)) for n in new_tokens] == [
        16, 64, 65, 1040, 1040
    ]  # fmt: skip


@pytest.mark.parametrize("shortest, prefill", [(1, 0), (2, 16), (5, 16), (17, 16), (30, 32)])
def test_a_static_prefill_covers_the_shortest_prompt_but_never_passes_the_cache(
    shortest, prefill
):
    assert prefill_width(shortest, 64) == prefill
    assert prefill_width(shortest, 20) == min(prefill, 20)


@pytest.mark.parametrize("prefill", [0, 1, 2, 16])
def test_any_static_prefill_width_decodes_the_same(prefill):
    # Narrower than the shortest prompt: the loop feeds the rest; wider: the
    # loop overwrites the positions past the prompt before attending to them.
    prompts = [[3, 4, 5], [10, 11]]
    expected = run(context_size_step, prompts, 5)
    ids, lengths = pack_prompt_rows(prompts, 16)
    cache = np.zeros([2, 16], "int32")
    tokens, lengths = decode(
        context_size_step, greedy, ids, lengths, 5, 16, cache, buffer_length=16, prefill=prefill
    )
    tokens, lengths = ops.convert_to_numpy(tokens).tolist(), ops.convert_to_numpy(lengths)
    assert (tokens, lengths.tolist()) == expected


def test_host_packing_keeps_the_last_tokens_and_starts_empty_prompts():
    ids, lengths = pack_prompt_rows([[1, 2, 3, 4, 5], [], [7]], 3, start_id=2)
    assert ids.tolist() == [[3, 4, 5], [2, 0, 0], [7, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]


def test_host_continuations_drop_the_prompt_and_a_final_stop_token():
    tokens = np.array([[3, 4, 5, 0], [12, 13, 14, 15], [5, 6, 0, 0]])
    assert continuation_rows(tokens, [1, 2, 2], [3, 4, 2], 5) == [[4], [14, 15], []]


@pytest.mark.skipif(ON_TENSORFLOW, reason="TensorFlow checks in the graph (test below)")
def test_an_empty_prompt_without_start_token_is_rejected_on_the_host():
    ids, lengths = pack_prompt_rows([[4], []], 8)
    with pytest.raises(ValueError, match="at least one token"):
        decode(successor_step, greedy, ids, lengths, 2, 8, np.zeros([2, 8], "int32"))
    ids, lengths = np.array([[4] * 9]), np.array([9])
    with pytest.raises(ValueError, match="fit the context"):
        decode(successor_step, greedy, ids, lengths, 2, 8, np.zeros([1, 8], "int32"))


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


# ------------------------------------------------- TensorFlow's edge (ragged, graph)
@pytest.mark.tf_only
def test_pack_prompts_keeps_the_last_tokens_and_starts_empty_prompts():
    import tensorflow as tf

    from transformer_keras.generation.ragged import pack_prompts

    ids, lengths = pack_prompts(tf.ragged.constant([[1, 2, 3, 4, 5], [], [7]]), 3, start_id=2)
    assert ids.numpy().tolist() == [[3, 4, 5], [2, 0, 0], [7, 0, 0]]
    assert lengths.numpy().tolist() == [3, 1, 1]


@pytest.mark.tf_only
def test_an_empty_prompt_without_start_token_is_rejected_in_graph():
    import tensorflow as tf

    from transformer_keras.generation.ragged import pack_prompts

    ids, lengths = pack_prompts(tf.ragged.constant([[4], []], tf.int32), 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one token"):
        decode(successor_step, greedy, ids, lengths, 2, 8, tf.zeros([2, 8], tf.int32))


@pytest.mark.tf_only
def test_continuations_drop_the_prompt_and_a_final_stop_token():
    import tensorflow as tf

    from transformer_keras.generation.ragged import continuations

    tokens = tf.constant([[3, 4, 5, 0], [12, 13, 14, 15], [5, 6, 0, 0]])
    new = continuations(tokens, tf.constant([1, 2, 2]), tf.constant([3, 4, 2]), 5)
    assert new.to_list() == [[4], [14, 15], []]


@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_one_trace_serves_every_batch_size_prompt_length_and_budget(jit_compile):
    import tensorflow as tf

    from transformer_keras.generation.ragged import pack_prompts

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def generate(ids, lengths, max_new_tokens):
        cache = tf.zeros([tf.shape(ids)[0], 16], tf.int32)
        return decode(
            successor_step,
            greedy,
            ids,
            lengths,
            max_new_tokens,
            16,
            cache,
            jit_compile=jit_compile,
        )

    for prompts, max_new_tokens in [([[3]], 2), ([[3, 4], [5]], 5), ([[1, 2, 3]] * 4, 9)]:
        ids, lengths = pack_prompts(tf.ragged.constant(prompts, tf.int32), 16)
        tokens, _ = generate(ids, lengths, max_new_tokens)
        expected = [p + list(range(p[-1] + 1, p[-1] + 1 + max_new_tokens)) for p in prompts]
        width = max(len(p) for p in prompts) + max_new_tokens
        assert tokens.numpy().tolist() == [e + [0] * (width - len(e)) for e in expected]
    assert generate.experimental_get_tracing_count() == 1


@pytest.mark.tf_only
def test_an_empty_batch_in_the_graph_returns_an_empty_batch():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def generate(ids):
        lengths = tf.fill([tf.shape(ids)[0]], tf.shape(ids)[1])
        cache = tf.zeros([tf.shape(ids)[0], 16], tf.int32)
        return decode(successor_step, greedy, ids, lengths, 3, 16, cache, jit_compile=True)

    tokens, lengths = generate(tf.zeros([0, 2], tf.int32))
    assert tokens.shape == (0, 5) and lengths.shape == (0,)


@pytest.mark.tf_only
def test_ragged_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(importlib.import_module("transformer_keras.generation.ragged")).failed
        == 0
    )


# ---------------------------------------------------------------- JAX's edge (jit)
@pytest.mark.skipif(ON_TENSORFLOW, reason="jax.jit")
def test_under_jax_jit_one_program_serves_every_budget_and_setting():
    import jax

    compilations = []

    @jax.jit
    def generate(ids, lengths, max_new_tokens):
        compilations.append(1)  # runs once per trace
        cache = ops.zeros([ids.shape[0], 16], "int32")
        return decode(
            successor_step,
            greedy,
            ids,
            lengths,
            max_new_tokens,
            16,
            cache,
            buffer_length=16,
            prefill=prefill_width(1, 16),
        )

    for prompt, max_new_tokens in [([3, 4], 5), ([7], 9), ([1, 2, 3], 2)]:
        ids, lengths = pack_prompt_rows([prompt, [5]], 16)
        ids = np.pad(ids, [[0, 0], [0, 16 - ids.shape[1]]])  # one width for every call
        tokens, lengths = generate(ids, lengths, np.int32(max_new_tokens))
        rows = continuation_rows(np.asarray(tokens), [len(prompt), 1], np.asarray(lengths))
        assert rows[0] == list(range(prompt[-1] + 1, prompt[-1] + 1 + max_new_tokens))
        assert rows[1] == list(range(6, 6 + max_new_tokens))
    assert len(compilations) == 1
