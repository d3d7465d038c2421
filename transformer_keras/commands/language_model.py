"""`transformer-keras` commands of the language-model family.

- `train lm --train FILE... [--validation FILE...] --output saved_models/NAME`:
  `recipes.language_model.train_language_model` with the flags given (the
  others keep the recipe's defaults): a SavedModel (`generate`,
  `serving_default`, `score`) and its `.keras` file.
- `generate saved_models/NAME "prompt" ... [--max-new-tokens 200 --temperature 0.8
  --top-k 40 --top-p 0.95 --seed 1]` prints each prompt followed by its
  continuation (prompts from stdin lines when none are given).
- `evaluate lm saved_models/NAME --data FILE` prints the loss (nats per token)
  and the perplexity of the model on a text file.
"""

from transformer_keras.commands.common import (
    add_pretrained_argument,
    add_run_arguments,
    check_positive,
    defaults_help,
    recipe_from_args,
    run_options,
    texts_or_stdin,
)

PRESETS = ("nanogpt-cpu", "nanogpt-gpu", "small", "tiny")  # TransformerLM.presets
TOKENIZERS = ("char", "byte", "subword")
POSITIONS = ("learned", "rotary", "sinusoidal")
RECIPE_FLAGS = {
    "preset": "preset",
    "tokenizer": "tokenizer",
    "vocabulary_size": "vocabulary_size",
    "context": "context",
    "position": "position",
    "dropout": "dropout",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "sample_prompt": "sample_prompt",
    "export_dtype": "export_dtype",
}


def register(commands):
    """Adds `train lm`, `generate` and `evaluate lm`."""
    from transformer_keras.recipes.language_model import (
        PRETRAINED_DEFAULTS,
        LanguageModelRecipe,
    )

    def default(field):
        return defaults_help(LanguageModelRecipe, field)

    train = commands.train.add_parser(
        "lm",
        help="train a language model on text files and export it",
        description="Learn a tokenizer and a decoder-only Transformer LM, export a SavedModel. "
        "Flags left out keep the recipe behind the README's Shakespeare figure.",
    )
    train.add_argument("--train", required=True, nargs="+", help="UTF-8 text file(s)")
    train.add_argument(
        "--validation", nargs="+", help="text file(s) (default: the last 10%% of --train)"
    )
    train.add_argument("--output", required=True, help="SavedModel folder, saved_models/NAME")
    add_pretrained_argument(train, "GPT-2", PRETRAINED_DEFAULTS)
    train.add_argument("--preset", choices=PRESETS, help=default("preset"))
    train.add_argument("--tokenizer", choices=TOKENIZERS, help=default("tokenizer"))
    train.add_argument("--vocabulary-size", type=int, help="tokenizer size (subword 8000)")
    train.add_argument(
        "--context", type=int, help="context length in tokens " + default("context")
    )
    train.add_argument("--position", choices=POSITIONS, help=default("position"))
    budget = train.add_mutually_exclusive_group()
    budget.add_argument(
        "--max-steps", type=int, help="training steps on random windows " + default("max_steps")
    )
    budget.add_argument("--epochs", type=int, help="passes over all windows instead")
    train.add_argument("--batch-size", type=int, help=default("batch_size"))
    train.add_argument(
        "--learning-rate", type=float, help="peak rate " + default("learning_rate")
    )
    train.add_argument("--dropout", type=float, help=default("dropout"))
    train.add_argument("--sample-prompt", help="prompt of the per-epoch sample (default: '')")
    add_run_arguments(train)
    train.add_argument("--no-xla", action="store_true", help="do not XLA-compile steps")
    train.add_argument(
        "--export-dtype",
        choices=("float32", "bfloat16"),
        help="weights of the exported model; bfloat16 halves its memory and generates "
        "faster where bfloat16 products are fast " + default("export_dtype"),
    )
    train.add_argument(
        "--export-without-xla",
        action="store_true",
        help="export the generation loop without XLA, for TensorFlow Serving without "
        "--xla_cpu_compilation_enabled (slower; docs/serving.md)",
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


def train_command(args):
    import dataclasses
    import time

    from transformer_keras.data.language_modeling import read_text_files
    from transformer_keras.recipes.language_model import (
        PRETRAINED_DEFAULTS,
        LanguageModelRecipe,
        train_language_model,
    )
    from transformer_keras.recipes.pipeline import start_run

    started = time.time()
    recipe = recipe_from_args(LanguageModelRecipe, args, RECIPE_FLAGS, PRETRAINED_DEFAULTS)
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, max_steps=None, epochs=args.epochs)
    elif args.max_steps is not None:
        recipe = dataclasses.replace(recipe, max_steps=args.max_steps)
    if args.no_xla:
        recipe = dataclasses.replace(recipe, jit_compile=False)
    if args.export_without_xla:
        recipe = dataclasses.replace(recipe, export_jit_compile=False)
    options = run_options(args)
    start_run(options)  # Seeds, and the strategy before any TensorFlow op.
    texts = read_text_files(args.train)
    validation = read_text_files(args.validation) if args.validation else None
    result = train_language_model(texts, validation, args.output, recipe, options)
    if "loss" in result.metrics:
        loss, perplexity = result.metrics["loss"], result.metrics["perplexity"]
        print(f"validation loss {loss:.4f} perplexity {perplexity:.2f}")
    print(f"exported {result.path} (and {result.path}.keras) in {time.time() - started:.0f} s")
    return 0


def generate_command(args):
    import random

    from transformer_keras.export.client import load_client
    from transformer_keras.generation.prompts import check_max_new_tokens
    from transformer_keras.generation.sampling import check_sampling_settings

    check_max_new_tokens(args.max_new_tokens)
    check_sampling_settings(args.temperature, args.top_k, args.top_p)
    prompts = texts_or_stdin(args.prompts, "prompts to continue")
    seed = random.randrange(2**31 - 1) if args.seed is None else args.seed
    continuations = load_client(args.model, "language model").generate(
        prompts, args.max_new_tokens, args.temperature, args.top_k, args.top_p, seed
    )
    for index, (prompt, continuation) in enumerate(zip(prompts, continuations)):
        if index:
            print("-" * 40)
        print(prompt + continuation)
    return 0


def evaluate_command(args):
    import math

    from transformer_keras.data.language_modeling import encode_texts, read_text_files
    from transformer_keras.export.client import load_client
    from transformer_keras.export.saved_model import keras_file_path, load_keras_model
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.recipes.language_model import evaluate_ids

    check_positive("batch-size", args.batch_size)
    load_client(args.model, "language model")  # a clear error for a wrong folder
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
