"""Tests of `export/language_model.py`: the string signatures of an exported `TransformerLM`.

One tiny byte-level model is exported once per module; the reloaded SavedModel
must generate what the Keras model generates (greedy in a fresh process that
never imports transformer_keras, sampled in this one), score what it scores,
and reject bad settings with errors that name them.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from transformer_keras.export import (
    keras_file_path,
    load_keras_model,
    load_saved_model,
    verify_in_fresh_process,
)
from transformer_keras.export.language_model import export_language_model
from transformer_keras.models.language_model import MAX_NEW_TOKENS, TransformerLM
from transformer_keras.text import ByteTokenizer

pytestmark = pytest.mark.tf_only


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


PROMPTS = ["Hello", "", "A much longer prompt than the context of sixteen bytes"]
GREEDY = dict(max_new_tokens=12, temperature=0.0, top_k=0, top_p=1.0, seed=0)


@pytest.fixture(scope="module")
def model():
    lm = TransformerLM.from_arguments(
        num_layers=2,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=16,
        tokenizer=ByteTokenizer(),
    )
    lm.build()
    rng = np.random.default_rng(3)  # large weights: varied continuations
    for weight in lm.weights:
        weight.assign(rng.normal(scale=0.4, size=weight.shape).astype("float32"))
    return lm


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_language_model(model, tmp_path_factory.mktemp("export") / "lm")


@pytest.fixture(scope="module")
def loaded(exported):
    return load_saved_model(exported)


def call(signature, prompt, max_new_tokens, temperature, top_k, top_p, seed):
    outputs = signature(
        prompt=tf.constant(prompt, tf.string),
        max_new_tokens=tf.constant(max_new_tokens, tf.int32),
        temperature=tf.constant(temperature, tf.float32),
        top_k=tf.constant(top_k, tf.int32),
        top_p=tf.constant(top_p, tf.float32),
        seed=tf.constant(seed, tf.int32),
    )
    return [text.decode("utf-8", errors="replace") for text in outputs["text"].numpy()]


def keras_generate(model, prompts, max_new_tokens, temperature, top_k, top_p, seed):
    return model.generate(
        prompts,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        stop_token=model.tokenizer.end_id,  # the exported signature stops there
    )


@pytest.mark.slow
def test_fresh_process_greedy_output_equals_the_keras_model(model, exported):
    outputs = verify_in_fresh_process(exported, "generate", {"prompt": PROMPTS, **GREEDY})
    expected = keras_generate(model, PROMPTS, **GREEDY)
    assert outputs["text"] == expected
    assert len(set(expected)) == 3  # each prompt has its own continuation


def test_signatures_and_their_specs(loaded):
    assert sorted(loaded.signatures) == ["generate", "score", "serving_default"]
    generate = loaded.signatures["generate"]
    specs = generate.structured_input_signature[1]
    assert {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()} == {
        "prompt": (tf.string, [None]),
        "max_new_tokens": (tf.int32, []),
        "temperature": (tf.float32, []),
        "top_k": (tf.int32, []),
        "top_p": (tf.float32, []),
        "seed": (tf.int32, []),
    }
    assert list(generate.structured_outputs) == ["text"]
    serving = loaded.signatures["serving_default"]
    assert serving.structured_input_signature == generate.structured_input_signature
    score_specs = loaded.signatures["score"].structured_input_signature[1]
    assert {name: spec.shape.as_list() for name, spec in score_specs.items()} == {
        "text": [None]
    }


def test_serving_default_is_generate(loaded):
    greedy = call(loaded.signatures["generate"], PROMPTS, **GREEDY)
    assert call(loaded.signatures["serving_default"], PROMPTS, **GREEDY) == greedy


def test_sampled_output_with_a_seed_equals_the_keras_model(model, loaded):
    settings = dict(max_new_tokens=10, temperature=0.9, top_k=50, top_p=0.95, seed=42)
    sampled = call(loaded.signatures["generate"], PROMPTS, **settings)
    assert sampled == keras_generate(model, PROMPTS, **settings)
    assert sampled != call(loaded.signatures["generate"], PROMPTS, **{**settings, "seed": 43})


def test_score_equals_the_keras_model(model, loaded):
    texts = ["Hello there", "", "\u00e9t\u00e9", "x" * 40]
    nll = loaded.signatures["score"](text=tf.constant(texts))["nll"].numpy()
    np.testing.assert_allclose(nll, model.score(texts), rtol=1e-5)
    assert nll[1] == 0.0


def test_odd_prompts_generate_text(loaded):
    prompts = [b"", b"\xff\xfe invalid", b"\xc3", "x" * 100]
    texts = call(loaded.signatures["generate"], prompts, **GREEDY)
    assert len(texts) == 4 and all(isinstance(text, str) for text in texts)
    empty_batch = call(loaded.signatures["generate"], tf.zeros([0], tf.string), **GREEDY)
    assert empty_batch == []
    nll = loaded.signatures["score"](text=tf.constant([b"\xff\xfe"]))["nll"].numpy()
    assert np.isfinite(nll).all()


@pytest.mark.parametrize(
    "setting, value",
    [
        ("max_new_tokens", 0),
        ("max_new_tokens", -5),
        ("max_new_tokens", MAX_NEW_TOKENS + 1),
        ("temperature", -0.5),
        ("temperature", float("nan")),
        ("top_k", -1),
        ("top_p", 0.0),
        ("top_p", 1.5),
    ],
)
def test_bad_settings_fail_with_an_error_naming_them(loaded, setting, value):
    with pytest.raises(tf.errors.InvalidArgumentError, match=setting):
        call(loaded.signatures["generate"], ["Hi"], **{**GREEDY, setting: value})


def test_the_keras_file_beside_reloads_the_same_model(model, exported):
    restored = load_keras_model(keras_file_path(exported))
    assert restored.get_config() == model.get_config()
    ids = np.array([[40, 50, 60]])
    np.testing.assert_allclose(restored(ids), model(ids), atol=1e-6)


def test_a_model_without_tokenizer_cannot_be_exported(tmp_path):
    model = TransformerLM.from_preset("tiny", vocabulary_size=30)
    with pytest.raises(ValueError, match="tokenizer"):
        export_language_model(model, tmp_path / "lm")
    assert not (tmp_path / "lm").exists()


def test_a_subword_model_generates_the_same_text_after_reloading(tmp_path):
    from transformer_keras.data.language_modeling import python_documentation_texts
    from transformer_keras.text import SubwordTokenizer

    tokenizer = SubwordTokenizer.train(python_documentation_texts(["json"]), 200)
    model = TransformerLM.from_preset("tiny", tokenizer=tokenizer, max_sequence_length=16)
    prompts = ["Serialize obj", ""]
    path = export_language_model(model, tmp_path / "subword", keras_file=False)
    generate = load_saved_model(path).signatures["generate"]
    texts = call(generate, prompts, **{**GREEDY, "max_new_tokens": 6})
    assert texts == keras_generate(model, prompts, **{**GREEDY, "max_new_tokens": 6})
    assert any(texts)


def test_a_bfloat16_copy_exports_and_generates_what_it_generates_in_keras(model, tmp_path):
    fast = model.with_dtype("bfloat16")
    path = export_language_model(fast, tmp_path / "bf16", keras_file=False)
    generate = load_saved_model(path).signatures["generate"]
    assert call(generate, PROMPTS, **GREEDY) == keras_generate(fast, PROMPTS, **GREEDY)
    sampled = {**GREEDY, "temperature": 0.8, "seed": 4}
    assert call(generate, PROMPTS, **sampled) == keras_generate(fast, PROMPTS, **sampled)


def _compiled_with_xla(path):
    """Whether a function of the SavedModel at `path` must be compiled with XLA."""
    return b"_XlaMustCompile" in (path / "saved_model.pb").read_bytes()


@pytest.mark.slow
def test_an_export_without_xla_generates_the_same_greedy_text(model, exported, tmp_path):
    plain = export_language_model(model, tmp_path / "lm", keras_file=False, jit_compile=False)
    assert _compiled_with_xla(exported) and not _compiled_with_xla(plain)
    generate = load_saved_model(plain).signatures["generate"]
    assert call(generate, PROMPTS, **GREEDY) == keras_generate(model, PROMPTS, **GREEDY)
