"""Quality benchmark of the classifier: SST-2 dev accuracy against training time.

    python -m benchmarks.classifier_sst2         # the default: 0.8383 (seed 0), 0.8291 (seed 1)
    python -m benchmarks.classifier_sst2 --ensemble 1    # one classifier
    python -m benchmarks.classifier_sst2 --ensemble 1 --conv-kernel-size 0
                                                 # no convolution (the old default)
    python -m benchmarks.classifier_sst2 --limit 2000 --epochs 1 --preset tiny \
        --ensemble 2 --pretrain-text --pretrain-epochs 1       # smoke run

Trains on ../shared/data/sst2/train.tsv, the GLUE training file with its
phrase-level examples, minus a held-out slice: `--holdout 0.05` of its
sentences (the rows no other row contains; 344 of 6885), drawn with `--seed`,
are the validation set of early stopping and of the best-epoch restore; their
sub-phrases found in no other sentence (about 2800-2900 rows) are dropped, the
other rows (about 64100 of 67349) are trained on (`sentence_holdout`: a random
split of the rows would validate on sub-phrases of training sentences).
dev.tsv is read once, to score the exported model: it takes no part in
training or selection. Training goes through the same code path as the
command line (`transformer-keras train classifier --train PART --validation
HELD-OUT`): a word vocabulary, the `small` preset (2 layers, width 128, mean
pooling) with an n-gram convolution of width 5 over the token embeddings
before the encoder (`--conv-kernel-size`, 0: none), AdamW with warmup and
cosine decay, early stopping on the held-out accuracy; by default 5 such
classifiers (seeds 5*seed ... 5*seed+4) trained one after the other
and exported as one model that averages their probabilities (`--ensemble N`,
1: a single classifier). With `--pretrain-epochs N` the encoder is first
pre-trained as a masked language model
(`transformer_keras.models.MaskedLanguageModel`, BERT's 15% masking with the
80/10/10 rule) on the SST-2 rows trained on (text column only, never the
held-out or dev text) plus the `--pretrain-text` files of ../shared/data (by
default none; `spa-eng/spa.txt multi30k/train.en` adds the English sides of
Tatoeba and of the Multi30k training split), and the vocabulary is learned on
the same texts.
The exported SavedModel is then reloaded and scored on
../shared/data/sst2/dev.tsv (872 sentences), and one table row is printed with
the wall time (tokenizer, pre-training, fine-tuning and export) and the exact
command. A bag-of-words baseline reaches about 0.80; the target is 0.83
within 20 minutes of training on 2 CPU cores. With selection on the held-out
training sentences (dev untouched; 2026-11-22, from frozen copies of commits
64207fe and aac383e):

    default (--ensemble 5, conv 5, --holdout 0.05), --seed 0   0.8383   11.0 min (load 0.5-2.7)
    default, --seed 1                                          0.8291   10.1 min (load 2.3-2.4)
    --ensemble 3 (the default before), --seed 0                0.8257   8.4 min (load 2.8-3.2)
    --ensemble 3, --seed 1                                     0.8245   5.9 min (load 0.9-2.8)

so the default run (seed 0) reaches 0.83 with dev untouched; seed 1 is one
sentence short (723 of 872; the two average 0.8337; one standard error on the
872 dev sentences is about 0.013). Earlier runs (2026-11-22, CPU
shared, load 2-8 on 2 cores), all before the held-out slice existed: early
stopping and the best epoch were SELECTED ON DEV, the set they report
(slightly optimistic; the same 3-member configuration scored 0.016-0.020
more that way):

    (selected on dev)
    --ensemble 3 (then the default), conv 5, seed 0  0.8417                    9.1 min
      again, no arguments, from the commit           0.8417                    8.3 min
    the same, --seed 1                               0.8440                    10.0 min
    --ensemble 1 (one classifier, conv 5), seeds 0/1 0.8314 / 0.8326           4-5 min
      seeds 2 to 5 (the ensembles' members)          0.8234 / 0.8154 / 0.8337 / 0.8349
    --ensemble 1 --conv-kernel-size 3, seeds 0/1     0.8245 / 0.8234           3-4 min
    --ensemble 1 --conv-kernel-size 0 (old default)  0.8131 / 0.8211 (seeds 0/1) 3-3.5 min
    --ensemble 1 --conv-kernel-size 0 --ema 0.999    0.8039                    3.5 min
    earlier, without the convolution: dropout 0.2-0.3 with token dropout, lower
    rates, a subword vocabulary, max pooling: 0.806-0.812; MLM pre-training
    within the budget (masked-token accuracy about 0.21): 0.78-0.81.

README.md, "Quality on SST-2", has every run with its command and time.
"""

import argparse
import contextlib
import io
import shlex
import sys
import tempfile
import time
from pathlib import Path

