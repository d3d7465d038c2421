"""`transformer-keras` commands of the translator family.

- `train translator --train-source F --train-target F | --train-pairs F.tsv
  [--validation-source F --validation-target F | --validation-pairs F.tsv]
  --output saved_models/NAME`: `recipes.translator.train_translator` with the
  flags given (the others keep the recipe's defaults): a SavedModel (text in,
  translation out) and its `.keras` file.
- `translate saved_models/NAME "text" ... [--beam-size 4]` (or lines on stdin)
  prints one translation per line.
- `evaluate translator saved_models/NAME --source F --reference F
  [--beam-size 4]` prints sacreBLEU's BLEU and chrF.
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

PRESETS = ("tiny", "small", "base")  # Transformer.presets (a test checks)
TOKENIZERS = ("subword", "word", "char", "byte")  # text.TOKENIZER_CLASSES
RECIPE_FLAGS = {
    "preset": "preset",
    "tokenizer": "tokenizer",
    "vocabulary_size": "vocabulary_size",
    "max_length": "max_length",
    "num_layers": "num_layers",
    "hidden_dim": "hidden_dim",
    "normalize_first": "normalize_first",
    "epochs": "epochs",
    "token_budget": "token_budget",
    "warmup_steps": "warmup_steps",
    "learning_rate_scale": "learning_rate_scale",
    "bleu_every": "bleu_every",
    "beam_size": "beam_size",
}


def register(commands):
    """Adds `train translator`, `translate` and `evaluate translator`."""
    from transformer_keras.recipes.translator import PRETRAINED_DEFAULTS, TranslatorRecipe

    def default(field):
        return defaults_help(TranslatorRecipe, field)

    train = commands.train.add_parser(
        "translator",
        help="train an encoder-decoder translator on parallel text and export it",
        description="Learn a subword vocabulary and a Transformer, export a SavedModel. "
        "Flags left out keep the recipe behind the README's Multi30k figure.",
    )
    train.add_argument("--train-source", help="source side, one sentence per line")
    train.add_argument("--train-target", help="target side, line-aligned with the source")
    train.add_argument("--train-pairs", help="tab-separated pairs (e.g. Tatoeba's spa.txt)")
    train.add_argument("--validation-source", help="validation source file")
    train.add_argument("--validation-target", help="validation target file")
    train.add_argument("--validation-pairs", help="validation pairs (TSV)")
    train.add_argument("--source-column", type=int, default=0, help="TSV source column")
    train.add_argument("--target-column", type=int, default=1, help="TSV target column")
    train.add_argument("--output", required=True, help="SavedModel folder, saved_models/NAME")
    add_pretrained_argument(train, "Marian (opus-mt)", PRETRAINED_DEFAULTS)
    train.add_argument("--preset", choices=PRESETS, help=default("preset"))
    train.add_argument("--tokenizer", choices=TOKENIZERS, help=default("tokenizer"))
    train.add_argument("--vocabulary-size", type=int, help=default("vocabulary_size"))
    train.add_argument(
        "--max-length", type=int, help="tokens per sentence " + default("max_length")
    )
    train.add_argument("--num-layers", type=int, help="encoder and decoder layers (preset's)")
    train.add_argument("--hidden-dim", type=int, help="model width (preset's)")
    train.add_argument(
        "--normalize-first", action="store_true", default=None, help="pre-LN (preset's)"
    )
    train.add_argument("--epochs", type=int, help=default("epochs"))
    train.add_argument(
        "--token-budget", type=int, help="tokens per batch " + default("token_budget")
    )
    train.add_argument("--warmup-steps", type=int, help=default("warmup_steps"))
    train.add_argument(
        "--learning-rate-scale",
        type=float,
        help="factor on the paper's schedule " + default("learning_rate_scale"),
    )
    train.add_argument(
        "--bleu-every", type=int, help="validation BLEU every N epochs " + default("bleu_every")
    )
    train.add_argument(
        "--beam-size", type=int, help="beam of validation BLEU " + default("beam_size")
    )
    add_run_arguments(train)
    train.set_defaults(handler=train_command)

    translate = commands.top.add_parser(
        "translate", help="translate texts with an exported translator (args or stdin lines)"
    )
    translate.add_argument("model", help="SavedModel folder written by `train translator`")
    translate.add_argument("texts", nargs="*", help="texts; read from stdin when none")
    _add_decoding_arguments(translate)
    translate.set_defaults(handler=translate_command)

    evaluate = commands.evaluate.add_parser(
        "translator", help="sacreBLEU BLEU and chrF of an exported translator"
    )
    evaluate.add_argument("model", help="SavedModel folder written by `train translator`")
    evaluate.add_argument("--source", required=True, help="source sentences, one per line")
    evaluate.add_argument("--reference", required=True, help="reference translations")
    _add_decoding_arguments(evaluate)
    evaluate.set_defaults(handler=evaluate_command)


def _add_decoding_arguments(parser):
    parser.add_argument("--beam-size", type=int, default=4, help="1 = greedy (max 16)")
    parser.add_argument("--max-length", type=int, default=128, help="most target tokens")
    parser.add_argument("--batch-size", type=int, default=64)


def train_command(args):
    import time

    from transformer_keras.data.translation import read_pairs
    from transformer_keras.recipes.pipeline import start_run
    from transformer_keras.recipes.translator import (
        PRETRAINED_DEFAULTS,
        TranslatorRecipe,
        train_translator,
    )

    started = time.time()
    recipe = recipe_from_args(TranslatorRecipe, args, RECIPE_FLAGS, PRETRAINED_DEFAULTS)
    options = run_options(args)
    start_run(options)  # Seeds, and the strategy before any TensorFlow op.
    columns = dict(source_column=args.source_column, target_column=args.target_column)
    train = read_pairs(args.train_source, args.train_target, args.train_pairs, **columns)
    if train is None:
        raise ValueError(
            "Give --train-source and --train-target, or --train-pairs. "
            "Received: no training data"
        )
    validation = read_pairs(
        args.validation_source, args.validation_target, args.validation_pairs, **columns
    )
    result = train_translator(train, validation, args.output, recipe, options)
    if result.metrics:
        print(f"validation BLEU {result.metrics['bleu']:.2f} chrF {result.metrics['chrf']:.2f}")
    print(f"exported {result.path} (and {result.path}.keras) in {time.time() - started:.0f} s")
    return 0


def _check_decoding_arguments(args):
    from transformer_keras.models.seq2seq import MAX_BEAM_SIZE

    if not 1 <= args.beam_size <= MAX_BEAM_SIZE:
        raise ValueError(
            f"--beam-size must be in [1, {MAX_BEAM_SIZE}]. Received: beam_size={args.beam_size}"
        )
    check_positive("max-length", args.max_length)
    check_positive("batch-size", args.batch_size)


def translate_command(args):
    from transformer_keras.export.client import load_client

    _check_decoding_arguments(args)
    texts = texts_or_stdin(args.texts, "texts to translate")
    translator = load_client(args.model, "translator")
    for translation in translator.translate(
        texts, args.beam_size, args.max_length, args.batch_size
    ):
        print(translation)
    return 0


def evaluate_command(args):
    from transformer_keras.data.translation import read_pairs
    from transformer_keras.export.client import load_client
    from transformer_keras.training.bleu import corpus_scores

    _check_decoding_arguments(args)
    sources, references = read_pairs(args.source, args.reference)
    if not sources:
        raise ValueError(f"{args.source} has no sentences. Received: source={args.source!r}")
    hypotheses = load_client(args.model, "translator").translate(
        sources, args.beam_size, args.max_length, args.batch_size
    )
    scores = corpus_scores(hypotheses, references)
    print(
        f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
        f"({len(sources)} sentences, beam size {args.beam_size}, {args.source})"
    )
    return 0
