"""The language model's serving signatures: text in, continuation out; text in, score out.

`generate` (also `serving_default`) takes

    prompt: tf.string [None], max_new_tokens: tf.int32 [], temperature: tf.float32 [],
    top_k: tf.int32 [] (0 = off), top_p: tf.float32 [] (1.0 = off), seed: tf.int32 []

and returns `text: tf.string [None]`, the continuation of each prompt (without
the prompt), always valid UTF-8 (invalid byte sequences, such as a character
cut by `max_new_tokens`, become U+FFFD). The tokenizer, the prefill, the
whole cached decode loop and the sampling run inside the graph; generation
stops at `max_new_tokens` new tokens or at the tokenizer's end token (not
included in the text).

`score` takes `text: tf.string [None]` and returns `nll: tf.float32 [None]`,
the mean negative log-likelihood per token of each text after the start token
(`exp(nll)` is its perplexity); an empty text scores 0.

Behaviour on bad input, in the graph (the same rules as `TransformerLM.generate`):
an empty prompt starts from the start token; invalid UTF-8 bytes are replaced
by U+FFFD before tokenizing; prompts longer than the context keep their last
tokens; `temperature = 0` is greedy; `max_new_tokens` outside
`[1, MAX_NEW_TOKENS]` (4096), a negative or non-finite `temperature`,
`top_k < 0` and `top_p` outside (0, 1] fail with an `InvalidArgumentError`
that names the argument; an empty batch returns an empty batch.

Legend: B batch.
"""

import tensorflow as tf

from transformer_keras.export.saved_model import export_saved_model
from transformer_keras.generation.prompts import MAX_NEW_TOKENS
from transformer_keras.generation.sampling import assert_sampling_settings


def _after(checks, tensor):
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def language_model_endpoints(model, jit_compile=True):
    """`{"generate": ..., "score": ...}` tf.functions of a `TransformerLM` with a tokenizer.

    Args:
        model: a built `TransformerLM` that has a `tokenizer`.
        jit_compile: compile the cached decode loop of `generate` with XLA
            (see `export_language_model`).

    Returns:
        The endpoints for `export_saved_model` (`generate` first, so it is
        also `serving_default`).
    """
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise ValueError(
            "Only a language model with a tokenizer can be exported with text signatures. "
            "Received: tokenizer=None"
        )

    # No AutoGraph: the decode loop is an explicit `tf.while_loop`.
    @tf.function(
        autograph=False,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ],
    )
    def generate(prompt, max_new_tokens, temperature, top_k, top_p, seed):
        checks = assert_sampling_settings(temperature, top_k, top_p) + [
            tf.debugging.assert_greater_equal(
                max_new_tokens, 1, message=f"max_new_tokens must be in [1, {MAX_NEW_TOKENS}]"
            ),
            tf.debugging.assert_less_equal(
                max_new_tokens,
                MAX_NEW_TOKENS,
                message=f"max_new_tokens must be in [1, {MAX_NEW_TOKENS}]",
            ),
        ]
        prompt = _after(checks, prompt)
        prompts = model.tokenize(prompt)  # (B, None), invalid UTF-8 replaced
        new_ids = model.generate_ids(
            prompts,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            seed,
            stop_token_id=tokenizer.end_id,
            jit_compile=jit_compile,
        )  # (B, None)
        return {"text": model.detokenize(new_ids)}  # (B,), valid UTF-8

    @tf.function(
        autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    def score(text):
        return {"nll": model.score_ids(model.text_ids(text))}  # (B,)

    return {"generate": generate, "score": score}


def export_language_model(model, path, keras_file=True, jit_compile=True):
    """Writes `model` as a string-in, string-out SavedModel at `path`, atomically.

    The `.keras` file (model and tokenizer) goes beside it, at `path + ".keras"`.

    By default the decode loop inside `generate` is compiled with XLA: several
    times faster per token on CPU and GPU, and what `tf.saved_model.load`
    runs. TensorFlow Serving runs XLA-compiled functions only behind its
    experimental `--xla_cpu_compilation_enabled` flag; `jit_compile=False`
    exports the same loop without XLA (the same greedy text, slower), for
    servers without that flag (`docs/serving.md`).

    Args:
        model: a `TransformerLM` with a tokenizer.
        path: the SavedModel folder, e.g. `saved_models/lm`.
        keras_file: also write the `.keras` file.
        jit_compile: compile the decode loop of `generate` with XLA.

    Returns:
        The `pathlib.Path` of the SavedModel folder.

    Example:
    >>> import tempfile
    >>> from transformer_keras.models.language_model import TransformerLM
    >>> from transformer_keras.text import ByteTokenizer
    >>> model = TransformerLM.from_preset("tiny", tokenizer=ByteTokenizer())
    >>> path = export_language_model(model, tempfile.mkdtemp() + "/lm")
    >>> generate = tf.saved_model.load(str(path)).signatures["generate"]
    >>> outputs = generate(prompt=tf.constant(["Once"]), max_new_tokens=tf.constant(5),
    ...     temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
    ...     seed=tf.constant(0))
    >>> outputs["text"].shape
    TensorShape([1])
    """
    if not model.built:
        model.build()
    return export_saved_model(
        path,
        model,
        language_model_endpoints(model, jit_compile),
        track=(model.tokenizer,),
        keras_file=keras_file,
    )