PRETRAIN_TEXT = ()  # e.g. ("spa-eng/spa.txt", "multi30k/train.en"): English sides only
PRETRAIN_EPOCHS = 0  # no pre-training by default (see README for why)
CONV_KERNEL_SIZE = 5  # the n-gram convolution: +0.015 (selected on dev), seeds 0-1 (README)
ENSEMBLE = 5  # classifiers averaged: 0.83 with dev untouched, about 11 min (README)
HOLDOUT = 0.05  # of the training sentences: the validation set of early stopping


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--tokenizer", default="word")
    parser.add_argument("--vocabulary-size", type=int, default=16000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--ema", type=float, default=None, help="weight averaging momentum")
    parser.add_argument("--dropout", type=float, default=None)
    parser.add_argument("--token-dropout", type=float, default=None)
    parser.add_argument(
        "--conv-kernel-size",
        type=int,
        default=CONV_KERNEL_SIZE,
        help="n-gram convolution width before the encoder (0: none; default %(default)s)",
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=ENSEMBLE,
        help="classifiers trained (seeds seed*N..seed*N+N-1) and averaged "
        "(1: one; default %(default)s)",
    )
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pretrain-text",
        nargs="*",
        default=list(PRETRAIN_TEXT),
        metavar="FILE",
        help="unlabelled text files beside the SST-2 training sentences, relative to "
        "shared/data, e.g. spa-eng/spa.txt multi30k/train.en (default: none, the "
        "training sentences only)",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=PRETRAIN_EPOCHS,
        help="masked-language-model epochs before fine-tuning (0: none; default %(default)s)",
    )
    parser.add_argument("--pretrain-batch-size", type=int, default=128)
    parser.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--holdout",
        type=float,
        default=HOLDOUT,
        metavar="FRACTION",
        help="fraction of the training file's sentences held out, with their sub-phrases, "
        "for early stopping and the best epoch (drawn with --seed; dev.tsv is used only "
        "for the reported accuracy; default %(default)s)",
    )
    parser.add_argument("--limit", type=int, help="train on the first N rows only")
    parser.add_argument("--output", help="SavedModel folder (default: a temporary one)")
    return parser.parse_args(argv)


def train_argv(args, train_file, validation_file, output):
    """`train classifier` arguments: fit on `train_file`, select on `validation_file`
    (the held-out part of the training file, never dev.tsv)."""
    argv = [
        "train", "classifier", "--train", str(train_file),
        "--validation", str(validation_file),
        "--output", str(output), "--preset", args.preset, "--tokenizer", args.tokenizer,
        "--vocabulary-size", str(args.vocabulary_size), "--epochs", str(args.epochs),
        "--batch-size", str(args.batch_size), "--learning-rate", str(args.learning_rate),
        "--max-length", str(args.max_length), "--pooling", args.pooling,
        "--patience", str(args.patience), "--seed", str(args.seed),
        "--ensemble", str(args.ensemble),
    ]  # fmt: skip
    for option in ("weight_decay", "ema", "dropout", "token_dropout", "conv_kernel_size"):
        if getattr(args, option) is not None:
            argv += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    if args.pretrain_epochs:
        argv += ["--pretrain-text", *pretrain_files(args.pretrain_text)]
        argv += ["--pretrain-epochs", str(args.pretrain_epochs)]
        argv += ["--pretrain-batch-size", str(args.pretrain_batch_size)]
        argv += ["--pretrain-learning-rate", str(args.pretrain_learning_rate)]
    return argv


def pretrain_files(names):
    """Paths of the shared data files `names` (English text, one per line or first column)."""
    from transformer_keras.data.paths import shared_data_file

    return [str(shared_data_file(name)) for name in names]


