"""Generation speed of a base-size LM: transformer_keras beside KerasHub's GPT-2.

    python -m benchmarks.generation [--quick] [--scale N]

A decoder-only LM of the "base" size (6 layers, width 512, 8 heads,
vocabulary 8000) with random weights, a context of 16 prompt + 256 new
tokens, greedy decoding, no stop token. New tokens per second (prefill
included) at batch 1 and 16 for:

- transformer_keras `TransformerLM.generate` with the KV cache (the decode
  loop of `generation/decode.py`, compiled whole by XLA, its default) and
  without it (the window is
  recomputed at every step; at batch 16 over fewer new tokens, as its cost
  grows with the output);
- a copy of it in bfloat16 (`model.with_dtype("bfloat16")`: variables and
  computations in bfloat16, float32 logits), whose decoding step reads half
  the bytes;
- the same model exported with `export_language_model` and reloaded with
  `tf.saved_model.load`, through its string `generate` signature (a character
  tokenizer of 7996 CJK characters gives the 8000 ids; the new tokens are
  counted from the returned text, which ends early if a row emits the end id);
- KerasHub's `GPT2CausalLM` built at the same size (`GPT2Backbone`, no
  preprocessor, `sampler="greedy"`), through its own compiled `generate`:
  as it comes (Keras' `jit_compile="auto"`, which is no XLA on a CPU: the
  target's anchor), compiled with `jit_compile=True`, and built in bfloat16
  (`dtype="bfloat16"`, the anchor of our bfloat16 copy).

The cached Keras, SavedModel and KerasHub calls of a batch size run in turn,
three times, and each rate is the median (`measure_alternating`).
"""

import tempfile
import time

import numpy as np

from benchmarks import common, runner
from benchmarks.architectures import LMSize, transformer_keras_lm
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
            "xla": True,
        },
        {  # KerasHub compiles `generate` with XLA where Keras' "auto" does (not on CPU).
            "benchmark": "generate",
            "config": _config(1, NEW_TOKENS, True),
            "implementation": "keras_hub",
            "precision": "float32",
            "xla": False,
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


def measure_alternating(generators, repeats, warmups=None):
    """`{name: new tokens per second}` of functions measured in turn.

    Each `generators[name]()` generates and returns how many new tokens it
    made. After one untimed call each (tracing, compilation; `warmups[name]`
    instead when given, e.g. a shorter generation through the same traced
    function), the functions run one after the other `repeats` times, so
    that a change in the machine's load hits them alike; each rate is the
    median over its calls.
    """
    for name, generate in generators.items():
        (warmups or {}).get(name, generate)()
    rates = {name: [] for name in generators}
    for _ in range(repeats):
        for name, generate in generators.items():
            start = time.perf_counter()
            produced = generate()
            rates[name].append(produced / (time.perf_counter() - start))
    return {name: float(np.median(values)) for name, values in rates.items()}


def keras_generator(model, prompts, new_tokens, use_cache):
    """`TransformerLM.generate` on id prompts (greedy, no stop token)."""

    def generate():
        outputs = model.generate(
            prompts, new_tokens, temperature=0.0, use_cache=use_cache, seed=0
        )
        return sum(len(output) for output in outputs)

    return generate


def saved_model_generator(signature, tokenizer, prompt_texts, new_tokens):
    """The reloaded SavedModel's `generate` signature (greedy, stops at the end id)."""
    import tensorflow as tf

    def generate():
        texts = signature(
            prompt=prompt_texts,
            max_new_tokens=tf.constant(new_tokens),
            temperature=tf.constant(0.0),
            top_k=tf.constant(0),
            top_p=tf.constant(1.0),
            seed=tf.constant(0),
        )["text"]
        return int(tf.reduce_sum(tokenizer.tokenize(texts).row_lengths()))

    return generate


def keras_hub_model(size, jit_compile="auto", dtype=None):
    """KerasHub's `GPT2CausalLM` at `size`, random weights, greedy sampler."""
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
        dtype=dtype,
    )
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    model.compile(sampler="greedy", jit_compile=jit_compile)
    return model


def keras_hub_generator(model, prompts, new_tokens):
    """`GPT2CausalLM.generate` filling `new_tokens` positions after each prompt."""
    batch, length = len(prompts), PROMPT_LENGTH + new_tokens
    token_ids = np.zeros((batch, length), "int32")
    token_ids[:, :PROMPT_LENGTH] = prompts
    prompt_mask = np.arange(length)[None, :] < PROMPT_LENGTH  # (1, P + new)
    inputs = {"token_ids": token_ids, "padding_mask": np.repeat(prompt_mask, batch, 0)}

    def generate():
        outputs = model.generate(inputs, stop_token_ids=None)
        return int(np.asarray(outputs["padding_mask"]).sum()) - batch * PROMPT_LENGTH

    return generate


