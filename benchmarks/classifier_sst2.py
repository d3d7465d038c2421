"""Quality benchmark of the classifier: SST-2 dev accuracy against training time.

    python -m benchmarks.classifier_sst2                  # the classifier recipe's defaults
    python -m benchmarks.classifier_sst2 --ensemble 1     # one classifier
    python -m benchmarks.classifier_sst2 --ensemble 1 --conv-kernel-size 0   # no convolution
    python -m benchmarks.classifier_sst2 --limit 2000 --epochs 1 --preset tiny \
        --ensemble 2 --pretrain-text --pretrain-epochs 1       # smoke run

Trains `transformer_keras.recipes.train_classifier` (the recipe behind
`transformer-keras train classifier`) on ../shared/data/sst2/train.tsv, the
GLUE training file with its phrase-level examples, minus a held-out slice:
`--holdout 0.05` of its sentences (the rows no other row contains), drawn
with `--seed`, are the validation set of early stopping and of the
best-epoch restore; their sub-phrases found in no other sentence are
dropped, the other rows are trained on (`sentence_holdout`: a random split
of the rows would validate on sub-phrases of training sentences). This is
the one setting the benchmark adds to the recipe: the command line holds
out 10% of the rows at random, which SST-2's phrases make optimistic.
Every other flag left unset keeps the recipe's default
(`ClassifierRecipe`: a word vocabulary, the `small` preset with an n-gram
convolution, AdamW with warmup and cosine decay, early stopping, an average
of 5 classifiers). With `--pretrain-epochs N` the encoder is first
pre-trained as a masked language model on the SST-2 rows trained on plus the
`--pretrain-text` files of ../shared/data.

dev.tsv is read once, to score the exported SavedModel through the
SavedModel client: it takes no part in training or selection. One table row
is printed with the wall time (tokenizer, pre-training, fine-tuning and
export) and the exact command; `benchmarks/RESULTS.md` has the recorded
runs.
"""

import argparse
import dataclasses
import shlex
import sys
import tempfile
import time

HOLDOUT = 0.05  # of the training sentences: the validation set of early stopping

# Flags of `ClassifierRecipe` fields: `--flag` sets `field` (unset: the recipe's).
RECIPE_FLAGS = {
    "preset": str,
    "tokenizer": str,
    "vocabulary_size": int,
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "weight_decay": float,
    "ema_momentum": float,
    "dropout": float,
    "token_dropout": float,
    "conv_kernel_size": int,
    "ensemble": int,
    "max_length": int,
    "pooling": str,
    "patience": int,
}
PRETRAIN_FLAGS = {"epochs": int, "batch_size": int, "learning_rate": float}


def parse_args(argv=None):
    from transformer_keras.recipes import ClassifierRecipe, MaskedLMRecipe

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    recipe = ClassifierRecipe()
    for field, kind in RECIPE_FLAGS.items():
        flag = "--ema" if field == "ema_momentum" else f"--{field.replace('_', '-')}"
        parser.add_argument(
            flag, dest=field, type=kind, help=f"(recipe default: {getattr(recipe, field)})"
        )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pretrain-text",
        nargs="*",
        metavar="FILE",
        help="pre-train the encoder on the SST-2 training sentences plus these text files, "
        "relative to shared/data, e.g. spa-eng/spa.txt multi30k/train.en (no files: the "
        "training sentences only; default: no pre-training)",
    )
    for field, kind in PRETRAIN_FLAGS.items():
        parser.add_argument(
            f"--pretrain-{field.replace('_', '-')}",
            dest=f"pretrain_{field}",
            type=kind,
            help=f"(recipe default: {getattr(MaskedLMRecipe(), field)})",
        )
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
    args = parser.parse_args(argv)
    if args.pretrain_epochs is not None and args.pretrain_text is None:
        args.pretrain_text = []  # --pretrain-epochs alone: the training sentences only.
    return args


