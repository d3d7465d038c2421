"""What every command shares: the usage error, the run options, recipes from flags.

TensorFlow and the library are imported inside the handlers, so that
`transformer-keras --help` answers at once.
"""

import dataclasses
import sys

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")  # recipes.pipeline.STRATEGIES


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class Commands:
    """The parser's sub-command groups, handed to each family's `register`.

    Attributes:
        top: sub-parsers of `transformer-keras` (e.g. `classify`, `generate`).
        train: sub-parsers of `transformer-keras train` (e.g. `classifier`).
        evaluate: sub-parsers of `transformer-keras evaluate`.
    """

    def __init__(self, top, train, evaluate):
        self.top = top
        self.train = train
        self.evaluate = evaluate


def add_run_arguments(parser):
    """Adds `--strategy`, `--seed`, `--deterministic` and `--save-every` to `parser`."""
    group = parser.add_argument_group("distribution and reproducibility")
    group.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy: one device (default), every local GPU (mirrored), "
        "the workers in TF_CONFIG (multi-worker) or the TPU in TPU_NAME (tpu)",
    )
    group.add_argument(
        "--seed", type=int, default=0, help="seed of initialization, dropout and data order"
    )
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="also make TensorFlow ops deterministic (slower; same seed, same weights)",
    )
    group.add_argument(
        "--save-every",
        type=int,
        metavar="STEPS",
        help="save the training state every STEPS steps as well as every epoch; a run "
        "killed and started again with the same command resumes from it",
    )


def run_options(args):
    """The `RunOptions` of the parsed run arguments."""
    from transformer_keras.recipes.pipeline import RunOptions

    return RunOptions(
        seed=args.seed,
        deterministic=args.deterministic,
        strategy=args.strategy,
        save_every=args.save_every,
    )


def add_pretrained_argument(parser, architecture, defaults):
    """Adds `--pretrained PATH`: a Hugging Face checkpoint to fine-tune."""
    settings = ", ".join(f"{key}={value}" for key, value in defaults.items())
    parser.add_argument(
        "--pretrained",
        metavar="PATH",
        help=f"fine-tune a {architecture} checkpoint in the Hugging Face layout (a folder, "
        "or hf://NAME with huggingface_hub, online) instead of training from scratch: its "
        "architecture and tokenizer replace the preset's and the learned vocabulary; "
        f"fine-tuning defaults: {settings}",
    )


def recipe_from_args(recipe_class, args, names, pretrained_defaults=None):
    """`recipe_class()` with the fields the user set: `{field: args attribute}`.

    A flag left at its default (`None`) keeps the recipe's default value, so
    the command line trains with the recipe behind the README's figures. With
    `--pretrained`, a recipe given `pretrained_defaults` (the fine-tuning
    settings) starts from them instead.
    """
    recipe = recipe_class()
    if pretrained_defaults is not None and getattr(args, "pretrained", None) is not None:
        recipe = dataclasses.replace(recipe, pretrained=args.pretrained, **pretrained_defaults)
    values = {field: getattr(args, attribute) for field, attribute in names.items()}
    return dataclasses.replace(
        recipe, **{key: value for key, value in values.items() if value is not None}
    )


def defaults_help(recipe_class, field):
    """`"(default: VALUE)"` of a recipe field, for `--help`."""
    value = getattr(recipe_class(), field)
    return "(default: the preset's)" if value is None else f"(default: {value})"


def texts_or_stdin(texts, what):
    """The command line's texts, or the lines of stdin when there are none."""
    texts = list(texts)
    if texts:
        return texts
    if sys.stdin.isatty():
        raise UsageError(f"give {what}, or pipe one per line on stdin")
    return [line.rstrip("\n") for line in sys.stdin]


def check_positive(name, value):
    if value is not None and value <= 0:
        raise ValueError(
            f"--{name} must be positive. Received: {name.replace('-', '_')}={value}"
        )
