"""Tests of `TransformerLM`: the harness, causality, cached generation and scoring."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import assert_finite, dtype_policy, run_model_test
from transformer_keras.models.language_model import MAX_NEW_TOKENS, TransformerLM
from transformer_keras.text import ByteTokenizer

CONTEXT = 16


@pytest.fixture(autouse=True)
def _seeded_float32_session():
    """Replaces the conftest fixture of the same name for this module.

    `keras.utils.set_random_seed` calls `tf.random.set_seed`, which clears
    TensorFlow's function caches, so every test would re-optimize the large
    decode-loop graph (seconds each). These tests seed what they draw.
    """
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


TINY = dict(
    num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=CONTEXT
)
PROMPTS = [[70, 71, 72, 73, 74], [80], [90, 91, 92]]


@pytest.fixture(scope="module")
def model():
    """One byte-level model for the generation tests (each traced loop is reused).

    Its weights are drawn large, so that its greedy continuations vary from
    token to token (a freshly initialized model repeats one token), which
    makes cache and stop-token errors visible.
    """
    lm = TransformerLM.from_arguments(**TINY, tokenizer=ByteTokenizer())
    lm.build()
    rng = np.random.default_rng(1)
    for weight in lm.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    return lm


def reference_greedy(model, prompt, max_new_tokens):
    """Greedy decoding by full recomputation, one plain forward pass per token."""
    tokens = list(prompt)
    for _ in range(max_new_tokens):
        logits = model(np.array([tokens[-CONTEXT:]]))[0, -1].numpy()
        logits[model.pad_id] = -np.inf  # decoding never produces padding
        tokens.append(int(np.argmax(logits)))
    return tokens[len(prompt) :]


def compiled_tiny_model(**overrides):
    """Default loss and metrics; a constant rate (the default warmup starts at 0)."""
    import keras

    model = TransformerLM.from_arguments(**{**TINY, "vocabulary_size": 40, **overrides})
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


# ---------------------------------------------------------------- the model
@pytest.mark.jax
def test_harness(tmp_path, rng):
    ids = rng.integers(1, 40, size=(2, 6)).astype("int32")
    _, logits = run_model_test(
        compiled_tiny_model,
        ids,
        targets=np.roll(ids, -1, axis=1),
        tmp_path=tmp_path,
        expected_output_shape=(2, 6, 40),
        run_mixed_precision=False,  # logits stay float32: checked below
    )
    assert logits.dtype == "float32"


def test_untied_output_projection_is_its_own_weight(tmp_path):
    import keras

    model = TransformerLM.from_arguments(**TINY, vocabulary_size=40, tie_embeddings=False)
    ids = np.array([[5, 6, 7]])
    logits = model(ids)
    assert model.lm_head.kernel.shape == (16, 40)
    model.lm_head.kernel.assign(np.zeros((16, 40), "float32"))
    np.testing.assert_array_equal(model(ids), np.zeros((1, 3, 40)))
    assert not np.allclose(logits, 0.0)
    model.save(tmp_path / "untied.keras")
    restored = keras.saving.load_model(tmp_path / "untied.keras")
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored(ids), np.zeros((1, 3, 40)))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_logits_are_float32_and_finite(policy):
    with dtype_policy(policy):
        model = TransformerLM.from_arguments(**TINY, vocabulary_size=40)
        logits = model(np.array([[5, 6, 7, 8]]))
    assert logits.dtype == "float32"
    assert_finite(logits)
    assert model.backbone.compute_dtype == keras_compute_dtype(policy)


@pytest.mark.tf_only
def test_generation_and_scoring_run_under_mixed_float16():
    with dtype_policy("mixed_float16"):
        model = TransformerLM.from_arguments(**TINY, tokenizer=ByteTokenizer())
        assert [c.dtype == "float16" for c in model.initial_cache(1)] == [True] * 2
        continuation = model.generate([[70, 71, 72]], max_new_tokens=4, temperature=0.7, seed=0)
        nll = model.score(["abc"])
    assert len(continuation[0]) == 4 and all(1 <= t < 260 for t in continuation[0])  # no pad
    assert np.isfinite(nll).all()


def keras_compute_dtype(policy):
    import keras

    return keras.DTypePolicy(policy).compute_dtype


def test_presets_follow_nanogpt():
    cpu = TransformerLM.preset_config("nanogpt-cpu")
    gpu = TransformerLM.preset_config("nanogpt-gpu")
    shape = ("num_layers", "num_heads", "hidden_dim", "max_sequence_length", "dropout")
    assert tuple(cpu[key] for key in shape) == (4, 4, 128, 64, 0.0)
    assert tuple(gpu[key] for key in shape) == (6, 6, 384, 256, 0.2)
    model = TransformerLM.from_preset("nanogpt-cpu", vocabulary_size=65)
    model.build()
    # nanoGPT prints 0.80M parameters (no position table, no layer-norm biases).
    position_table = 64 * 128
    norm_biases = (2 * 4 + 1) * 128
    assert round((model.count_params() - position_table - norm_biases) / 1e6, 2) == 0.80


def test_a_vocabulary_size_or_a_tokenizer_is_needed():
    with pytest.raises(ValueError, match="Received: vocabulary_size=None"):
        TransformerLM.from_arguments(**TINY)
    with pytest.raises(ValueError, match="Received: vocabulary_size=99"):
        TransformerLM.from_arguments(**TINY, vocabulary_size=99, tokenizer=ByteTokenizer())
    assert (
        TransformerLM.from_arguments(**TINY, tokenizer=ByteTokenizer()).vocabulary_size == 260
    )


def test_attention_is_causal(model):
    ids = np.array([[70, 71, 72, 73, 74, 75]])
    changed = ids.copy()
    changed[0, 4:] = [100, 101]
    np.testing.assert_allclose(model(ids)[0, :4], model(changed)[0, :4], atol=1e-6)
    assert not np.allclose(model(ids)[0, 4:], model(changed)[0, 4:])


def test_attention_scores_are_causal_distributions(model):
    scores = model.attention_scores(np.array([[70, 71, 72, 73]]))
    assert len(scores) == 2
    for layer_scores in scores:
        layer_scores = np.asarray(layer_scores)
        assert layer_scores.shape == (1, 2, 4, 4)
        np.testing.assert_allclose(layer_scores.sum(-1), 1.0, atol=1e-5)
        assert np.all(np.triu(layer_scores[0, 0], k=1) == 0)


def test_cached_steps_equal_the_full_forward_pass(model):
    ids = np.array([[70, 71, 72, 73, 74, 75, 76]], "int32")
    full = model(ids).numpy()
    cache = model.initial_cache(1)
    logits, cache = model.call_with_cache(ids[:, :3], cache, 0)  # prefill 3 tokens
    steps = [logits.numpy()]
    for index in range(3, 7):
        logits, cache = model.call_with_cache(ids[:, index : index + 1], cache, index)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


# ----------------------------------------------------------------- generate
@pytest.mark.tf_only
def test_greedy_with_cache_equals_greedy_by_full_recomputation(model):
    cached = model.generate(PROMPTS, max_new_tokens=9, temperature=0.0)
    recomputed = model.generate(PROMPTS, max_new_tokens=9, temperature=0.0, use_cache=False)
    assert cached == recomputed
    assert cached[:2] == [reference_greedy(model, prompt, 9) for prompt in PROMPTS[:2]]


@pytest.mark.tf_only
@pytest.mark.parametrize("max_new_tokens", [3, 100])
def test_the_cache_covers_only_the_positions_a_call_can_fill(
    model, monkeypatch, max_new_tokens
):
    """`decode.cache_length` of prompt + new tokens (padded for XLA, at most the context)."""
    import tensorflow as tf

    from transformer_keras.generation.decode import cache_length

    lengths = []
    initial_cache = model.backbone.initial_cache

    def recording_initial_cache(batch_size, max_length=None):
        lengths.append(max_length)  # A tensor; symbolic when `generate` traces.
        return initial_cache(batch_size, max_length)

    monkeypatch.setattr(model.backbone, "initial_cache", recording_initial_cache)
    prompts = tf.ragged.constant([[70, 71, 72, 73, 74], [75]], tf.int32)  # P = 5
    arguments = [max_new_tokens, 0.0, 0, 1.0, 0, -1]
    new_ids = model.generate_ids(prompts, *map(tf.constant, arguments))  # Eager.
    assert int(lengths[0]) == int(cache_length(5, max_new_tokens, CONTEXT, padded=True))
    assert new_ids.to_list() == model.generate(prompts.to_list(), max_new_tokens, 0.0)


@pytest.mark.tf_only
def test_sampling_with_cache_equals_sampling_by_full_recomputation(model):
    # Sampled tokens depend on every logit, so they check the cache harder.
    # XLA draws other random numbers than TensorFlow's kernels for one seed,
    # and recomputation runs without XLA: compare without it.
    settings = dict(max_new_tokens=10, temperature=1.0, seed=5)
    cached = model.generate(PROMPTS, jit_compile=False, **settings)
    assert cached == model.generate(PROMPTS, use_cache=False, **settings)
    assert len({tuple(row) for row in cached}) == 3
    assert len(set(cached[0])) > 3  # a random model samples varied tokens


@pytest.mark.tf_only
def test_the_xla_loop_decodes_like_tensorflow_kernels(model):
    # Past the context too (16 positions): the slide re-prefills under XLA.
    for max_new_tokens in (9, 40):
        greedy = dict(max_new_tokens=max_new_tokens, temperature=0.0)
        xla = model.generate(PROMPTS, **greedy)
        assert xla == model.generate(PROMPTS, jit_compile=False, **greedy)
        assert xla == model.generate(PROMPTS, use_cache=False, **greedy)
    sampled = dict(max_new_tokens=12, temperature=1.0, top_p=0.9, seed=3)
    first = model.generate(PROMPTS, **sampled)
    assert model.generate(PROMPTS, **sampled) == first
    assert len(set(first[0])) > 3


@pytest.mark.tf_only
def test_a_batch_decodes_like_each_prompt_alone(model):
    batch = model.generate(PROMPTS, max_new_tokens=6, temperature=0.0)
    assert batch == [model.generate(p, max_new_tokens=6, temperature=0.0) for p in PROMPTS]


@pytest.mark.tf_only
def test_one_trace_serves_every_batch_prompt_and_setting(model):
    function = model.generate_function()
    model.generate([[70]], max_new_tokens=2, temperature=0.0)
    model.generate(PROMPTS, max_new_tokens=5, temperature=0.7, top_k=5, seed=1)
    model.generate([[70] * 12] * 7, max_new_tokens=30, top_p=0.9, seed=2, stop_token=71)
    model.generate(["some text", ""], max_new_tokens=3, temperature=1.5, top_k=3, top_p=0.5)
    assert function.experimental_get_tracing_count() == 1


@pytest.mark.tf_only
def test_same_seed_same_text_and_other_seed_other_text(model):
    first = model.generate(PROMPTS, max_new_tokens=8, seed=11)
    assert model.generate(PROMPTS, max_new_tokens=8, seed=11) == first
    assert model.generate(PROMPTS, max_new_tokens=8, seed=12) != first


@pytest.mark.tf_only
def test_generation_stops_after_the_stop_token(model):
    free = model.generate([80], max_new_tokens=12, temperature=0.0)
    position = next(i for i, token in enumerate(free) if token not in free[:i] and i > 0)
    stopped = model.generate(
        [80], max_new_tokens=12, temperature=0.0, stop_token=free[position]
    )
    assert stopped == free[:position]


@pytest.mark.tf_only
def test_prompts_longer_than_the_context_keep_their_last_tokens(model):
    long_prompt = list(range(60, 60 + CONTEXT + 7))
    assert model.generate(long_prompt, max_new_tokens=4, temperature=0.0) == model.generate(
        long_prompt[-CONTEXT:], max_new_tokens=4, temperature=0.0
    )


@pytest.mark.tf_only
def test_generation_past_the_context_continues(model):
    continuation = model.generate([70, 71], max_new_tokens=3 * CONTEXT, temperature=0.0)
    assert len(continuation) == 3 * CONTEXT
    assert model.pad_id not in continuation


@pytest.mark.tf_only
def test_text_prompts_return_text(model):
    texts = model.generate(["Hello", "", "caf\u00e9"], max_new_tokens=5, seed=0)
    assert isinstance(texts, list) and all(isinstance(text, str) for text in texts)
    assert isinstance(model.generate("Hello", max_new_tokens=5, seed=0), str)
    # The empty prompt starts from the start token: as if its ids were [start].
    start = model.tokenizer.start_id
    ids = model.generate([[start]], max_new_tokens=4, temperature=0.0)
    empty_ids = model.generate([[]], max_new_tokens=4, temperature=0.0)
    assert empty_ids == ids


@pytest.mark.tf_only
def test_invalid_utf8_is_replaced_before_tokenizing(model):
    text = model.generate(b"\xff\xfeab\xc3", max_new_tokens=4, temperature=0.0)
    assert text == model.generate("\ufffd\ufffdab\ufffd", max_new_tokens=4, temperature=0.0)
    assert model.score(["\ufffd"]) == model.score([b"\xff"])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(max_new_tokens=-3), "max_new_tokens"),
        (dict(max_new_tokens=MAX_NEW_TOKENS + 1), "max_new_tokens"),
        (dict(max_new_tokens=2.0), "max_new_tokens"),
        (dict(max_new_tokens=2, temperature=-1.0), "temperature"),
        (dict(max_new_tokens=2, temperature=float("nan")), "temperature"),
        (dict(max_new_tokens=2, top_k=-1), "top_k"),
        (dict(max_new_tokens=2, top_p=0.0), "top_p"),
        (dict(max_new_tokens=2, top_p=1.01), "top_p"),
        (dict(max_new_tokens=2, stop_token=260), "stop_token"),
        (dict(max_new_tokens=2, seed="one"), "seed"),
    ],
)
def test_bad_generation_arguments_raise_value_error(model, kwargs, name):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        model.generate([70, 71], **kwargs)


@pytest.mark.parametrize("prompts", [[[70, 300]], [[70, -1]], [["a", [70]]], [[70], "a"], 7])
def test_bad_prompts_raise_value_error(model, prompts):
    with pytest.raises(ValueError, match="Received: prompts="):
        model.generate(prompts, max_new_tokens=2)


def test_text_or_empty_prompts_need_a_tokenizer():
    model = TransformerLM.from_arguments(**TINY, vocabulary_size=40)
    with pytest.raises(ValueError, match="tokenizer.*Received: prompts="):
        model.generate("hello", max_new_tokens=2)
    with pytest.raises(ValueError, match="start token.*Received: prompts="):
        model.generate([[5], []], max_new_tokens=2)


# -------------------------------------------------------------------- score
def manual_mean_nll(model, ids):
    """Mean NLL of ids[1:] from one plain forward pass (ids fit the context)."""
    logits = model(np.array([ids[:-1]]))[0].numpy().astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.mean([log_probs[i, token] for i, token in enumerate(ids[1:])])


@pytest.mark.tf_only
def test_score_is_the_mean_negative_log_likelihood(model):
    start = model.tokenizer.start_id
    texts = ["Hi there", "abc"]
    expected = [manual_mean_nll(model, [start] + [ord(c) + 4 for c in t]) for t in texts]
    np.testing.assert_allclose(model.score(texts), expected, rtol=1e-5)
    assert model.score("") == 0.0


@pytest.mark.tf_only
def test_score_of_long_ids_covers_every_token_once(model):
    ids = list(np.random.default_rng(0).integers(4, 260, size=2 * CONTEXT + 5))
    frames = [ids[0 : CONTEXT + 1], ids[CONTEXT : 2 * CONTEXT + 1], ids[2 * CONTEXT :]]
    per_frame = [manual_mean_nll(model, frame) * (len(frame) - 1) for frame in frames]
    expected = sum(per_frame) / (len(ids) - 1)
    actual = model.score_ids(tf.ragged.constant([ids, ids[:3]], tf.int32)).numpy()
    np.testing.assert_allclose(actual[0], expected, rtol=1e-5)
    np.testing.assert_allclose(actual[1], manual_mean_nll(model, ids[:3]), rtol=1e-5)


def test_a_model_with_a_tokenizer_can_be_xla_compiled_and_saved(tmp_path):
    from transformer_keras.text import CharTokenizer

    tokenizer = CharTokenizer.train(["the quick brown fox jumps over the lazy dog"])
    model = TransformerLM.from_arguments(**TINY, tokenizer=tokenizer)
    model.compile(jit_compile=True)
    assert model.jit_compile  # string ops of the tokenizer do not turn XLA off
    ids = np.array([[5, 6, 7, 8]])
    expected = model(ids)
    model.save(tmp_path / "char.keras")
    restored = keras.saving.load_model(tmp_path / "char.keras")
    assert restored.tokenizer.get_config() == tokenizer.get_config()
    np.testing.assert_allclose(restored(ids), expected, atol=1e-6)


def test_docstring_examples_run():
    import doctest
    import importlib

    assert (
        doctest.testmod(
            importlib.import_module("transformer_keras.models.language_model")
        ).failed
        == 0
    )
