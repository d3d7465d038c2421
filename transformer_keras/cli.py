"""`transformer-keras`: train, evaluate, export and use the zoo's models.

Each model family contributes its sub-commands from its own module
(`transformer_keras.commands.<family>`); this file only assembles the parser
and turns user errors into one-line messages with exit code 2.
"""

import argparse
import os
import sys

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from transformer_keras.commands import classifier, demo, language_model, translator  # noqa: E402
from transformer_keras.commands.common import Commands, UsageError  # noqa: E402
from transformer_keras.version import __version__  # noqa: E402

# Each registers its commands; `demo` runs the families in this order.
COMMAND_MODULES = (classifier, language_model, translator, demo)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="transformer-keras",
        description="Transformer models in Keras 3: train, evaluate, export, serve.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = top.add_parser("train", help="train a model and export it").add_subparsers(
        dest="family", metavar="MODEL", required=True
    )
    evaluate = top.add_parser("evaluate", help="evaluate an exported model").add_subparsers(
        dest="family", metavar="MODEL", required=True
    )
    commands = Commands(top, train, evaluate)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except (UsageError, ValueError, FileNotFoundError) as error:
        print(f"transformer-keras: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