def recipe_of(args):
    """The `ClassifierRecipe` of the parsed flags: the recipe's defaults, with the
    flags that were given."""
    from transformer_keras.recipes import ClassifierRecipe

    recipe = ClassifierRecipe()
    values = {field: getattr(args, field) for field in RECIPE_FLAGS}
    pretrain = {field: getattr(args, f"pretrain_{field}") for field in PRETRAIN_FLAGS}
    pretrain = dataclasses.replace(
        recipe.pretrain, **{key: value for key, value in pretrain.items() if value is not None}
    )
    return dataclasses.replace(
        recipe,
        pretrain=pretrain,
        **{key: value for key, value in values.items() if value is not None},
    )


def pretrain_texts(names):
    """The lines of the shared data files `names` (English text, first column)."""
    from transformer_keras.data.masked_language_modeling import read_text_lines
    from transformer_keras.data.paths import shared_data_file

    return read_text_lines([str(shared_data_file(name)) for name in names])


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


def holdout_split(data, fraction, seed):
    """`(train, held out, summary line)`: `data` (SST-2's training file) split by
    `sentence_holdout` into two `TextClassificationData`."""
    from transformer_keras.data.classification import from_texts

    texts, labels = data.texts_and_labels()
    train, holdout = sentence_holdout(texts, fraction, seed)
    parts = [
        from_texts([texts[i] for i in indices], [labels[i] for i in indices], data.label_names)
        for indices in (train, holdout)
    ]
    summary = (
        f"held out {len(holdout)} rows, whole sentences of the training file, for "
        f"validation; training on {len(train)} of its {len(texts)} rows "
        f"({len(texts) - len(train) - len(holdout)} phrases found only in held-out "
        "sentences dropped)"
    )
    return parts[0], parts[1], summary


def main(argv=None):
    from transformer_keras.data.classification import load_delimited_file
    from transformer_keras.data.paths import shared_data_file
    from transformer_keras.export.client import load_client
    from transformer_keras.recipes import RunOptions, train_classifier

    args = parse_args(argv)
    recipe = recipe_of(args)
    data = load_delimited_file(shared_data_file("sst2/train.tsv"))
    if args.limit:
        data = data.take(args.limit)
    with tempfile.TemporaryDirectory() as scratch:
        output = args.output or f"{scratch}/classifier-sst2"
        started = time.time()
        train, holdout, summary = holdout_split(data, args.holdout, args.seed)
        print(summary, flush=True)
        pretrain = None
        if args.pretrain_text is not None:
            pretrain = pretrain_texts(args.pretrain_text)
        # dev.tsv appears below only, in the evaluation of the exported model.
        train_classifier(
            train, holdout, output, recipe, RunOptions(seed=args.seed), pretrain=pretrain
        )
        train_seconds = time.time() - started
        client = load_client(output, "classifier")
        dev = load_delimited_file(
            shared_data_file("sst2/dev.tsv"), label_names=client.label_names
        )
        texts, labels = dev.texts_and_labels()
        accuracy = client.accuracy(texts, labels)
    print(f"dev accuracy {accuracy:.4f} ({round(accuracy * len(texts))}/{len(texts)})")
    command = "python -m benchmarks.classifier_sst2 " + shlex.join(argv or sys.argv[1:])
    print()
    print("| model | tokenizer | dev accuracy (SavedModel) | train + export time | command |")
    print("| --- | --- | ---: | ---: | --- |")
    pretraining = "from scratch"
    if pretrain is not None:
        corpus = " + ".join(["SST-2 train text (not held out)", *args.pretrain_text])
        pretraining = f"MLM-pretrained {recipe.pretrain.epochs} epochs on {corpus}"
    model = f"TransformerClassifier `{recipe.preset}`"
    if recipe.pooling:
        model += f", {recipe.pooling} pooling"
    if recipe.conv_kernel_size:
        model += f", n-gram convolution {recipe.conv_kernel_size}"
    if recipe.ensemble > 1:
        model = f"average of {recipe.ensemble} x {model}"
    selection = f"best epoch on {args.holdout:g} of the train sentences, held out"
    print(
        f"| {model}, {pretraining}; {selection} "
        f"| {recipe.tokenizer} {recipe.vocabulary_size} | {accuracy:.4f} "
        f"| {train_seconds / 60:.1f} min | `{command.strip()}` |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