def _row(
    batch, new_tokens, cache, implementation, xla, rate, reloaded=False, precision="float32"
):
    anchors = ()
    if implementation == "transformer_keras" and cache:
        anchor = {"implementation": "keras_hub", "xla": False, "precision": precision}
        if reloaded:  # the SavedModel row's anchor is KerasHub's row of the same batch
            anchor["config"] = _config(batch, new_tokens, True)
        anchors = (anchor,)
    return Row(
        "generate",
        _config(batch, new_tokens, cache, reloaded),
        implementation,
        precision,
        xla,
        figures={"tokens_per_second": rate},
        anchors=anchors,
        notes=f"prompt {PROMPT_LENGTH}, greedy, random weights",
    )


def run(settings):
    import tensorflow as tf

    from transformer_keras.export.language_model import export_language_model

    size = _size(settings)
    new_tokens = size.context - PROMPT_LENGTH
    repeats = settings.pick(full=2, quick=1)  # 3 took 333 s of the 15-minute budget
    tokenizer = _tokenizer(size)
    model = transformer_keras_lm(size, tokenizer=tokenizer)
    model.build()
    model_bfloat16 = model.with_dtype("bfloat16")
    hub = keras_hub_model(size)
    hub_xla = bool(getattr(hub, "jit_compile", False))
    hub_compiled = keras_hub_model(size, jit_compile=True)
    hub_bfloat16 = keras_hub_model(size, dtype="bfloat16")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = export_language_model(model, f"{folder}/lm", keras_file=False)
        signature = tf.saved_model.load(str(path)).signatures["generate"]
        for batch in map(settings.batch, BATCHES):
            started = time.perf_counter()
            prompts = _prompts(size, batch)
            texts = tokenizer.detokenize(tf.constant(prompts, tf.int32))
            rates = measure_alternating(
                {
                    "keras": keras_generator(model, prompts.tolist(), new_tokens, True),
                    "keras_bfloat16": keras_generator(
                        model_bfloat16, prompts.tolist(), new_tokens, True
                    ),
                    "savedmodel": saved_model_generator(
                        signature, tokenizer, texts, new_tokens
                    ),
                    "keras_hub": keras_hub_generator(hub, prompts, new_tokens),
                    "keras_hub_xla": keras_hub_generator(hub_compiled, prompts, new_tokens),
                    "keras_hub_bfloat16": keras_hub_generator(
                        hub_bfloat16, prompts, new_tokens
                    ),
                },
                repeats,
            )
            rows.append(
                _row(batch, new_tokens, True, "transformer_keras", True, rates["keras"])
            )
            rows.append(
                _row(
                    batch,
                    new_tokens,
                    True,
                    "transformer_keras",
                    True,
                    rates["keras_bfloat16"],
                    precision="bfloat16",
                )
            )
            rows.append(
                _row(
                    batch,
                    new_tokens,
                    True,
                    "transformer_keras",
                    True,
                    rates["savedmodel"],
                    True,
                )
            )
            rows.append(_row(batch, new_tokens, True, "keras_hub", hub_xla, rates["keras_hub"]))
            rows.append(
                _row(batch, new_tokens, True, "keras_hub", True, rates["keras_hub_xla"])
            )
            common.progress(
                f"batch {batch} with the cache: {time.perf_counter() - started:.0f} s"
            )
            started = time.perf_counter()
            rows.append(
                _row(
                    batch,
                    new_tokens,
                    True,
                    "keras_hub",
                    hub_xla,
                    rates["keras_hub_bfloat16"],
                    precision="bfloat16",
                )
            )
            # Without the cache the window is recomputed at every step: the cost
            # grows with the output, so batch 16 generates fewer tokens.
            count = new_tokens if batch == 1 else new_tokens // 8
            uncached = {"uncached": keras_generator(model, prompts.tolist(), count, False)}
            warmup = {"uncached": keras_generator(model, prompts.tolist(), 2, False)}
            rate = measure_alternating(uncached, 1, warmup)["uncached"]
            rows.append(_row(batch, count, False, "transformer_keras", False, rate))
            common.progress(
                f"batch {batch} without the cache: {time.perf_counter() - started:.0f} s"
            )
    return rows


if __name__ == "__main__":
    runner.main(run, TARGETS, description=__doc__.split("\n\n")[0])
