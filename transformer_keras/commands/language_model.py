"""`transformer-keras` sub-commands of the language-model family.

- `train lm --train FILE... [--validation FILE...] [--tokenizer char|byte|subword]
  [--preset NAME] [--max-steps N | --epochs N] --output saved_models/NAME` learns
  a tokenizer and a `TransformerLM`, then exports the SavedModel (`generate`,
  `serving_default`, `score`) and the `.keras` file beside it.
- `generate saved_models/NAME "prompt" ... [--max-new-tokens 200 --temperature 0.8
  --top-k 40 --top-p 0.95 --seed 1]` prints each prompt followed by its
  continuation (prompts from stdin lines when none are given).
- `evaluate lm saved_models/NAME --data FILE` prints the loss (nats per token)
  and the perplexity of the model on a text file.
- The `demo` step trains a small model for about a minute on the docstrings of
  Python's standard library (or on `--data FILE`), exports, reloads the
  SavedModel and prints sampled continuations.

TensorFlow and Keras are imported inside the handlers so `--help` is instant.
"""

import math
import os
import random
import sys
import time

from transformer_keras.commands.common import (
    add_training_arguments,
    check_global_batch_size,
    chief_writes,
    save_frequency,
    start_training,
    strategy_scope,
)

PRESETS = ("nanogpt-cpu", "nanogpt-gpu", "small", "tiny")  # TransformerLM.presets
TOKENIZERS = ("char", "byte", "subword")
POSITIONS = ("learned", "rotary", "sinusoidal")
MAX_STEPS_PER_EPOCH = 250  # with --max-steps, an "epoch" ends with a validation pass
DEMO_PROMPTS = ("Return the", "The default value", "")


def register(commands):
    """Adds `train lm`, `generate`, `evaluate lm` and the demo step."""
    train = commands.train.add_parser(
        "lm",
        help="train a language model on text files and export it",
        description="Learn a tokenizer and a decoder-only Transformer LM, export a SavedModel.",
    )
    train.add_argument("--train", required=True, nargs="+", help="UTF-8 text file(s)")
    train.add_argument(
        "--validation", nargs="+", help="text file(s) (default: the last 10%% of --train)"
    )
    train.add_argument("--output", required=True, help="SavedModel folder, saved_models/NAME")
    train.add_argument("--preset", default="nanogpt-cpu", choices=PRESETS)
    train.add_argument("--tokenizer", default="char", choices=TOKENIZERS)
    train.add_argument("--vocabulary-size", type=int, help="tokenizer size (subword 8000)")
    train.add_argument("--context", type=int, help="context length in tokens (preset's)")
    train.add_argument(
        "--position", choices=POSITIONS, help="position encoding (preset's: learned)"
    )
    budget = train.add_mutually_exclusive_group()
    budget.add_argument(
        "--max-steps", type=int, help="training steps on random windows (default 2000)"
    )
    budget.add_argument("--epochs", type=int, help="passes over all windows instead")
    train.add_argument("--batch-size", type=int, default=12)
    train.add_argument("--learning-rate", type=float, default=1e-3, help="peak rate")
    train.add_argument("--dropout", type=float, help="(preset's)")
    train.add_argument("--sample-prompt", default="", help="prompt of the per-epoch sample")
    add_training_arguments(train)  # --strategy, --seed, --deterministic, --save-every
    train.add_argument("--no-xla", action="store_true", help="do not XLA-compile steps")
    train.add_argument(
        "--export-dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="weights of the exported model; bfloat16 halves its memory and generates "
        "faster where bfloat16 products are fast (Task.with_dtype)",
    )
    train.set_defaults(handler=train_command)

    generate = commands.top.add_parser(
        "generate", help="continue prompts with an exported language model"
    )
    generate.add_argument("model", help="SavedModel folder written by `train lm`")
    generate.add_argument("prompts", nargs="*", help="prompts; read from stdin when none")
    generate.add_argument("--max-new-tokens", type=int, default=200)
    generate.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    generate.add_argument("--top-k", type=int, default=40, help="0 = off")
    generate.add_argument("--top-p", type=float, default=0.95, help="1 = off")
    generate.add_argument("--seed", type=int, help="(default: a random seed)")
    generate.set_defaults(handler=generate_command)

    evaluate = commands.evaluate.add_parser(
        "lm", help="loss and perplexity of an exported language model on a text file"
    )
    evaluate.add_argument("model", help="SavedModel folder written by `train lm`")
    evaluate.add_argument("--data", required=True, nargs="+", help="UTF-8 text file(s)")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.set_defaults(handler=evaluate_command)

    commands.demos.append(("language model", demo))


def _check_positive(name, value):
    if value is not None and value <= 0:
        raise ValueError(f"--{name} must be positive. Received: {name}={value}")