def limited_copy(path, limit, folder):
    """The header and the first `limit` rows of `path`, in `folder` (smoke runs)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    copy = Path(folder) / Path(path).name
    copy.write_text("".join(lines[: limit + 1]), encoding="utf-8")
    return copy


def phrases_of(text):
    """A text as a tuple of its tokens (SST-2 is tokenized: split on spaces)."""
    return tuple(text.split())


def sentence_holdout(texts, fraction, seed=0):
    """Row indices `(train, holdout)` of a sentence-level split of SST-2's training file.

    GLUE's SST-2 training file holds the phrases of the Stanford Sentiment
    Treebank's training sentences: each sentence and its labelled sub-phrases
    (constituents, e.g. "contains no wit" inside "contains no wit , only
    labored gags"), in random order. A random split of the rows would validate
    on phrases of sentences trained on (and the reverse). Here, the way GLUE's
    dev set relates to its training file: the sentences are the rows no other
    row contains (as a run of whole tokens); `round(fraction * sentences)` of
    them, drawn with `seed`, form the held-out set (sentences only, as dev.tsv);
    training keeps every row that lies inside a sentence not held out
    (so a short phrase also found in a held-out sentence stays, as GLUE's
    training file keeps phrases that also occur in dev sentences); the rows
    found only inside held-out sentences are in neither part.

    Args:
        texts: the training file's texts, in file order.
        fraction: the share of sentences held out, in (0, 1).
        seed: the draw (`random.Random(seed)`).

    Returns:
        Two sorted lists of indices into `texts`, disjoint; no training text
        contains a held-out text, nor lies inside one unless it also lies inside
        a training sentence.
    """
    import random

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--holdout must be in (0, 1). Received: holdout={fraction!r}")
    phrases = [phrases_of(text) for text in texts]
    rows = set(phrases) - {()}
    # Longest first: a row is a sentence when no longer sentence contains it.
    within = {}  # sentence: the rows lying within it
    inside = set()  # rows lying within a sentence found so far
    for phrase in sorted(rows, key=lambda phrase: (-len(phrase), phrase)):
        if phrase not in inside:
            within[phrase] = _rows_within(phrase, rows)
            inside.update(within[phrase])
    sentences = sorted(within)
    count = round(len(sentences) * fraction)
    if not 0 < count < len(sentences):
        raise ValueError(
            f"Cannot hold out {fraction} of {len(sentences)} sentences. "
            f"Received: holdout={fraction!r}"
        )
    held_out = set(random.Random(seed).sample(sentences, count))
    kept = set()  # rows within a training sentence
    for sentence in sentences:
        if sentence not in held_out:
            kept.update(within[sentence])
    train = [i for i, phrase in enumerate(phrases) if phrase in kept or not phrase]
    holdout = [i for i, phrase in enumerate(phrases) if phrase in held_out]
    return train, holdout


def _rows_within(phrase, rows):
    """The members of `rows` that are runs of whole tokens of `phrase` (itself too)."""
    return {
        phrase[start:end]
        for start in range(len(phrase))
        for end in range(start + 1, len(phrase) + 1)
        if phrase[start:end] in rows
    }


def write_holdout_split(path, fraction, seed, folder):
    """Splits the labelled file `path` (`sentence_holdout`) into two TSV files in
    `folder`: `(train file, held-out file, summary line)`."""
    from transformer_keras.data.classification import load_delimited_file

    data = load_delimited_file(path)
    texts, labels = data.texts_and_labels()
    train, holdout = sentence_holdout(texts, fraction, seed)
    files = []
    for name, indices in (("train-part.tsv", train), ("holdout.tsv", holdout)):
        lines = ["sentence\tlabel\n"]
        for i in indices:
            if "\t" in texts[i] or "\n" in texts[i]:
                raise ValueError(
                    f"{path}: a text with a tab or newline. Received: {texts[i]!r}"
                )
            lines.append(f"{texts[i]}\t{data.label_names[labels[i]]}\n")
        files.append(Path(folder) / name)
        files[-1].write_text("".join(lines), encoding="utf-8")
    summary = (
        f"held out {len(holdout)} rows, whole sentences of the training file, for "
        "validation; "
        f"training on {len(train)} of its {len(texts)} rows "
        f"({len(texts) - len(train) - len(holdout)} phrases found only in held-out "
        "sentences dropped)"
    )
    return files[0], files[1], summary


def main(argv=None):
    from transformer_keras import cli
    from transformer_keras.data.paths import shared_data_file

    args = parse_args(argv)
    train_file, dev_file = shared_data_file("sst2/train.tsv"), shared_data_file("sst2/dev.tsv")
    with tempfile.TemporaryDirectory() as scratch:
        if args.limit:
            train_file = limited_copy(train_file, args.limit, scratch)
        output = args.output or Path(scratch) / "classifier-sst2"
        started = time.time()
        fit_file, holdout_file, summary = write_holdout_split(
            train_file, args.holdout, args.seed, scratch
        )
        print(summary, flush=True)
        # dev.tsv appears below only, in the evaluation of the exported model.
        code = cli.main(train_argv(args, fit_file, holdout_file, output))
        train_seconds = time.time() - started
        if code:
            return code
        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            code = cli.main(["evaluate", "classifier", str(output), "--data", str(dev_file)])
        print(report.getvalue().strip())
        accuracy = float(report.getvalue().split()[1])
    command = "python -m benchmarks.classifier_sst2 " + shlex.join(argv or sys.argv[1:])
    print()
    print("| model | tokenizer | dev accuracy (SavedModel) | train + export time | command |")
    print("| --- | --- | ---: | ---: | --- |")
    pretraining = "from scratch"
    if args.pretrain_epochs:
        corpus = " + ".join(["SST-2 train text (not held out)", *args.pretrain_text])
        pretraining = f"MLM-pretrained {args.pretrain_epochs} epochs on {corpus}"
    model = f"TransformerClassifier `{args.preset}`, {args.pooling} pooling"
    if args.conv_kernel_size:
        model += f", n-gram convolution {args.conv_kernel_size}"
    if args.ensemble > 1:
        model = f"average of {args.ensemble} x {model}"
    selection = f"best epoch on {args.holdout:g} of the train sentences, held out"
    print(
        f"| {model}, {pretraining}; {selection} "
        f"| {args.tokenizer} "
        f"{args.vocabulary_size} | {accuracy:.4f} | {train_seconds / 60:.1f} min | "
        f"`{command.strip()}` |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
