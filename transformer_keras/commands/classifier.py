"""`transformer-keras` commands of the classifier family.

- `train classifier --train FILE [--validation FILE] --output saved_models/NAME`:
  `recipes.classifier.train_classifier` with the flags given (the others keep
  the recipe's defaults): a SavedModel (text in, label out) and its `.keras`
  file.
- `classify saved_models/NAME "text" ...` (or lines on stdin) prints
  `label<TAB>probability<TAB>text` per text.
- `evaluate classifier saved_models/NAME --data FILE` prints the accuracy.
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

PRESETS = ("tiny", "small", "base")  # TransformerClassifier.presets (a test checks)
TOKENIZERS = ("word", "subword", "char", "byte")  # text.TOKENIZER_CLASSES
# Recipe field -> command-line attribute.
RECIPE_FLAGS = {
    "preset": "preset",
    "tokenizer": "tokenizer",
    "vocabulary_size": "vocabulary_size",
    "max_length": "max_length",
    "pooling": "pooling",
    "dropout": "dropout",
    "token_dropout": "token_dropout",
    "conv_kernel_size": "conv_kernel_size",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "ema_momentum": "ema",
    "patience": "patience",
    "ensemble": "ensemble",
    "jit_compile": "xla",
}
PRETRAIN_FLAGS = {
    "epochs": "pretrain_epochs",
    "batch_size": "pretrain_batch_size",
    "learning_rate": "pretrain_learning_rate",
}


def register(commands):
    """Adds `train classifier`, `classify` and `evaluate classifier`."""
    from transformer_keras.recipes.classifier import PRETRAINED_DEFAULTS, ClassifierRecipe
    from transformer_keras.recipes.masked_lm import MaskedLMRecipe

    def default(field):
        return defaults_help(ClassifierRecipe, field)

    train = commands.train.add_parser(
        "classifier",
        help="train a text classifier on a TSV/CSV file or class folders and export it",
        description="Learn a tokenizer and Transformer classifiers, export a SavedModel. "
        "Flags left out keep the recipe behind the README's SST-2 figure.",
    )
    train.add_argument("--train", required=True, help="TSV/CSV file or folder per class")
    train.add_argument("--validation", help="validation file (default: hold out 10%%)")
    _add_column_arguments(train)
    train.add_argument("--output", required=True, help="SavedModel folder, saved_models/NAME")
    add_pretrained_argument(train, "BERT", PRETRAINED_DEFAULTS)
    train.add_argument("--preset", choices=PRESETS, help=default("preset"))
    train.add_argument("--tokenizer", choices=TOKENIZERS, help=default("tokenizer"))
    train.add_argument("--vocabulary-size", type=int, help=default("vocabulary_size"))
    train.add_argument(
        "--max-length", type=int, help="tokens read per text " + default("max_length")
    )
    train.add_argument("--pooling", choices=("mean", "max", "cls"), help=default("pooling"))
    train.add_argument("--epochs", type=int, help=default("epochs"))
    train.add_argument("--batch-size", type=int, help=default("batch_size"))
    train.add_argument("--learning-rate", type=float, help=default("learning_rate"))
    train.add_argument("--weight-decay", type=float, help=default("weight_decay"))
    train.add_argument("--ema", type=float, help="weight averaging momentum, e.g. 0.999")
    train.add_argument("--dropout", type=float, help=default("dropout"))
    train.add_argument(
        "--token-dropout", type=float, help="word dropout " + default("token_dropout")
    )
    train.add_argument(
        "--conv-kernel-size",
        type=int,
        help="width of the n-gram convolution before the encoder, 0: none "
        + default("conv_kernel_size"),
    )
    train.add_argument(
        "--patience", type=int, help="early-stopping epochs " + default("patience")
    )
    train.add_argument(
        "--ensemble",
        type=int,
        help="classifiers trained (seeds seed*N..seed*N+N-1) and averaged "
        + default("ensemble"),
    )
    pretraining = train.add_argument_group(
        "masked-language-model pre-training of the encoder (before fine-tuning)"
    )
    pretraining.add_argument(
        "--pretrain-text",
        nargs="*",
        metavar="FILE",
        help="pre-train the encoder on the training texts and these unlabelled text files "
        "(one text per line, first tab-separated column; none: the training texts only), "
        "which also teach the tokenizer",
    )
    for flag, field in (("epochs", "epochs"), ("batch-size", "batch_size")):
        pretraining.add_argument(
            f"--pretrain-{flag}", type=int, help=defaults_help(MaskedLMRecipe, field)
        )
    pretraining.add_argument(
        "--pretrain-learning-rate",
        type=float,
        help=defaults_help(MaskedLMRecipe, "learning_rate"),
    )
    add_run_arguments(train)
    train.add_argument(
        "--xla", action="store_true", default=None, help="XLA-compile steps (GPU)"
    )
    train.set_defaults(handler=train_command)

    classify = commands.top.add_parser(
        "classify", help="label texts with an exported classifier (args or stdin lines)"
    )
    classify.add_argument("model", help="SavedModel folder written by `train classifier`")
    classify.add_argument("texts", nargs="*", help="texts; read from stdin when none")
    classify.set_defaults(handler=classify_command)

    evaluate = commands.evaluate.add_parser(
        "classifier", help="accuracy of an exported classifier on a labelled file"
    )
    evaluate.add_argument("model", help="SavedModel folder written by `train classifier`")
    evaluate.add_argument("--data", required=True, help="TSV/CSV file or folder per class")
    _add_column_arguments(evaluate)
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.set_defaults(handler=evaluate_command)


def _add_column_arguments(parser):
    parser.add_argument("--text-column", help="text column (default: sentence/text/...)")
    parser.add_argument("--label-column", default="label", help="label column")


def _load(path, args, label_names=None):
    from transformer_keras.data.classification import load_classification_data

    return load_classification_data(
        path,
        text_column=args.text_column,
        label_column=args.label_column,
        label_names=label_names,
    )


def train_command(args):
    import dataclasses
    import time

    from transformer_keras.data.masked_language_modeling import read_text_lines
    from transformer_keras.recipes.classifier import (
        PRETRAINED_DEFAULTS,
        ClassifierRecipe,
        train_classifier,
    )
    from transformer_keras.recipes.pipeline import start_run

    started = time.time()
    recipe = recipe_from_args(ClassifierRecipe, args, RECIPE_FLAGS, PRETRAINED_DEFAULTS)
    recipe = dataclasses.replace(
        recipe, pretrain=recipe_from_args(type(recipe.pretrain), args, PRETRAIN_FLAGS)
    )
    options = run_options(args)
    start_run(options)  # Seeds, and the strategy before any TensorFlow op.
    train = _load(args.train, args)
    validation = _load(args.validation, args, train.label_names) if args.validation else None
    pretrain = read_text_lines(args.pretrain_text) if args.pretrain_text is not None else None
    result = train_classifier(
        train, validation, args.output, recipe, options, pretrain=pretrain
    )
    print(f"validation accuracy {result.metrics['accuracy']:.4f}")
    print(f"exported {result.path} (and {result.path}.keras) in {time.time() - started:.0f} s")
    return 0


def classify_command(args):
    from transformer_keras.export.client import load_client

    texts = texts_or_stdin(args.texts, "texts to classify")
    labels, ids, probabilities = load_client(args.model, "classifier").classify(texts)
    for text, label, label_id, row in zip(texts, labels, ids, probabilities):
        print(f"{label}\t{row[label_id]:.4f}\t{text}")
    return 0


def evaluate_command(args):
    from transformer_keras.export.client import load_client

    check_positive("batch-size", args.batch_size)
    client = load_client(args.model, "classifier")
    data = _load(args.data, args, client.label_names)
    texts, labels = data.texts_and_labels()
    if not texts:
        raise ValueError(f"{args.data} has no examples. Received: data={args.data!r}")
    accuracy = client.accuracy(texts, labels, args.batch_size)
    correct = round(accuracy * len(texts))
    print(f"accuracy {accuracy:.4f} ({correct}/{len(texts)}) on {args.data}")
    return 0
