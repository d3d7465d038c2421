"""`transformer-keras` sub-commands of the translator family.

- `train translator --train-source F --train-target F | --train-pairs F.tsv
  [--validation-source F --validation-target F | --validation-pairs F.tsv]
  [--preset small] --output saved_models/NAME` learns a subword vocabulary and
  a `Transformer`, reports validation BLEU during training, then exports the
  SavedModel (text in, translation out) and the `.keras` file beside it.
- `translate saved_models/NAME "text" ... [--beam-size 4]` (or lines on stdin)
  prints one translation per line.
- `evaluate translator saved_models/NAME --source F --reference F
  [--beam-size 4]` prints sacreBLEU's BLEU and chrF.
- The `demo` step trains a small translator on generated pairs (spelled-out
  numbers -> digits) or on `--data FILE.tsv`, exports, reloads the SavedModel
  and prints beam-search translations.

TensorFlow and Keras are imported inside the handlers so `--help` is instant.
"""

import os
import shutil
import sys
import time

from transformer_keras.commands.common import (
    add_training_arguments,
    chief_writes,
    save_frequency,
    start_training,
    strategy_scope,
)

PRESETS = ("tiny", "small", "base")  # Transformer.presets (a test checks)
TOKENIZERS = ("subword", "word", "char", "byte")  # text.TOKENIZER_CLASSES


