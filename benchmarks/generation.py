"""Generation speed of a base-size LM: transformer_keras beside KerasHub's GPT-2.

    python -m benchmarks.generation [--quick] [--scale N]

A decoder-only LM of the "base" size (6 layers, width 512, 8 heads,
vocabulary 8000) with random weights, a context of 16 prompt + 256 new
tokens, greedy decoding, no stop token. New tokens per second (prefill
included) at batch 1 and 16 for:

- transformer_keras `TransformerLM.generate` with the KV cache (the compiled
  decode loop of `generation/decode.py`) and without it (the window is
  recomputed at every step; at batch 16 over fewer new tokens, as its cost
  grows with the output);
- the same model exported with `export_language_model` and reloaded with
  `tf.saved_model.load`, through its string `generate` signature (a character
  tokenizer of 7996 CJK characters gives the 8000 ids; the new tokens are
  counted from the returned text, which ends early if a row emits the end id);
- KerasHub's `GPT2CausalLM` built at the same size (`GPT2Backbone`, no
  preprocessor, `sampler="greedy"`), through its own compiled `generate`.
"""

import tempfile

import numpy as np

from benchmarks import runner
from benchmarks.architectures import LMSize, transformer_keras_lm
from benchmarks.common import time_calls
from benchmarks.report import Row, Target

PROMPT_LENGTH = 16
NEW_TOKENS = 256
BATCHES = (1, 16)
FIRST_CHARACTER = 0x4E00  # CJK unified ideographs: 7996 one-character tokens


def _size(settings):
    if settings.quick:
        return LMSize("base", 2, 64, 4, context=PROMPT_LENGTH + 16, batch=1, vocabulary=500)
    return LMSize(
        "base", 6, 512, 8, context=PROMPT_LENGTH + NEW_TOKENS, batch=1, vocabulary=8000
    )


def _config(batch, new_tokens, cache, reloaded=False):
    return f"base b{batch} {new_tokens} new {'cache' if cache else 'no cache'}" + (
        " savedmodel" if reloaded else ""
    )


TARGETS = [
    Target(
        "generate base batch 1 with the cache: transformer_keras vs keras_hub",
        {
            "benchmark": "generate",
            "config": _config(1, NEW_TOKENS, True),
            "implementation": "transformer_keras",
            "precision": "float32",
            "xla": False,
        },
        {  # KerasHub compiles `generate` with XLA where Keras' "auto" does (not on CPU).
            "benchmark": "generate",
            "config": _config(1, NEW_TOKENS, True),
            "implementation": "keras_hub",
            "precision": "float32",
        },
        "tokens_per_second",
        1.5,
    )
]


def _prompts(size, batch):
    rng = np.random.default_rng(0)
    return rng.integers(4, size.vocabulary, (batch, PROMPT_LENGTH))  # (B, P), no special ids


def _tokenizer(size):
    from transformer_keras.text import CharTokenizer

    specials = 4  # pad, unknown, start, end
    characters = [chr(FIRST_CHARACTER + i) for i in range(size.vocabulary - specials)]
    return CharTokenizer(vocabulary=characters)


def _tokens_per_second(generate, batch, new_tokens, repeats):
    """Rate of `generate()`, which returns the number of new tokens it made."""
    produced = []
    timing = time_calls(lambda: produced.append(generate()), warmup=1, repeats=repeats)
    return float(np.median(produced)) / timing.median if produced else batch * new_tokens


def transformer_keras_rows(size, settings, new_tokens):
    """Keras `generate` with and without cache, then the reloaded SavedModel."""
    import tensorflow as tf

    from transformer_keras.export.language_model import export_language_model

    tokenizer = _tokenizer(size)
    model = transformer_keras_lm(size, tokenizer=tokenizer)
    model.build()
    rows = []
    for batch in map(settings.batch, BATCHES):
        prompts = _prompts(size, batch).tolist()
        runs = [(True, new_tokens), (False, new_tokens if batch == 1 else new_tokens // 8)]
        for use_cache, count in runs:

            def generate(use_cache=use_cache, count=count, prompts=prompts):
                outputs = model.generate(
                    prompts, count, temperature=0.0, use_cache=use_cache, seed=0
                )
                return sum(len(output) for output in outputs)

            rate = _tokens_per_second(generate, batch, count, settings.pick(3, 1))
            rows.append(_row(batch, count, use_cache, "transformer_keras", False, rate))

    with tempfile.TemporaryDirectory() as folder:
        path = export_language_model(model, f"{folder}/lm", keras_file=False)
        signature = tf.saved_model.load(str(path)).signatures["generate"]
        for batch in map(settings.batch, BATCHES):
            texts = tokenizer.detokenize(tf.constant(_prompts(size, batch), tf.int32))

            def generate(texts=texts):
                outputs = signature(
                    prompt=texts,
                    max_new_tokens=tf.constant(new_tokens),
                    temperature=tf.constant(0.0),
                    top_k=tf.constant(0),
                    top_p=tf.constant(1.0),
                    seed=tf.constant(0),
                )["text"]
                return int(tf.reduce_sum(tokenizer.tokenize(outputs).row_lengths()))

            rate = _tokens_per_second(generate, batch, new_tokens, settings.pick(3, 1))
            rows.append(_row(batch, new_tokens, True, "transformer_keras", False, rate, True))
    return rows


def keras_hub_rows(size, settings, new_tokens):
    """`GPT2CausalLM.generate` at the same size, random weights, greedy."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=size.vocabulary,
        num_layers=size.num_layers,
        num_heads=size.num_heads,
        hidden_dim=size.hidden_dim,
        intermediate_dim=size.intermediate_dim,
        dropout=0.0,
        max_sequence_length=size.context,
    )
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    model.compile(sampler="greedy")
    xla = bool(getattr(model, "jit_compile", True))
    rows = []
    for batch in map(settings.batch, BATCHES):
        length = PROMPT_LENGTH + new_tokens
        token_ids = np.zeros((batch, length), "int32")
        token_ids[:, :PROMPT_LENGTH] = _prompts(size, batch)
        padding_mask = np.arange(length)[None, :] < PROMPT_LENGTH  # (B, P + new), prompt only
        inputs = {"token_ids": token_ids, "padding_mask": np.repeat(padding_mask, batch, 0)}

        def generate(inputs=inputs, batch=batch):
            outputs = model.generate(inputs, stop_token_ids=None)
            return int(np.asarray(outputs["padding_mask"]).sum()) - batch * PROMPT_LENGTH

        rate = _tokens_per_second(generate, batch, new_tokens, settings.pick(3, 1))
        rows.append(_row(batch, new_tokens, True, "keras_hub", xla, rate))
    return rows


def _row(batch, new_tokens, cache, implementation, xla, rate, reloaded=False):
    anchors = ()
    if implementation == "transformer_keras" and cache:
        hub_config = _config(batch, new_tokens, True)
        anchors = ({"implementation": "keras_hub", "xla": None, "config": hub_config},)
    return Row(
        "generate",
        _config(batch, new_tokens, cache, reloaded),
        implementation,
        "float32",
        xla,
        figures={"tokens_per_second": rate},
        anchors=anchors,
        notes=f"prompt {PROMPT_LENGTH}, greedy, random weights",
    )


def run(settings):
    size = _size(settings)
    new_tokens = size.context - PROMPT_LENGTH
    return transformer_keras_rows(size, settings, new_tokens) + keras_hub_rows(
        size, settings, new_tokens
    )


if __name__ == "__main__":
    runner.main(run, TARGETS, description=__doc__.split("\n\n")[0])
