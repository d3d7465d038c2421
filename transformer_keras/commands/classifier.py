"""`transformer-keras` sub-commands of the classifier family.

- `train classifier --train FILE [--validation FILE] --output saved_models/NAME`
  learns a tokenizer and a `TransformerClassifier`, then exports the SavedModel
  (text in, label out) and the `.keras` file beside it. With
  `--pretrain-text FILE ...` the encoder is first pre-trained as a masked
  language model on those texts and the training texts; with `--ensemble N`
  N classifiers are trained (seeds seed*N..seed*N+N-1) and one model averaging
  them is exported; `--conv-kernel-size K` adds the n-gram convolution.
- `classify saved_models/NAME "text" ...` (or lines on stdin) prints
  `label<TAB>probability<TAB>text` per text.
- `evaluate classifier saved_models/NAME --data FILE` prints the accuracy.
- The `demo` step trains the tiny preset on generated sentences (or `--data`),
  exports, reloads the SavedModel and prints predictions.

TensorFlow and Keras are imported inside the handlers so `--help` is instant.
"""

import math
import os
import sys
import time

from transformer_keras.commands.common import (
    add_training_arguments,
    check_global_batch_size,
    chief_writes,
    save_frequency,
    start_training,
    strategy_scope,
)

PRESETS = ("tiny", "small", "base")  # TransformerClassifier.presets (a test checks)
TOKENIZERS = ("word", "subword", "char", "byte")  # text.TOKENIZER_CLASSES
DEMO_MAX_EXAMPLES = 10_000  # `demo --data FILE` trains on at most this many texts
DEMO_TEXTS = (
    "the acting was truly wonderful",
    "the plot was not gripping",
    "i did not hate the ending",
    "the cast was superb but the pacing was very tedious",
)


