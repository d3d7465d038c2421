"""`transformer-keras`: train, evaluate, export and use the zoo's models.

Each model family contributes its sub-commands from its own module
(`transformer_keras.commands.<family>`), listed in `FAMILY_MODULES`; this file
only assembles the parser and turns user errors into one-line messages with
exit code 2.
"""

import argparse
import importlib
import os
import sys

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from transformer_keras.version import __version__

# Modules that define `register(commands)`; see `Commands`. Their order is the
# order of the `demo` steps.
FAMILY_MODULES = (
    "transformer_keras.commands.classifier",
    "transformer_keras.commands.language_model",
    "transformer_keras.commands.translator",
)


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class Commands:
    """The parser's sub-command groups, handed to each family's `register`.

    Attributes:
        top: sub-parsers of `transformer-keras` (e.g. `classify`, `generate`).
        train: sub-parsers of `transformer-keras train` (e.g. `classifier`).
        evaluate: sub-parsers of `transformer-keras evaluate`.
        demos: list of `(name, function(args))` run in order by `demo`.
    """

    def __init__(self, top, train, evaluate):
        self.top = top
        self.train = train
        self.evaluate = evaluate
        self.demos = []


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
    for module_name in FAMILY_MODULES:
        importlib.import_module(module_name).register(commands)
    demo = top.add_parser("demo", help="run the offline end-to-end demo (make demo)")
    demo.add_argument("--data", help="a real data file instead of the generated default")
    demo.add_argument("--output-dir", default="saved_models", help="where exports go")
    demo.set_defaults(handler=lambda args: _run_demos(commands.demos, args))
    return parser


def _run_demos(demos, args):
    if not demos:
        raise UsageError("no demo is registered yet")
    for name, function in demos:
        print(f"\n=== demo: {name} ===", flush=True)
        function(args)
    return 0


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
