"""Generation speed of `TransformerLM`: KV cache vs full recomputation, Keras vs SavedModel.

    python -m benchmarks.lm_generation            # batch 1 and 16, 64/256/1024 new tokens
    python -m benchmarks.lm_generation --quick    # smoke run (numbers mean nothing)

The model is nanoGPT's CPU recipe (4 layers, 4 heads, width 128) with a
context of 16 + 1024 positions, so that 1024 new tokens fit without sliding,
trained for a few hundred steps on Tiny Shakespeare's characters (it then never
emits the end token, and the SavedModel produces every requested token).
Prompts are 16 characters; decoding is greedy. For each batch size and number
of new tokens the table gives new tokens per second (all rows) and
milliseconds per decoding step (per step of the batch, prefill included):

- `cache`: `model.generate` (the loop of `generation/decode.py`: one
  prefill, then one token per step from the KV cache, the loop compiled whole
  by XLA, which updates the cache in place);
- `cache-noxla`: the same with `jit_compile=False` (TensorFlow's kernels copy
  the cache at every step);
- `recompute`: the same loop with `use_cache=False`, which runs the model on
  the whole sequence so far at every step;
- `savedmodel`: the `generate` signature of the exported model, reloaded with
  `tf.saved_model.load`, strings in and out (tokenizer inside the graph).

Recomputation grows with the length; a cached step grows only with the cache
it reads. What bounds a cached step from below is memory traffic: to produce
one token per row it must read every weight once and every cached key and
value of its rows. The `bound` column is that many bytes (the weights, plus
the keys and values of the filled positions averaged over the call's steps)
divided by the machine's memory-read rate measured in the same run
(`hardware.read_bandwidth_gbps`); `x bound` is the measured step over it. For
this small model (3 MB of weights) the cache outweighs the weights from about
100 positions at batch 16 (about 1,500 at batch 1), so no KV-cache decoder can
keep the step flat as the output grows: the bound itself grows. Each timing is
the median of `--repeats` calls after one untimed call of the same shape; the
`first call` column is that untimed call (XLA compiles the loop for a new batch
size and padded length).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

PROMPT_LENGTH = 16


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, tiny sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=300)
    return parser.parse_args(argv)


def median_seconds(function, repeats):
    """(median of `repeats` timed calls, seconds of the untimed first call)."""
    started = time.perf_counter()
    function()  # same shapes: no retrace, no compilation in the timing
    first = time.perf_counter() - started
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), first


def memory_bound_seconds(model, batch_size, new_tokens, bandwidth_gbps):
    """Seconds per decoding step to read the weights and the filled KV cache once.

    The positions a step attends to run from the prompt's to the last one's,
    `PROMPT_LENGTH + (new_tokens - 1) / 2` on average.
    """
    weight_bytes = common.weight_bytes(model)
    position_bytes = sum(
        np.asarray(cache).nbytes for cache in model.backbone.initial_cache(1, 1)
    )  # keys and values of one position of one row, every layer
    average_positions = PROMPT_LENGTH + (new_tokens - 1) / 2
    step_bytes = weight_bytes + batch_size * average_positions * position_bytes
    return step_bytes / (bandwidth_gbps * 1e9)


def trained_model(quick, train_steps, max_new_tokens):
    import keras

    from transformer_keras.data.language_modeling import encode_texts, window_dataset
    from transformer_keras.data.paths import shared_data_file
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import CharTokenizer

    keras.utils.set_random_seed(0)
    text = shared_data_file("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    tokenizer = CharTokenizer.train([text])
    ids = encode_texts([text], tokenizer, add_start=False, add_end=False)
    model = TransformerLM.from_preset(
        "tiny" if quick else "nanogpt-cpu",
        tokenizer=tokenizer,
        max_sequence_length=PROMPT_LENGTH + max_new_tokens,
    )
    model.compile(total_steps=train_steps, jit_compile=not quick)
    window = min(64, model.max_sequence_length)  # the recipe's context
    batches = window_dataset(ids, window, 12, random_offsets=True, seed=0)
    model.fit(batches, steps_per_epoch=train_steps, epochs=1, shuffle=False, verbose=0)
    return model, text


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    from benchmarks.hardware import read_bandwidth_gbps
    from transformer_keras.export.language_model import export_language_model

    new_token_counts = (8, 16) if args.quick else (64, 256, 1024)
    batch_sizes = (1, 2) if args.quick else (1, 16)
    max_new_tokens = max(new_token_counts)
    model, text = trained_model(
        args.quick, 20 if args.quick else args.train_steps, max_new_tokens
    )
    path = export_language_model(model, tempfile.mkdtemp() + "/lm")
    generate_signature = tf.saved_model.load(str(path)).signatures["generate"]
    bandwidth = read_bandwidth_gbps(64 if args.quick else 512)

    rows = []
    for batch_size in batch_sizes:
        starts = range(0, 1000 * batch_size, 1000)
        prompts = [text[start : start + PROMPT_LENGTH] for start in starts]  # (B,) strings
        prompt_ids = model.tokenizer.tokenize(tf.constant(prompts)).to_list()
        for new_tokens in new_token_counts:

            def keras_generate(use_cache, jit_compile=True, ids=prompt_ids, n=new_tokens):
                outputs = model.generate(
                    ids, n, temperature=0.0, use_cache=use_cache, jit_compile=jit_compile
                )
                assert all(len(row) == n for row in outputs)

            def saved_model_generate(prompts=prompts, n=new_tokens):
                outputs = generate_signature(
                    prompt=tf.constant(prompts),
                    max_new_tokens=tf.constant(n),
                    temperature=tf.constant(0.0),
                    top_k=tf.constant(0),
                    top_p=tf.constant(1.0),
                    seed=tf.constant(0),
                )
                texts = [t.decode("utf-8") for t in outputs["text"].numpy()]
                assert all(len(t) == n for t in texts), "a row stopped early"

            measured = {
                "cache": lambda: keras_generate(True),
                "cache-noxla": lambda: keras_generate(True, jit_compile=False),
                "savedmodel": saved_model_generate,
            }
            # Recomputation costs grow with the square of the length: skip the slowest.
            if batch_size * new_tokens <= 4096 or args.quick:
                measured["recompute"] = lambda: keras_generate(False)
            for mode, function in measured.items():
                seconds, first = median_seconds(function, args.repeats)
                bound = memory_bound_seconds(model, batch_size, new_tokens, bandwidth)
                rows.append((batch_size, new_tokens, mode, seconds, first, bound))
                print(
                    f"batch {batch_size:2d}  {new_tokens:4d} new  {mode:<11} "
                    f"{batch_size * new_tokens / seconds:8.0f} tokens/s  "
                    f"{1000 * seconds / new_tokens:6.2f} ms/step  first call {first:.2f} s",
                    flush=True,
                )

    print(f"\npython -m benchmarks.lm_generation {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"memory read rate: {bandwidth:.1f} GB/s (XLA reduce_sum over 512 MB)")
    print(
        f"model: {model.backbone.num_layers} layers, width {model.hidden_dim}, context "
        f"{model.max_sequence_length}, vocabulary {model.vocabulary_size}; "
        f"prompts of {PROMPT_LENGTH} characters, greedy\n"
    )
    print(
        "| batch | new tokens | mode        | tokens/s | ms/step | bound ms/step | x bound "
        "| first call (s) |"
    )
    print(
        "|------:|-----------:|-------------|---------:|--------:|--------------:|--------:"
        "|---------------:|"
    )
    for batch_size, new_tokens, mode, seconds, first, bound in rows:
        step = seconds / new_tokens
        print(
            f"| {batch_size:5d} | {new_tokens:10d} | {mode:<11} | "
            f"{batch_size * new_tokens / seconds:8.0f} | {1000 * step:7.2f} | "
            f"{1000 * bound:13.2f} | {step / bound:7.1f} | {first:14.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
