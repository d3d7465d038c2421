"""Quality benchmark of the translator: sacreBLEU against training time.

    python -m benchmarks.translation_multi30k                     # Multi30k de->en
    python -m benchmarks.translation_multi30k --dataset tatoeba   # Tatoeba es->en
    python -m benchmarks.translation_multi30k --limit 2000 --epochs 1 --preset tiny  # smoke

Trains `transformer_keras.recipes.train_translator`, the recipe behind
`transformer-keras train translator` (the `small` preset, a joint SentencePiece
vocabulary, token-budget batches, label smoothing, the paper's schedule with
warmup 400 at scale 0.35, beam-search BLEU after every epoch and the best
epoch kept), with the recipe's defaults unless a flag sets them. The one
addition is a time budget, `--hours`: training stops after the first epoch
that ends past it. Every epoch's training time, loss, BLEU and chrF on the
held-out split are appended to `<output>/curve.tsv`; the exported SavedModel
goes to `<output>/saved_model`. The final table is printed with the exact
command; `benchmarks/RESULTS.md` has the recorded runs.

Data: ../shared/data/multi30k/{train,val}.{de,en} (validation = the official
val split) and ../shared/data/spa-eng/spa.txt (held-out split =
`transformer_keras.data.translation.split_of` on the English side).
"""

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

DATASETS = ("multi30k", "tatoeba")


# Flags of `TranslatorRecipe` fields: `--flag` sets `field` (unset: the recipe's).
RECIPE_FLAGS = {
    "preset": str,
    "epochs": int,
    "vocabulary_size": int,
    "token_budget": int,
    "warmup_steps": int,
    "learning_rate_scale": float,
    "max_length": int,
    "beam_size": int,
    "alpha": float,
}


def parse_args(argv=None):
    from transformer_keras.recipes import TranslatorRecipe

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="multi30k")
    recipe = TranslatorRecipe()
    for field, kind in RECIPE_FLAGS.items():
        parser.add_argument(
            f"--{field.replace('_', '-')}",
            dest=field,
            type=kind,
            help=f"(recipe default: {getattr(recipe, field)})",
        )
    parser.add_argument(
        "--hours", type=float, default=3.0, help="training time budget (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use the first N pairs only")
    parser.add_argument(
        "--eval-sentences", type=int, default=None, help="score the first N held-out pairs"
    )
    parser.add_argument("--output", default=None, help="default benchmarks/results/<dataset>")
    parser.add_argument(
        "--data-dir", default=None, help="the shared data folder (default: shared_data_dir())"
    )
    return parser.parse_args(argv)


def recipe_of(args):
    """The `TranslatorRecipe` of the parsed flags (the recipe's defaults otherwise)."""
    from transformer_keras.recipes import TranslatorRecipe

    values = {field: getattr(args, field) for field in RECIPE_FLAGS}
    return dataclasses.replace(
        TranslatorRecipe(), **{key: value for key, value in values.items() if value is not None}
    )


def load_splits(dataset, data_dir=None, limit=None):
    """`((train_sources, train_targets), (val_sources, val_targets))` lists."""
    from transformer_keras.data.translation import read_lines, read_tsv_pairs

    if data_dir is None:
        from transformer_keras.data.paths import shared_data_dir

        data_dir = shared_data_dir()

    def shared_data_file(relative):
        return Path(data_dir) / relative

    if dataset == "multi30k":
        train = (
            read_lines(shared_data_file("multi30k/train.de")),
            read_lines(shared_data_file("multi30k/train.en")),
        )
        validation = (
            read_lines(shared_data_file("multi30k/val.de")),
            read_lines(shared_data_file("multi30k/val.en")),
        )
    else:
        path = shared_data_file("spa-eng/spa.txt")
        columns = dict(source_column=1, target_column=0)
        train = read_tsv_pairs(path, split="train", **columns)
        validation = read_tsv_pairs(path, split="validation", **columns)
    if limit:
        train = tuple(side[:limit] for side in train)
        validation = tuple(side[: max(limit // 10, 8)] for side in validation)
    return train, validation


def curve_callback(path, hours):
    """A callback that appends each epoch's training time, loss, BLEU and chrF to
    `path` and stops training after the first epoch that ends past `hours`.

    It runs after the recipe's BLEU callback (the caller's come last), and
    counts the time from the epoch's start to its last batch: not the BLEU.
    """
    import keras

    class Curve(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = 0.0
            self.rows = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = self.last_batch = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.seconds += self.last_batch - self.started
            row = (self.seconds, epoch + 1, logs.get("loss", float("nan")))
            row += (logs.get("val_bleu", float("nan")), logs.get("val_chrf", float("nan")))
            self.rows.append(row)
            with Path(path).open("a") as curve:
                curve.write("{:.0f}\t{}\t{:.4f}\t{:.2f}\t{:.2f}\n".format(*row))
            if self.seconds > hours * 3600:
                self.model.stop_training = True

    Path(path).write_text("seconds\tepoch\tloss\tbleu\tchrf\n")
    return Curve()


def main(argv=None):
    args = parse_args(argv)
    from transformer_keras.recipes import RunOptions, train_translator

    recipe = recipe_of(args)
    output = Path(args.output or f"benchmarks/results/{args.dataset}")
    output.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.translation_multi30k " + shlex.join(argv or sys.argv[1:])
    train, validation = load_splits(args.dataset, args.data_dir, args.limit)
    if args.eval_sentences:
        validation = tuple(side[: args.eval_sentences] for side in validation)
    curve = curve_callback(output / "curve.tsv", args.hours)
    options = RunOptions(seed=args.seed, callbacks=(curve,))
    result = train_translator(train, validation, output / "saved_model", recipe, options)
    print(f"\n{command}\n")
    print("| training time (min) | epoch | loss | sacreBLEU | chrF |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for seconds, epoch, loss, bleu, chrf in curve.rows:
        print(f"| {seconds / 60:.0f} | {epoch} | {loss:.3f} | {bleu:.2f} | {chrf:.2f} |")
    scores = result.metrics
    print(f"\nbest epoch, exported: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