def register(commands):
    """Adds `train classifier`, `classify`, `evaluate classifier` and the demo step."""
    train = commands.train.add_parser(
        "classifier",
        help="train a text classifier on a TSV/CSV file or class folders and export it",
        description="Learn a tokenizer and a Transformer classifier, export a SavedModel.",
    )
    train.add_argument("--train", required=True, help="TSV/CSV file or folder per class")
    train.add_argument("--validation", help="validation file (default: hold out 10%%)")
    _add_column_arguments(train)
    train.add_argument("--output", required=True, help="SavedModel folder, saved_models/NAME")
    train.add_argument("--preset", default="small", choices=PRESETS)
    train.add_argument("--tokenizer", default="word", choices=TOKENIZERS)
    train.add_argument(
        "--vocabulary-size", type=int, help="tokenizer size (word 20000, subword 8000)"
    )
    train.add_argument("--max-length", type=int, help="tokens kept per text (preset's)")
    train.add_argument("--pooling", choices=("mean", "max", "cls"), help="(preset's: mean)")
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=5e-4)
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--ema", type=float, help="weight averaging momentum, e.g. 0.999")
    train.add_argument("--dropout", type=float, help="(preset's)")
    train.add_argument("--token-dropout", type=float, help="word dropout (preset's)")
    train.add_argument(
        "--conv-kernel-size",
        type=int,
        help="width of an n-gram convolution over the embeddings before the encoder "
        "(default: none)",
    )
    train.add_argument("--patience", type=int, default=2, help="early-stopping epochs")
    train.add_argument(
        "--ensemble",
        type=int,
        default=1,
        help="train N classifiers (seeds seed*N..seed*N+N-1: other --seed values share "
        "no member) and export their average (default 1)",
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
    pretraining.add_argument(
        "--pretrain-epochs", type=int, default=3, help="pre-training epochs (default 3)"
    )
    pretraining.add_argument(
        "--pretrain-batch-size", type=int, default=128, help="(default 128)"
    )
    pretraining.add_argument(
        "--pretrain-learning-rate", type=float, default=1e-3, help="peak rate (default 1e-3)"
    )
    add_training_arguments(train)  # --strategy, --seed, --deterministic, --save-every
    train.add_argument("--xla", action="store_true", help="XLA-compile steps (GPU)")
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

    commands.demos.append(("classifier", demo))


def _add_column_arguments(parser):
    parser.add_argument("--text-column", help="text column (default: sentence/text/...)")
    parser.add_argument("--label-column", default="label", help="label column")


def _check_positive(name, value):
    if value is not None and value <= 0:
        raise ValueError(f"--{name} must be positive. Received: {name}={value}")


# ----------------------------------------------------------------- loading
def load_labelled(path, text_column=None, label_column="label", label_names=None):
    """A `TextClassificationData` from a TSV/CSV file or a folder per class."""
    from transformer_keras.data.classification import load_delimited_file, load_directory

    if os.path.isdir(path):
        return load_directory(path, label_names=label_names)
    return load_delimited_file(
        path, text_column=text_column, label_column=label_column, label_names=label_names
    )


# ---------------------------------------------------------------- training
def fit_classifier(
    train,
    validation,
    output_dir,
    preset="small",
    tokenizer="word",
    vocabulary_size=None,
    epochs=3,
    batch_size=32,
    learning_rate=5e-4,
    patience=2,
    seed=0,
    verbose=2,
    weight_decay=0.01,
    ema_momentum=None,
    jit_compile=False,
    callbacks=(),
    strategy=None,
    save_freq="epoch",
    pretrain_texts=None,
    pretrain_epochs=3,
    pretrain_batch_size=128,
    pretrain_learning_rate=1e-3,
    ensemble_size=1,
    **overrides,
):
    """Learns a tokenizer, builds `TransformerClassifier.from_preset` and fits it.

    With `ensemble_size` N > 1, N classifiers are trained one after the other
    (seeds `seed * N`, `seed * N + 1`, ... `seed * N + N - 1`, so that two
    values of `seed` share no member: other initial weights, dropout and
    batch order; the same tokenizer), each in `output_dir/member-I` with its
    own early stopping, and returned as one `ClassifierEnsemble`.

    With `pretrain_texts`, the encoder is first pre-trained as a
    `MaskedLanguageModel` (same preset and overrides) on those texts plus the
    training texts, the tokenizer is learned on the same texts, and the
    classifier starts from the pretrained backbone
    (`TransformerClassifier.from_pretrained`). The pretrained model is saved
    as `output_dir/pretrained/masked_lm.keras`; a run started again finds it
    and goes straight to fine-tuning.

    Checkpoints, TensorBoard logs and the training state go under
    `output_dir`: running the same call again after an interruption resumes
    at the same epoch and step (`training.resumable_fit.fit_resumable`).
    With a validation set, early stopping on validation accuracy keeps the best
    weights.

    Args:
        train, validation: `TextClassificationData` (validation may be None).
        output_dir: folder for the run's checkpoints and logs.
        preset, **overrides: the model (`TransformerClassifier.from_preset`).
        tokenizer: a kind of `transformer_keras.text.train_tokenizer`
            (`"word"`, `"subword"`, ...); vocabulary_size: its size (None:
            the kind's default).
        epochs, batch_size, learning_rate, weight_decay, patience, seed:
            training (see `TransformerClassifier.compile`).
        ema_momentum: keep an exponential moving average of the weights
            (e.g. 0.999); validation, checkpoints and the result use it.
        verbose: `fit`'s verbosity.
        jit_compile: XLA compilation (`compile`'s argument).
        callbacks: more callbacks, run after the default ones.
        strategy: a `tf.distribute.Strategy` to train under (None: default);
            `batch_size` is the global batch.
        save_freq: `"epoch"` or steps between saves of the training state.
        pretrain_texts: unlabelled texts (a list of strings) or None (no
            pre-training).
        pretrain_epochs, pretrain_batch_size, pretrain_learning_rate: the
            pre-training (see `MaskedLanguageModel.compile`).
        ensemble_size: the number of classifiers trained and averaged.

    Returns:
        The trained model: a `TransformerClassifier`, or a `ClassifierEnsemble`
        of them.
    """
    import keras

    from transformer_keras.models.classifier import ClassifierEnsemble, TransformerClassifier
    from transformer_keras.text import train_tokenizer

    for name, value in (
        ("epochs", epochs),
        ("batch-size", batch_size),
        ("ensemble", ensemble_size),
    ):
        _check_positive(name, value)
    keras.utils.set_random_seed(seed)
    model_arguments = {key: value for key, value in overrides.items() if value is not None}
    classifier_arguments = dict(
        num_classes=len(train.label_names), label_names=list(train.label_names)
    )
    if pretrain_texts is not None:
        pretrained = pretrain_encoder(
            train,
            pretrain_texts,
            os.path.join(output_dir, "pretrained"),
            preset=preset,
            tokenizer=tokenizer,
            vocabulary_size=vocabulary_size,
            epochs=pretrain_epochs,
            batch_size=pretrain_batch_size,
            learning_rate=pretrain_learning_rate,
            seed=seed,
            verbose=verbose,
            strategy=strategy,
            **model_arguments,
        )
    else:
        vocabulary = train_tokenizer(tokenizer, train.dataset.map(_text), vocabulary_size)
    settings = dict(
        train=train,
        validation=validation,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        ema_momentum=ema_momentum,
        patience=patience,
        verbose=verbose,
        jit_compile=jit_compile,
        callbacks=callbacks,
        strategy=strategy,
        save_freq=save_freq,
    )
    members = []
    for index in range(ensemble_size):
        member_seed = seed * ensemble_size + index  # seed itself when there is one
        # The head (and each member) starts as without pre-training.
        keras.utils.set_random_seed(member_seed)
        with strategy_scope(strategy):  # Model, optimizer and metrics variables.
            if pretrain_texts is not None:
                model = TransformerClassifier.from_pretrained(
                    pretrained,
                    **classifier_arguments,
                    **_head_arguments(preset, model_arguments),
                )
            else:
                model = TransformerClassifier.from_preset(
                    preset, tokenizer=vocabulary, **classifier_arguments, **model_arguments
                )
        if ensemble_size == 1:
            return _fit_member(model, output_dir, seed=seed, keep_final=False, **settings)
        print(
            f"ensemble member {index + 1} of {ensemble_size} (seed {member_seed})", flush=True
        )
        member_dir = os.path.join(output_dir, f"member-{index}")
        members.append(
            _fit_member(model, member_dir, seed=member_seed, keep_final=True, **settings)
        )
    with strategy_scope(strategy):
        ensemble = ClassifierEnsemble(members)
        ensemble.compile()
    return ensemble


def _fit_member(
    model,
    output_dir,
    train,
    validation,
    epochs,
    batch_size,
    learning_rate,
    weight_decay,
    ema_momentum,
    patience,
    seed,
    verbose,
    jit_compile,
    callbacks,
    strategy,
    save_freq,
    keep_final,
):
    """Compiles and fits one classifier (`fit_classifier`'s arguments) under
    `output_dir`. With `keep_final` (ensemble members) its final weights are
    kept there (`final.weights.h5`), and a run started again loads them
    instead of training this member again."""
    import keras

    from transformer_keras.data.classification_batches import classification_batches
    from transformer_keras.training.callbacks import default_callbacks
    from transformer_keras.training.distribute import is_chief
    from transformer_keras.training.resumable_fit import fit_resumable

    steps_per_epoch = math.ceil(train.num_examples / batch_size)
    with strategy_scope(strategy):
        if not model.built:  # The training state is restored into a built model.
            model.build((None, None))
        model.compile(
            total_steps=epochs * steps_per_epoch,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            ema_momentum=ema_momentum,
            jit_compile=jit_compile,
        )
    final_weights = os.path.join(output_dir, "final.weights.h5")
    if keep_final and os.path.isfile(final_weights):
        print(f"trained weights found: {final_weights}", flush=True)
        model.load_weights(final_weights)
        return model
    validation_batches = (
        classification_batches(validation, model.preprocess, 256) if validation else None
    )
    monitor = "val_accuracy" if validation else "accuracy"
    fit_resumable(
        model,
        # A new dataset per call: a restarted run replays the same seeded order.
        lambda: classification_batches(
            train, model.preprocess, batch_size, shuffle=True, seed=seed
        ),
        epochs=epochs,
        backup_dir=os.path.join(output_dir, "backup"),
        steps_per_epoch=steps_per_epoch,
        save_freq=save_freq,
        validation_data=validation_batches,
        callbacks=[
            # First, so that validation, checkpoints and early stopping see the average.
            *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema_momentum else []),
            *default_callbacks(
                output_dir,
                monitor=monitor,
                mode="max",
                early_stopping_patience=patience,
                backup=False,  # fit_resumable keeps the training state.
            ),
            *callbacks,
        ],
        verbose=verbose,
        strategy=strategy,
    )
    if keep_final and is_chief(strategy):
        os.makedirs(output_dir, exist_ok=True)
        model.save_weights(final_weights)
    return model