# ---------------------------------------------------------------- training
def language_model_ids(texts, tokenizer, validation_texts=None, validation_fraction=0.1):
    """Train and validation id streams: the given validation texts, or the last 10%."""
    from transformer_keras.data.language_modeling import encode_texts, split_ids

    ids = encode_texts(texts, tokenizer)
    if validation_texts:
        return ids, encode_texts(validation_texts, tokenizer)
    return split_ids(ids, validation_fraction)


def training_budget(num_train_ids, context, batch_size, max_steps=None, epochs=None):
    """`(steps_per_epoch, epochs, random_offsets)` for `fit`.

    `max_steps` draws random windows (nanoGPT style) for about `max_steps`
    steps, cut into epochs of at most `MAX_STEPS_PER_EPOCH` (rounded up so the
    epochs are equal); `epochs` passes over all contiguous windows.
    """
    from transformer_keras.data.language_modeling import num_windows

    if epochs is not None:
        return math.ceil(num_windows(num_train_ids, context) / batch_size), epochs, False
    max_steps = 2000 if max_steps is None else max_steps
    epochs = math.ceil(max_steps / MAX_STEPS_PER_EPOCH)
    return math.ceil(max_steps / epochs), epochs, True


def fit_language_model(
    model,
    train_ids,
    validation_ids,
    output_dir,
    max_steps=None,
    epochs=None,
    batch_size=12,
    learning_rate=1e-3,
    seed=0,
    sample_prompt="",
    sample_tokens=80,
    verbose=2,
    jit_compile=True,
    callbacks=(),
    strategy=None,
    save_freq="epoch",
):
    """Compiles (warmup + cosine AdamW) and fits a `TransformerLM` on id streams.

    Checkpoints, TensorBoard logs and the training state go under
    `output_dir`: the same call after an interruption resumes at the same
    epoch and step (`training.resumable_fit.fit_resumable`). A sample
    continuation of `sample_prompt` is printed after each epoch.

    Args:
        model: a `TransformerLM` with a tokenizer.
        train_ids, validation_ids: 1-D id streams (validation may be empty).
        output_dir: folder for the run's checkpoints and logs.
        max_steps, epochs: the budget, see `training_budget`.
        batch_size, learning_rate, seed: training.
        sample_prompt, sample_tokens: the per-epoch sample (`None`: no sample).
        verbose: `fit`'s verbosity.
        jit_compile: XLA-compile the train step.
        callbacks: more callbacks, run after the default ones.
        strategy: the `tf.distribute.Strategy` the model was created under
            (None: default); `batch_size` is the global batch.
        save_freq: `"epoch"` or steps between saves of the training state.

    Returns:
        The Keras `History`.
    """
    import keras

    from transformer_keras.data.language_modeling import window_dataset
    from transformer_keras.training.callbacks import TextSampleCallback, default_callbacks
    from transformer_keras.training.resumable_fit import fit_resumable

    for name, value in (
        ("max-steps", max_steps),
        ("epochs", epochs),
        ("batch-size", batch_size),
    ):
        _check_positive(name, value)
    context = model.max_sequence_length
    if len(train_ids) < context + 1:
        raise ValueError(
            f"The training text has {len(train_ids)} tokens; it needs more than the "
            f"context ({context}). Received: train_tokens={len(train_ids)}"
        )
    keras.utils.set_random_seed(seed)
    steps_per_epoch, epochs, random_offsets = training_budget(
        len(train_ids), context, batch_size, max_steps, epochs
    )
    with strategy_scope(strategy):  # Optimizer and metrics variables.
        model.build()  # The training state is restored into a built model.
        model.compile(
            total_steps=steps_per_epoch * epochs,
            learning_rate=learning_rate,
            jit_compile=jit_compile,
        )
    validation_batches = None
    if len(validation_ids) > 1:
        validation_batches = window_dataset(
            validation_ids, min(context, len(validation_ids) - 1), batch_size=64
        )
    samples = []
    if sample_prompt is not None:
        samples.append(
            TextSampleCallback(
                lambda: repr(
                    sample_prompt
                    + model.generate(sample_prompt, sample_tokens, temperature=0.8, seed=0)
                )
            )
        )
    monitor = "val_loss" if validation_batches is not None else "loss"
    return fit_resumable(
        model,
        # A new dataset per call: a restarted run replays the same seeded windows.
        lambda: window_dataset(
            train_ids,
            context,
            batch_size,
            shuffle=True,
            random_offsets=random_offsets,
            seed=seed,
        ),
        epochs=epochs,
        backup_dir=os.path.join(output_dir, "backup"),
        steps_per_epoch=steps_per_epoch,
        save_freq=save_freq,
        validation_data=validation_batches,
        # fit_resumable keeps the training state (no BackupAndRestore).
        callbacks=[
            *samples,
            *default_callbacks(output_dir, monitor=monitor, backup=False),
            *callbacks,
        ],
        verbose=verbose,
        strategy=strategy,
    )


