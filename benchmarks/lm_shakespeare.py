"""nanoGPT's Shakespeare-char CPU recipe, with `TransformerLM` and `model.fit`.

    python -m benchmarks.lm_shakespeare            # the recipe: 2000 steps, XLA on
    python -m benchmarks.lm_shakespeare --no-xla   # the same without XLA

The recipe of nanoGPT's README for a CPU ("baby GPT"): characters of
../shared/data/tinyshakespeare/input.txt, the first 90% for training and the
last 10% for validation; 4 layers, 4 heads, width 128, context 64, no
dropout, no biases; batches of 12 windows at random offsets; 2000 steps of
AdamW (betas 0.9/0.99, weight decay 0.1, gradient norm clipped at 1) with
100 warmup steps to 1e-3 and a cosine decay to 1e-4. nanoGPT reports a
validation loss of 1.886 (estimated on 20 random batches) after 81 s of wall
time on this 2-core machine; the target is 1.88 or lower in less time.

Every `--eval-every` steps the validation loss is estimated as nanoGPT does,
on 20 batches of 12 windows (here the same fixed windows every time, drawn
once from the validation split); at the end it is also computed exactly, on
the whole validation split. The table gives the wall time of the training
loop (XLA compilation and the estimates included) and of the whole process,
and the time at which the estimate first reached the target.
"""

import argparse
import math
import sys
import time

STARTED = time.perf_counter()

NANOGPT_VALIDATION_LOSS = 1.886
NANOGPT_SECONDS = 81.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-batches", type=int, default=20)
    parser.add_argument("--target", type=float, default=1.88)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--no-xla", action="store_true", help="do not XLA-compile steps")
    parser.add_argument("--seed", type=int, default=1337)  # nanoGPT's seed
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np

    from transformer_keras.commands.language_model import evaluate_ids
    from transformer_keras.data.language_modeling import encode_texts, split_ids, window_dataset
    from transformer_keras.data.paths import shared_data_file
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import CharTokenizer

    keras.utils.set_random_seed(args.seed)
    text = shared_data_file("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    tokenizer = CharTokenizer.train([text])
    ids = encode_texts([text], tokenizer, add_start=False, add_end=False)
    train_ids, validation_ids = split_ids(ids, validation_fraction=0.1)
    model = TransformerLM.from_preset("nanogpt-cpu", tokenizer=tokenizer)
    context = model.max_sequence_length
    model.compile(
        total_steps=args.steps,
        learning_rate=1e-3,
        jit_compile=not args.no_xla,
        steps_per_execution=args.steps_per_execution,
    )
    train_batches = window_dataset(
        train_ids, context, args.batch_size, random_offsets=True, seed=args.seed
    )
    # nanoGPT's estimate: 20 batches of 12 random windows (fixed here, for a fair curve).
    rng = np.random.default_rng(args.seed)
    starts = rng.integers(0, len(validation_ids) - context, args.eval_batches * args.batch_size)
    windows = np.stack([validation_ids[s : s + context + 1] for s in starts])  # (W, T + 1)
    estimate_batches = (windows[:, :-1], windows[:, 1:])

    curve = []
    training_started = time.perf_counter()

    class Estimate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            curve.append(
                ((epoch + 1) * args.eval_every, time.perf_counter() - training_started,
                 logs["loss"], logs["val_loss"])
            )  # fmt: skip
            print(
                f"step {curve[-1][0]:5d}  {curve[-1][1]:6.1f} s  train {logs['loss']:.4f}  "
                f"val (estimate) {logs['val_loss']:.4f}",
                flush=True,
            )

    model.fit(
        train_batches,
        validation_data=estimate_batches,
        validation_batch_size=args.batch_size,
        epochs=math.ceil(args.steps / args.eval_every),
        steps_per_epoch=args.eval_every,
        callbacks=[Estimate()],
        shuffle=False,  # random windows already
        verbose=0,
    )
    training_seconds = time.perf_counter() - training_started
    exact_loss, tokens = evaluate_ids(model, validation_ids, batch_size=256)
    reached = next(((s, t) for s, t, _, v in curve if v <= args.target), None)
    process_seconds = time.perf_counter() - STARTED

    command = "python -m benchmarks.lm_shakespeare " + " ".join(sys.argv[1:])
    rows = [
        ("validation loss, estimate (20x12 windows)", f"{curve[-1][3]:.4f}",
         f"{NANOGPT_VALIDATION_LOSS:.3f}"),
        (f"validation loss, whole split ({tokens:,} tokens)", f"{exact_loss:.4f}", "-"),
        ("training loss (last 250 steps)", f"{curve[-1][2]:.4f}", "-"),
        ("training loop wall time (s)", f"{training_seconds:.1f}", f"{NANOGPT_SECONDS:.0f}"),
        ("process wall time (s)", f"{process_seconds:.1f}", "-"),
        (f"time to estimate <= {args.target} (s)",
         f"{reached[1]:.1f} (step {reached[0]})" if reached else "not reached", "-"),
        ("steps/s", f"{args.steps / training_seconds:.1f}", f"{2000 / NANOGPT_SECONDS:.1f}"),
    ]  # fmt: skip
    print(f"\n{command.strip()}  (XLA {'off' if args.no_xla else 'on'})\n")
    print(f"| {'metric':<46} | {'transformer_keras':>20} | {'nanoGPT':>8} |")
    print(f"|{'-' * 48}|{'-' * 22}|{'-' * 10}|")
    for name, ours, theirs in rows:
        print(f"| {name:<46} | {ours:>20} | {theirs:>8} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