def _text(text, label):
    return text


def _head_arguments(preset, overrides):
    """The classifier arguments a pretrained backbone does not fix: the preset's
    and the overrides' pooling, dropouts, token dropout and convolution."""
    from transformer_keras.models.classifier import TransformerClassifier

    arguments = TransformerClassifier.preset_config(preset, **overrides)
    keep = (
        "pooling",
        "dropout",
        "attention_dropout",
        "classifier_dropout",
        "token_dropout",
        "conv_kernel_size",
    )
    return {key: arguments[key] for key in keep if key in arguments}


def pretrain_encoder(
    train,
    texts,
    output_dir,
    preset="small",
    tokenizer="word",
    vocabulary_size=None,
    epochs=3,
    batch_size=128,
    learning_rate=1e-3,
    seed=0,
    verbose=2,
    strategy=None,
    **overrides,
):
    """Learns a tokenizer and pre-trains a `MaskedLanguageModel` on unlabelled text.

    Args:
        train: the labelled `TextClassificationData`; its texts are used too
            (not its labels).
        texts: further unlabelled texts, a list of strings (may be empty).
        output_dir: where the result is saved, as `masked_lm.keras`; when
            that file exists it is loaded instead of training again.
        preset, **overrides: the encoder (`MaskedLanguageModel.from_preset`);
            classifier-only arguments (`pooling`, ...) and the dropouts are
            ignored: pre-training uses the preset's dropout.
        tokenizer, vocabulary_size: as in `fit_classifier`.
        epochs, batch_size, learning_rate, seed: the training.
        verbose: `fit`'s verbosity.
        strategy: a `tf.distribute.Strategy` (None: default).

    Returns:
        The trained `MaskedLanguageModel`, with its tokenizer.
    """
    import keras

    from transformer_keras.data.masked_language_modeling import masked_lm_batches
    from transformer_keras.models.masked_language_model import MaskedLanguageModel
    from transformer_keras.text import train_tokenizer

    for name, value in (("pretrain-epochs", epochs), ("pretrain-batch-size", batch_size)):
        _check_positive(name, value)
    path = os.path.join(output_dir, "masked_lm.keras")
    if os.path.isfile(path):
        print(f"pre-trained encoder found: {path}", flush=True)
        with strategy_scope(strategy):
            return keras.saving.load_model(path)
    started = time.time()
    texts = list(dict.fromkeys([*train.texts_and_labels()[0], *texts]))
    vocabulary = train_tokenizer(tokenizer, texts, vocabulary_size)
    # The architecture follows the classifier's; the dropouts stay the preset's.
    encoder_keys = set(MaskedLanguageModel.config_keys) - {
        "tokenizer",
        "vocabulary_size",
        "dropout",
        "attention_dropout",
    }
    arguments = {key: value for key, value in overrides.items() if key in encoder_keys}
    with strategy_scope(strategy):
        model = MaskedLanguageModel.from_preset(preset, tokenizer=vocabulary, **arguments)
        steps_per_epoch = math.ceil(len(texts) / batch_size)
        model.compile(total_steps=epochs * steps_per_epoch, learning_rate=learning_rate)
    print(
        f"pre-training the encoder on {len(texts)} texts (masked language model, "
        f"{model.vocabulary_size} ids, {epochs} epochs)",
        flush=True,
    )
    batches = masked_lm_batches(texts, model.encode, model.mask, batch_size, seed=seed)
    model.fit(batches, epochs=epochs, verbose=verbose, shuffle=False)  # shuffled batches
    os.makedirs(output_dir, exist_ok=True)
    model.save(path)
    print(f"pre-training took {time.time() - started:.0f} s", flush=True)
    return model