def train_command(args):
    from transformer_keras.data.language_modeling import read_text_files
    from transformer_keras.export.language_model import export_language_model
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import train_tokenizer

    started = time.time()
    _check_positive("vocabulary-size", args.vocabulary_size)
    _check_positive("context", args.context)
    strategy = start_training(args)  # Seeds; the tf.distribute strategy.
    check_global_batch_size(args.batch_size, strategy)
    texts = read_text_files(args.train)
    validation_texts = read_text_files(args.validation) if args.validation else None
    tokenizer = train_tokenizer(args.tokenizer, texts, args.vocabulary_size)
    train_ids, validation_ids = language_model_ids(texts, tokenizer, validation_texts)
    print(
        f"{len(train_ids)} training and {len(validation_ids)} validation tokens, "
        f"{args.tokenizer} tokenizer with {tokenizer.vocabulary_size} ids",
        flush=True,
    )
    overrides = {
        "max_sequence_length": args.context,
        "dropout": args.dropout,
        "position": args.position,
    }
    with strategy_scope(strategy):  # Model variables.
        model = TransformerLM.from_preset(
            args.preset,
            tokenizer=tokenizer,
            **{key: value for key, value in overrides.items() if value is not None},
        )
    fit_language_model(
        model,
        train_ids,
        validation_ids,
        output_dir=args.output.rstrip("/") + ".training",
        max_steps=args.max_steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        sample_prompt=args.sample_prompt,
        jit_compile=not args.no_xla,
        strategy=strategy,
        save_freq=save_frequency(args),
    )
    if len(validation_ids) > 1:
        loss, _ = evaluate_ids(model, validation_ids)
        print(f"validation loss {loss:.4f} perplexity {math.exp(loss):.2f}")
    if args.export_dtype != "float32":
        model = model.with_dtype(args.export_dtype)
    with chief_writes(args.output, strategy) as target:  # Other workers: a temp copy.
        path = export_language_model(model, target)
    print(f"exported {path} (and {path}.keras) in {time.time() - started:.0f} s")
    return 0


# --------------------------------------------------------------- inference
def load_language_model_signatures(path):
    """The `generate` and `score` functions of an exported language model."""
    from transformer_keras.export.saved_model import load_saved_model

    loaded = load_saved_model(path)
    if not {"generate", "score"} <= set(loaded.signatures):
        raise ValueError(
            f"'{path}' is not a language model exported by `train lm`. "
            f"Received: signatures={sorted(loaded.signatures)}"
        )
    return loaded.signatures["generate"], loaded.signatures["score"]


def generate_texts(generate, prompts, max_new_tokens, temperature, top_k, top_p, seed):
    """Calls an exported `generate` signature; returns the continuations as strings."""
    import tensorflow as tf

    outputs = generate(
        prompt=tf.constant(prompts, tf.string),
        max_new_tokens=tf.constant(max_new_tokens, tf.int32),
        temperature=tf.constant(temperature, tf.float32),
        top_k=tf.constant(top_k, tf.int32),
        top_p=tf.constant(top_p, tf.float32),
        seed=tf.constant(seed, tf.int32),
    )
    return [text.decode("utf-8") for text in outputs["text"].numpy()]


def generate_command(args):
    from transformer_keras.generation.prompts import check_max_new_tokens
    from transformer_keras.generation.sampling import check_sampling_settings

    check_max_new_tokens(args.max_new_tokens)
    check_sampling_settings(args.temperature, args.top_k, args.top_p)
    prompts = list(args.prompts)
    if not prompts:
        if sys.stdin.isatty():
            from transformer_keras.cli import UsageError

            raise UsageError("give prompts to continue, or pipe one prompt per line on stdin")
        prompts = [line.rstrip("\n") for line in sys.stdin]
    seed = random.randrange(2**31 - 1) if args.seed is None else args.seed
    generate, _ = load_language_model_signatures(args.model)
    continuations = generate_texts(
        generate, prompts, args.max_new_tokens, args.temperature, args.top_k, args.top_p, seed
    )
    for index, (prompt, continuation) in enumerate(zip(prompts, continuations)):
        if index:
            print("-" * 40)
        print(prompt + continuation)
    return 0


def evaluate_ids(model, ids, batch_size=64):
    """Mean loss (nats per token) of `model` on an id stream, and the token count.

    Contiguous windows of the model's context (shorter for a short stream);
    every id after the first is predicted once: the stream is padded to whole
    windows and padding targets do not count.
    """
    import numpy as np

    from transformer_keras.data.language_modeling import window_dataset
    from transformer_keras.optimization import Perplexity

    context = min(model.max_sequence_length, len(ids) - 1)
    if context < 1:
        raise ValueError(
            f"The text needs at least 2 tokens to evaluate. Received: tokens={len(ids)}"
        )
    padding = -(len(ids) - 1) % context  # whole windows of context + 1 ids
    padded = np.concatenate([ids, np.full([padding], model.pad_id, np.int32)])
    perplexity = Perplexity(pad_id=model.pad_id)
    for inputs, targets in window_dataset(padded, context, batch_size):
        perplexity.update_state(targets, model(inputs, training=False))
    return float(np.log(perplexity.result())), len(ids) - 1