def register(commands):
    """Adds `train translator`, `translate`, `evaluate translator` and the demo step."""
    train = commands.train.add_parser(
        "translator",
        help="train an encoder-decoder translator on parallel text and export it",
        description="Learn a subword vocabulary and a Transformer, export a SavedModel.",
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
    train.add_argument("--preset", default="small", choices=PRESETS)
    train.add_argument("--tokenizer", default="subword", choices=TOKENIZERS)
    train.add_argument("--vocabulary-size", type=int, help="joint vocabulary (subword 8000)")
    train.add_argument("--max-length", type=int, default=64, help="tokens per sentence")
    train.add_argument("--num-layers", type=int, help="encoder and decoder layers (preset's)")
    train.add_argument("--hidden-dim", type=int, help="model width (preset's)")
    train.add_argument("--normalize-first", action="store_true", help="pre-LN (preset's)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--token-budget", type=int, default=4096, help="tokens per batch")
    train.add_argument("--warmup-steps", type=int, default=4000)
    train.add_argument(
        "--bleu-every", type=int, default=1, help="validation BLEU every N epochs"
    )
    train.add_argument("--beam-size", type=int, default=4, help="beam of validation BLEU")
    add_training_arguments(train)  # --strategy, --seed, --deterministic, --save-every
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

    commands.demos.append(("translator", demo))


def _add_decoding_arguments(parser):
    parser.add_argument("--beam-size", type=int, default=4, help="1 = greedy (max 16)")
    parser.add_argument("--max-length", type=int, default=128, help="most target tokens")
    parser.add_argument("--batch-size", type=int, default=64)


def _check_positive(name, value):
    if value is not None and value <= 0:
        raise ValueError(
            f"--{name} must be positive. Received: {name.replace('-', '_')}={value}"
        )


# ----------------------------------------------------------------- loading
def load_pairs(source=None, target=None, pairs=None, source_column=0, target_column=1):
    """`(sources, targets)` lists from two aligned files or one TSV file, or `None`."""
    from transformer_keras.data.translation import read_lines, read_tsv_pairs

    if pairs and (source or target):
        raise ValueError(
            "Give either a source and a target file or a pairs file, not both. "
            f"Received: pairs={pairs!r}, source={source!r}"
        )
    if pairs:
        return read_tsv_pairs(pairs, source_column, target_column)
    if bool(source) != bool(target):
        raise ValueError(
            "A source file needs its target file (and vice versa). "
            f"Received: source={source!r}, target={target!r}"
        )
    if not source:
        return None
    sources, targets = read_lines(source), read_lines(target)
    if len(sources) != len(targets):
        raise ValueError(
            f"{source} and {target} must have the same number of lines. "
            f"Received: source lines={len(sources)}, target lines={len(targets)}"
        )
    return sources, targets


def hold_out(sources, targets, fraction=0.1):
    """Splits pairs with `data.translation.split_of` on the target: `(train, validation)`."""
    from transformer_keras.data.translation import split_of

    train, validation = ([], []), ([], [])
    for source, target in zip(sources, targets):
        side = validation if split_of(target, fraction) == "validation" else train
        side[0].append(source)
        side[1].append(target)
    return train, validation


# ---------------------------------------------------------------- training
def fit_translator(
    train,
    validation,
    output_dir,
    preset="small",
    tokenizer="subword",
    vocabulary_size=None,
    max_length=64,
    epochs=10,
    token_budget=4096,
    warmup_steps=4000,
    bleu_every=1,
    beam_size=4,
    seed=0,
    verbose=2,
    jit_compile="auto",
    callbacks=(),
    strategy=None,
    save_freq="epoch",
    **overrides,
):
    """Learns a joint vocabulary, builds `Transformer.from_preset` and fits it.

    Teacher forcing on length-bucketed batches of about `token_budget` tokens,
    label-smoothed (0.1) masked cross-entropy and masked accuracy, the paper's
    schedule with Adam(0.9, 0.98, 1e-9). Checkpoints, logs and the training
    state go under `output_dir` (the same call resumes an interrupted run at
    the same epoch and step, see `training.resumable_fit`); with a validation
    set, `val_bleu` (beam search) is logged every `bleu_every` epochs and the
    best weights by it are kept.

    Args:
        train, validation: `(sources, targets)` lists (validation may be None).
        output_dir: folder of the run's checkpoints and logs.
        preset, **overrides: the model (`Transformer.from_preset`).
        tokenizer, vocabulary_size: kind and size of the joint vocabulary
            (`text.train_tokenizer`).
        max_length: tokens kept per sentence (and the model's
            `max_sequence_length - 1`).
        epochs, token_budget, warmup_steps, seed: training.
        bleu_every, beam_size: validation BLEU.
        verbose: `fit`'s verbosity.
        jit_compile: XLA compilation of the training step (`compile`'s argument).
        callbacks: more callbacks, run after the default ones.
        strategy: a `tf.distribute.Strategy` to train under (None: default);
            `token_budget` is per global batch.
        save_freq: `"epoch"` or steps between saves of the training state.

    Returns:
        The trained model (best validation BLEU weights when validated).
    """
    import keras

    from transformer_keras.data.translation import pairs_dataset, translation_batches
    from transformer_keras.models.seq2seq import Transformer
    from transformer_keras.optimization import TransformerSchedule, paper_adam
    from transformer_keras.text import train_tokenizer
    from transformer_keras.training.backup import load_checkpoint
    from transformer_keras.training.callbacks import (
        BleuCallback,
        best_weights_path,
        default_callbacks,
    )
    from transformer_keras.training.resumable_fit import fit_resumable

    for name, value in (("epochs", epochs), ("max-length", max_length)):
        _check_positive(name, value)
    if not train[0]:
        raise ValueError("The training data has no sentence pairs. Received: 0 pairs")
    keras.utils.set_random_seed(seed)
    vocabulary = train_tokenizer(tokenizer, train[0] + train[1], vocabulary_size)
    with strategy_scope(strategy):  # Model, optimizer and metrics variables.
        model = Transformer.from_preset(
            preset,
            source_tokenizer=vocabulary,
            max_sequence_length=max_length + 1,
            **{key: value for key, value in overrides.items() if value is not None},
        )
        model.build()  # The training state is restored into a built model.
        model.compile(
            optimizer=paper_adam(TransformerSchedule(model.hidden_dim, warmup_steps)),
            jit_compile=jit_compile,
        )

    def make_batches():  # A new dataset per call: a restart replays the seeded order.
        return translation_batches(
            pairs_dataset(*train), vocabulary, vocabulary, max_length, token_budget, True, seed
        )

    run_callbacks = []
    if validation and validation[0]:

        def translate_fn(sources):
            return translate_texts(keras_translate(model), sources, beam_size, max_length + 1)

        bleu = BleuCallback(translate_fn, *validation, every_n_epochs=bleu_every)
        # fit_resumable keeps the training state (no BackupAndRestore).
        run_callbacks += [bleu, *default_callbacks(output_dir, "val_bleu", backup=False)]
    else:
        run_callbacks += default_callbacks(output_dir, monitor="loss", backup=False)
    fit_resumable(
        model,
        make_batches,  # Token-budget batches: their number is counted once.
        epochs=epochs,
        backup_dir=os.path.join(output_dir, "backup"),
        save_freq=save_freq,
        callbacks=[*run_callbacks, *callbacks],
        verbose=verbose,
        strategy=strategy,
    )
    if os.path.exists(best_weights_path(output_dir)):
        load_checkpoint(model, best_weights_path(output_dir))  # Names a broken file.
    return model


def train_command(args):
    from transformer_keras.export.translator import export_translator

    started = time.time()
    for name in ("vocabulary-size", "num-layers", "hidden-dim"):
        _check_positive(name, getattr(args, name.replace("-", "_")))
    strategy = start_training(args)  # Seeds; the tf.distribute strategy (first TF op).
    columns = dict(source_column=args.source_column, target_column=args.target_column)
    train = load_pairs(args.train_source, args.train_target, args.train_pairs, **columns)
    if train is None:
        raise ValueError(
            "Give --train-source and --train-target, or --train-pairs. "
            "Received: no training data"
        )
    validation = load_pairs(
        args.validation_source, args.validation_target, args.validation_pairs, **columns
    )
    if validation is None:
        train, validation = hold_out(*train)
    print(f"{len(train[0])} training and {len(validation[0])} validation pairs", flush=True)
    model = fit_translator(
        train,
        validation,
        output_dir=args.output.rstrip("/") + ".training",
        preset=args.preset,
        tokenizer=args.tokenizer,
        vocabulary_size=args.vocabulary_size,
        max_length=args.max_length,
        epochs=args.epochs,
        token_budget=args.token_budget,
        warmup_steps=args.warmup_steps,
        bleu_every=args.bleu_every,
        beam_size=args.beam_size,
        seed=args.seed,
        num_encoder_layers=args.num_layers,
        num_decoder_layers=args.num_layers,
        hidden_dim=args.hidden_dim,
        intermediate_dim=args.hidden_dim and 2 * args.hidden_dim,
        normalize_first=args.normalize_first or None,
        strategy=strategy,
        save_freq=save_frequency(args),
    )
    with chief_writes(args.output, strategy) as target:  # Other workers: a temp copy.
        path = export_translator(model, target)
    print(f"exported {path} (and {path}.keras) in {time.time() - started:.0f} s")
    return 0


# --------------------------------------------------------------- inference
def load_translate_signature(path):
    """The `translate` function of an exported translator."""
    from transformer_keras.export.saved_model import load_saved_model

    loaded = load_saved_model(path)
    if "translate" not in loaded.signatures:
        raise ValueError(
            f"'{path}' is not a translator exported by `train translator`. "
            f"Received: signatures={sorted(loaded.signatures)}"
        )
    return loaded.signatures["translate"]


def translate_texts(translate, texts, beam_size=4, max_length=128, batch_size=64):
    """Translations of a list of strings with a `translate(text, beam_size, max_length)`
    function (the SavedModel signature or `Transformer.translate`), in batches."""
    import tensorflow as tf

    results = []
    for start in range(0, len(texts), batch_size):
        outputs = translate(
            text=tf.constant(texts[start : start + batch_size], tf.string),
            beam_size=tf.constant(beam_size, tf.int32),
            max_length=tf.constant(max_length, tf.int32),
        )
        if isinstance(outputs, dict):
            outputs = outputs["translation"]
        results += [text.decode("utf-8", errors="replace") for text in outputs.numpy()]
    return results


def keras_translate(model):
    """`Transformer.translate` with the keyword arguments of the SavedModel signature."""

    def translate(text, beam_size, max_length):
        return model.translate(text, beam_size, max_length)

    return translate


def _check_decoding_arguments(args):
    from transformer_keras.models.seq2seq import MAX_BEAM_SIZE

    if not 1 <= args.beam_size <= MAX_BEAM_SIZE:
        raise ValueError(
            f"--beam-size must be in [1, {MAX_BEAM_SIZE}]. Received: beam_size={args.beam_size}"
        )
    _check_positive("max-length", args.max_length)
    _check_positive("batch-size", args.batch_size)


def translate_command(args):
    _check_decoding_arguments(args)
    texts = list(args.texts)
    if not texts:
        if sys.stdin.isatty():
            from transformer_keras.cli import UsageError

            raise UsageError("give texts to translate, or pipe one text per line on stdin")
        texts = [line.rstrip("\n") for line in sys.stdin]
    translate = load_translate_signature(args.model)
    for translation in translate_texts(
        translate, texts, args.beam_size, args.max_length, args.batch_size
    ):
        print(translation)
    return 0


def corpus_scores(hypotheses, references):
    """sacreBLEU's corpus BLEU and chrF: `{"bleu": float, "chrf": float}`."""
    import sacrebleu

    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


def evaluate_command(args):
    _check_decoding_arguments(args)
    sources, references = load_pairs(args.source, args.reference)
    if not sources:
        raise ValueError(f"{args.source} has no sentences. Received: source={args.source!r}")
    translate = load_translate_signature(args.model)
    hypotheses = translate_texts(
        translate, sources, args.beam_size, args.max_length, args.batch_size
    )
    scores = corpus_scores(hypotheses, references)
    print(
        f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
        f"({len(sources)} sentences, beam size {args.beam_size}, {args.source})"
    )
    return 0


# -------------------------------------------------------------------- demo
def demo(args):
    """Trains a small translator, exports, reloads the SavedModel, prints translations."""
    from transformer_keras.data.generated_translation import spelled_number_pairs
    from transformer_keras.export.translator import export_translator

    started = time.time()
    settings = dict(DEMO_SETTINGS)
    if args.data:
        sources, targets = load_pairs(pairs=args.data)
        sources, targets = sources[:DEMO_MAX_PAIRS], targets[:DEMO_MAX_PAIRS]
        (train, validation), examples = hold_out(sources, targets), None
        settings.update(DEMO_DATA_SETTINGS)
        print(f"data: the first {len(sources)} pairs of {args.data}")
    else:
        train = spelled_number_pairs(6000, seed=0)
        validation = spelled_number_pairs(200, seed=1)
        examples = ["three hundred forty two", "nine thousand two hundred seven", "eighty"]
        print("data: generated numbers in words -> digits ('forty two' -> '4 2')")
    path = os.path.join(args.output_dir, "translator-demo")
    shutil.rmtree(path + ".training", ignore_errors=True)  # a fresh run, not a resumed one
    model = fit_translator(
        train,
        (validation[0][:100], validation[1][:100]),
        output_dir=path + ".training",
        **settings,
    )
    export_translator(model, path)
    translate = load_translate_signature(path)
    examples = examples or validation[0][:5]
    translations = translate_texts(translate, examples, 4, settings["max_length"])
    print(f"reloaded {path} with tf.saved_model.load; beam search (beam size 4):")
    for source, translation in zip(examples, translations):
        print(f"  {source!r} -> {translation!r}")
    print(f"translator demo: exported {path} in {time.time() - started:.0f} s")


DEMO_SETTINGS = dict(
    preset="tiny",
    tokenizer="word",
    max_length=8,
    epochs=8,
    token_budget=512,
    warmup_steps=100,
    bleu_every=8,
    jit_compile=False,  # XLA compiling costs more than it saves on a tiny model
    beam_size=4,
    num_encoder_layers=2,
    num_decoder_layers=2,
    hidden_dim=64,
    num_heads=4,
    intermediate_dim=128,
    normalize_first=True,
)
# With `--data FILE.tsv`: the first pairs of the file, longer sentences, fewer epochs.
DEMO_MAX_PAIRS = 10_000
DEMO_DATA_SETTINGS = dict(max_length=24, epochs=4, token_budget=1024, bleu_every=4)