def train_command(args):
    from transformer_keras.data.classification_batches import split_data
    from transformer_keras.data.masked_language_modeling import read_text_lines
    from transformer_keras.export.classifier import export_classifier

    started = time.time()
    _check_positive("vocabulary-size", args.vocabulary_size)
    _check_positive("max-length", args.max_length)
    strategy = start_training(args)  # Seeds; the tf.distribute strategy.
    check_global_batch_size(args.batch_size, strategy)
    train = load_labelled(args.train, args.text_column, args.label_column)
    if args.validation:
        validation = load_labelled(
            args.validation, args.text_column, args.label_column, train.label_names
        )
    else:
        train, validation = split_data(train, 0.1, seed=args.seed)
    print(
        f"{train.num_examples} training and {validation.num_examples} validation texts, "
        f"labels {list(train.label_names)}",
        flush=True,
    )
    model = fit_classifier(
        train,
        validation,
        output_dir=args.output.rstrip("/") + ".training",
        preset=args.preset,
        tokenizer=args.tokenizer,
        vocabulary_size=args.vocabulary_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        ema_momentum=args.ema,
        patience=args.patience,
        seed=args.seed,
        max_sequence_length=args.max_length,
        pooling=args.pooling,
        dropout=args.dropout,
        token_dropout=args.token_dropout,
        conv_kernel_size=args.conv_kernel_size,
        jit_compile=args.xla,
        strategy=strategy,
        save_freq=save_frequency(args),
        pretrain_texts=(
            read_text_lines(args.pretrain_text) if args.pretrain_text is not None else None
        ),
        pretrain_epochs=args.pretrain_epochs,
        pretrain_batch_size=args.pretrain_batch_size,
        pretrain_learning_rate=args.pretrain_learning_rate,
        ensemble_size=args.ensemble,
    )
    accuracy = _keras_accuracy(model, validation, strategy)
    with chief_writes(args.output, strategy) as target:  # Other workers: a temp copy.
        path = export_classifier(model, target)
    print(f"validation accuracy {accuracy:.4f}")
    print(f"exported {path} (and {path}.keras) in {time.time() - started:.0f} s")
    return 0