def evaluate_command(args):
    from transformer_keras.data.language_modeling import encode_texts, read_text_files
    from transformer_keras.export.saved_model import keras_file_path, load_keras_model
    from transformer_keras.models.language_model import TransformerLM

    _check_positive("batch-size", args.batch_size)
    load_language_model_signatures(args.model)  # a clear error for a wrong folder
    model = load_keras_model(keras_file_path(args.model))
    if not isinstance(model, TransformerLM):
        raise ValueError(
            f"'{keras_file_path(args.model)}' does not hold a TransformerLM. "
            f"Received: model={type(model).__name__}"
        )
    ids = encode_texts(read_text_files(args.data), model.tokenizer)
    loss, tokens = evaluate_ids(model, ids, args.batch_size)
    print(f"loss {loss:.4f} perplexity {math.exp(loss):.2f} ({tokens} tokens) on {args.data}")
    return 0


# -------------------------------------------------------------------- demo
DEMO_SETTINGS = dict(
    preset="tiny",
    position="rotary",  # learns faster than a learned table (see benchmarks.lm_shakespeare)
    hidden_dim=128,
    num_heads=4,
    intermediate_dim=512,
    max_sequence_length=64,
    max_steps=1000,
    batch_size=16,
    learning_rate=2e-3,
    time_limit=50.0,  # seconds of training at most: the demo step stays under 80 s
    jit_compile=True,
)
FAST_DEMO_SETTINGS = dict(DEMO_SETTINGS, hidden_dim=32, num_heads=2, intermediate_dim=64,
                          max_steps=40, time_limit=20.0, jit_compile=False)  # fmt: skip


def demo(args):
    """Trains a small LM, exports, reloads the SavedModel, prints sampled continuations."""
    import keras

    from transformer_keras.data.language_modeling import (
        python_documentation_texts,
        read_text_files,
    )
    from transformer_keras.export.language_model import export_language_model
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import train_tokenizer

    started = time.time()
    fast = os.environ.get("TRANSFORMER_KERAS_FAST") == "1"
    settings = dict(FAST_DEMO_SETTINGS if fast else DEMO_SETTINGS)
    if args.data:
        texts = read_text_files(args.data)
        prompts = [texts[0][:20], ""]
        print(f"data: {args.data}")
    else:
        texts = python_documentation_texts()
        prompts = list(DEMO_PROMPTS)
        print(f"data: docstrings of Python's standard library ({sum(map(len, texts))} chars)")
    tokenizer = train_tokenizer("char", texts)
    train_ids, validation_ids = language_model_ids(texts, tokenizer)
    model = TransformerLM.from_preset(
        settings.pop("preset"),
        tokenizer=tokenizer,
        **{
            key: settings.pop(key)
            for key in ("position", "hidden_dim", "num_heads", "intermediate_dim")
        },
        max_sequence_length=settings.pop("max_sequence_length"),
    )
    path = os.path.join(args.output_dir, "lm-demo")
    _remove_tree(path + ".training")  # a fresh run, not a resumed one
    fit_language_model(
        model,
        train_ids,
        validation_ids,
        output_dir=path + ".training",
        max_steps=settings["max_steps"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        sample_prompt=None,
        jit_compile=settings["jit_compile"],
        callbacks=[StopAfter(settings["time_limit"])],
    )
    loss, _ = evaluate_ids(model, validation_ids[:20_000])
    print(f"validation loss {loss:.3f} nats/char after {time.time() - started:.0f} s")
    export_language_model(model, path)
    generate, _ = load_language_model_signatures(path)
    print(f"reloaded {path} with tf.saved_model.load; sampled continuations:")
    continuations = generate_texts(generate, prompts, 120, 0.8, 40, 0.95, seed=1)
    for prompt, continuation in zip(prompts, continuations):
        print(f"  {prompt!r} -> {continuation!r}")
    keras.backend.clear_session()
    print(f"language model demo took {time.time() - started:.0f} s")


def _remove_tree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def StopAfter(seconds):  # noqa: N802  (reads like the callback class it builds)
    """A callback that ends `fit` after `seconds` of training (checked every batch)."""
    import keras

    class _StopAfter(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.deadline = time.time() + seconds

        def on_train_batch_end(self, batch, logs=None):
            if time.time() > self.deadline:
                self.model.stop_training = True

    return _StopAfter()