def _keras_accuracy(model, data, strategy=None):
    from transformer_keras.data.classification_batches import classification_batches
    from transformer_keras.training.distribute import multi_worker_fit

    batches = classification_batches(data, model.preprocess, 256)
    with multi_worker_fit(model, strategy, lambda: next(iter(batches))):
        _, accuracy = model.evaluate(batches, verbose=0)
    return accuracy


# --------------------------------------------------------------- inference
def load_classifier_signature(path):
    """The `serving_default` function of an exported classifier."""
    from transformer_keras.export.saved_model import load_saved_model

    loaded = load_saved_model(path)
    if "label_names" not in loaded.signatures:
        raise ValueError(
            f"'{path}' is not a classifier exported by `train classifier`. "
            f"Received: signatures={sorted(loaded.signatures)}"
        )
    return loaded.signatures["serving_default"], loaded.signatures["label_names"]


def predict_texts(serve, texts, batch_size=256):
    """Runs `serve` over `texts` in batches: `(labels, label_ids, probabilities)`."""
    import numpy as np
    import tensorflow as tf

    labels, ids, probabilities = [], [], []
    for start in range(0, len(texts), batch_size):
        outputs = serve(text=tf.constant(texts[start : start + batch_size], tf.string))
        labels += [label.decode("utf-8") for label in outputs["label"].numpy()]
        ids.append(outputs["label_id"].numpy())
        probabilities.append(outputs["probabilities"].numpy())
    if not texts:
        return [], np.zeros((0,), "int64"), np.zeros((0, 0), "float32")
    return labels, np.concatenate(ids), np.concatenate(probabilities)


def classify_command(args):
    texts = list(args.texts)
    if not texts:
        if sys.stdin.isatty():
            from transformer_keras.cli import UsageError

            raise UsageError("give texts to classify, or pipe one text per line on stdin")
        texts = [line.rstrip("\n") for line in sys.stdin]
    serve, _ = load_classifier_signature(args.model)
    labels, ids, probabilities = predict_texts(serve, texts)
    for text, label, label_id, row in zip(texts, labels, ids, probabilities):
        print(f"{label}\t{row[label_id]:.4f}\t{text}")
    return 0


def evaluate_command(args):
    serve, names = load_classifier_signature(args.model)
    label_names = [name.decode("utf-8") for name in names()["label_names"].numpy()]
    data = load_labelled(args.data, args.text_column, args.label_column, label_names)
    texts, labels = data.texts_and_labels()
    if not texts:
        raise ValueError(f"{args.data} has no examples. Received: data={args.data!r}")
    _, predicted, _ = predict_texts(serve, texts, args.batch_size)
    correct = int(sum(int(p) == t for p, t in zip(predicted, labels)))
    print(f"accuracy {correct / len(texts):.4f} ({correct}/{len(texts)}) on {args.data}")
    return 0


# -------------------------------------------------------------------- demo
def demo(args):
    """Trains the tiny classifier, exports, reloads the SavedModel, prints predictions."""
    from transformer_keras.data.classification_batches import split_data
    from transformer_keras.data.generated_sentiment import generated_sentiment_data
    from transformer_keras.export.classifier import export_classifier

    started = time.time()
    if args.data:
        train, validation = split_data(load_labelled(args.data), 0.1, seed=0)
        # A bounded demo on big files: the first examples of the shuffled split.
        train = train.take(DEMO_MAX_EXAMPLES)
        validation = validation.take(DEMO_MAX_EXAMPLES // 10)
        texts = None
        print(f"data: {args.data} ({train.num_examples} training texts)")
    else:
        train, validation = (
            generated_sentiment_data(4000, seed=0),
            generated_sentiment_data(400, seed=1),
        )
        texts = list(DEMO_TEXTS)
        print("data: generated review sentences (negation and 'but' decide the label)")
    path = os.path.join(args.output_dir, "classifier-demo")
    model = fit_classifier(
        train,
        validation,
        output_dir=path + ".training",
        preset="tiny",
        vocabulary_size=2000,
        epochs=6,
        batch_size=32,
        learning_rate=3e-3,
        patience=None,
        verbose=2,
    )
    export_classifier(model, path)
    serve, _ = load_classifier_signature(path)
    if texts is None:
        texts = validation.texts_and_labels()[0][:4]
    labels, ids, probabilities = predict_texts(serve, texts)
    print(f"reloaded {path} with tf.saved_model.load:")
    for text, label, label_id, row in zip(texts, labels, ids, probabilities):
        print(f"  {label:>10} {row[label_id]:.3f}  {text[:70]}")
    print(f"classifier demo took {time.time() - started:.0f} s")
