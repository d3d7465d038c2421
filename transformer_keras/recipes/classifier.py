"""The classifier recipe: labelled texts in, a text-in, label-out SavedModel out.

    from transformer_keras.data.classification import load_delimited_file
    from transformer_keras.recipes import ClassifierRecipe, train_classifier

    train = load_delimited_file("train.tsv")
    result = train_classifier(train, None, "saved_models/sentiment")
    result.model.classify(["a fine film"])

The defaults are the recipe behind the README's SST-2 figure: a word
vocabulary of 16,000, the `small` preset (2 layers, width 128) reading at
most 64 tokens, with an n-gram convolution of width 5 before the encoder;
AdamW at 1e-3 with warmup and cosine decay, batches of 64, 4 epochs with
early stopping (patience 2) on validation accuracy and the best epoch kept;
5 such classifiers (seeds `5 * seed` ... `5 * seed + 4`) averaged into one
model (`ClassifierEnsemble`). `ensemble=1` trains one. With `pretrain`
texts the encoder is first pre-trained as a masked language model on them
and the training texts (`recipes/masked_lm.py`), and saved as
`OUTPUT.training/pretrained/masked_lm.keras`.

Each member trains through the one fit pipeline (`recipes/pipeline.py`) in
`OUTPUT.training/member-I` (or `OUTPUT.training` for one classifier), so a
killed run resumes inside the member it was training and keeps the members
already trained.
"""

import dataclasses
import math
import os

from transformer_keras.recipes.masked_lm import (
    MaskedLMRecipe,
    pretrain_encoder,
    save_keras_file,
)
from transformer_keras.recipes.pipeline import (
    FitPlan,
    RunOptions,
    TrainingResult,
    check_global_batch_size,
    export_run,
    finish_run,
    fit_plan,
    start_run,
    strategy_scope,
    training_dir,
)
from transformer_keras.utils.validation import check_positive_int

# Arguments of the model a recipe may override (None: the preset's).
MODEL_OVERRIDES = ("max_sequence_length", "pooling", "dropout", "token_dropout")


@dataclasses.dataclass(frozen=True)
class ClassifierRecipe:
    """The classifier's training recipe; every field has the default behind the README.

    Attributes:
        preset: a `TransformerClassifier` preset.
        tokenizer: a kind of `transformer_keras.text.train_tokenizer`.
        vocabulary_size: the tokenizer's size (`None`: the kind's default).
        max_length: tokens read per text (`None`: the preset's).
        pooling, dropout, token_dropout: the model's (`None`: the preset's).
        conv_kernel_size: width of the n-gram convolution (0: none).
        epochs, batch_size, learning_rate, weight_decay: the training.
        ema_momentum: average the weights (e.g. 0.999; `None`: off).
        patience: early-stopping patience in epochs (`None`: never stop).
        ensemble: classifiers trained and averaged.
        jit_compile: XLA-compile the training step (worth it on GPUs).
        pretrain: a `MaskedLMRecipe` for the pre-training, used when texts
            are given to pre-train on.
        model_overrides: more constructor arguments of the model's preset
            (`{"num_heads": 4}`), applied last.
        pretrained: a BERT checkpoint in the Hugging Face layout (a folder or
            `hf://name`) to fine-tune instead of training from scratch: its
            architecture and WordPiece tokenizer replace `preset`,
            `tokenizer`, `vocabulary_size`, `pooling`, `dropout` and
            `conv_kernel_size`; `max_length` cuts its positions.
            `PRETRAINED_DEFAULTS` are the fine-tuning settings the command
            line starts from.
    """

    preset: str = "small"
    tokenizer: str = "word"
    vocabulary_size: int | None = 16000
    max_length: int | None = 64
    pooling: str | None = None
    dropout: float | None = None
    token_dropout: float | None = None
    conv_kernel_size: int = 5
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    ema_momentum: float | None = None
    patience: int | None = 2
    ensemble: int = 5
    jit_compile: bool = False
    pretrain: MaskedLMRecipe = MaskedLMRecipe()
    model_overrides: dict = dataclasses.field(default_factory=dict)
    pretrained: str | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "ensemble"):
            check_positive_int(name, getattr(self, name))
        for name in ("vocabulary_size", "max_length", "patience"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))

    def model_arguments(self):
        """`TransformerClassifier.from_preset` overrides (those that are set)."""
        values = {
            "max_sequence_length": self.max_length,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "token_dropout": self.token_dropout,
            "conv_kernel_size": self.conv_kernel_size,
        }
        values = {key: value for key, value in values.items() if value is not None}
        return {**values, **self.model_overrides}


# Fine-tuning a checkpoint (`pretrained`): one model, BERT's learning rate.
PRETRAINED_DEFAULTS = dict(ensemble=1, learning_rate=5e-5)


def train_classifier(train, validation, output, recipe=None, options=None, pretrain=None):
    """Learns a tokenizer, trains the recipe's classifier(s) and exports the SavedModel.

    Args:
        train: a `TextClassificationData` (`transformer_keras.data.classification`).
        validation: another, or `None` to hold out 10% of `train` (with the seed).
        output: the SavedModel folder; its `.keras` file goes beside it and the
            run's checkpoints, logs and state in `output + ".training"`.
        recipe: a `ClassifierRecipe` (default: `ClassifierRecipe()`).
        options: a `RunOptions` (seed, devices, saving; default: `RunOptions()`).
        pretrain: unlabelled texts (a list of strings) to pre-train the
            encoder on before fine-tuning, or `None`.

    Returns:
        A `TrainingResult`; `metrics` holds the validation `accuracy`.
    """
    from transformer_keras.data.classification_batches import split_data
    from transformer_keras.export.classifier import export_classifier
    from transformer_keras.models.classifier import ClassifierEnsemble
    from transformer_keras.text import train_tokenizer

    recipe = ClassifierRecipe() if recipe is None else recipe
    options = RunOptions() if options is None else options
    if recipe.pretrained is not None and pretrain is not None:
        raise ValueError(
            "Fine-tune a checkpoint or pre-train on texts, not both. "
            f"Received: pretrained={recipe.pretrained!r}, pretrain={len(pretrain)} texts"
        )
    strategy = start_run(options)
    check_global_batch_size("batch_size", recipe.batch_size, strategy)
    if validation is None:
        train, validation = split_data(train, 0.1, seed=options.seed)
    print(
        f"{train.num_examples} training and {validation.num_examples} validation texts, "
        f"labels {list(train.label_names)}",
        flush=True,
    )
    run_dir = training_dir(output)
    pretrained, pretrain_dir = None, os.path.join(run_dir, "pretrained")
    if pretrain is not None:
        texts = [*train.texts_and_labels()[0], *pretrain]
        pretrained = pretrain_encoder(
            texts,
            pretrain_dir,
            _encoder_recipe(recipe),
            options,
            strategy,
            model_arguments=recipe.model_arguments(),
        )
        # Kept beside the run: `TransformerClassifier.from_pretrained` takes it.
        export_run(
            pretrained, save_keras_file, os.path.join(pretrain_dir, "masked_lm"), strategy
        )
        tokenizer = pretrained.tokenizer
    elif recipe.pretrained is not None:
        pretrained, tokenizer = recipe.pretrained, None  # the checkpoint's
    else:
        tokenizer = train_tokenizer(
            recipe.tokenizer,
            train.dataset.map(lambda text, label: text),
            recipe.vocabulary_size,
        )
    member_dirs = (
        [run_dir]
        if recipe.ensemble == 1
        else [os.path.join(run_dir, f"member-{i}") for i in range(recipe.ensemble)]
    )
    members = []
    for index, member_dir in enumerate(member_dirs):
        seed = options.seed * recipe.ensemble + index  # options.seed itself for one
        if recipe.ensemble > 1:
            print(f"ensemble member {index + 1} of {recipe.ensemble} (seed {seed})", flush=True)
        plan = classifier_plan(train, validation, recipe, tokenizer, seed, pretrained)
        members.append(fit_plan(plan, member_dir, options, strategy, seed=seed))
    if len(members) == 1:
        model = members[0]
    else:
        with strategy_scope(strategy):
            model = ClassifierEnsemble(members)
            model.compile()
    metrics = {"accuracy": evaluate_accuracy(model, validation, strategy)}
    path = export_run(model, export_classifier, output, strategy)
    finish_run(*member_dirs, pretrain_dir, strategy=strategy)
    return TrainingResult(model, path, metrics)


def _encoder_recipe(recipe):
    """The pre-training recipe with the classifier's preset, tokenizer and vocabulary."""
    return dataclasses.replace(
        recipe.pretrain,
        preset=recipe.preset,
        tokenizer=recipe.tokenizer,
        vocabulary_size=recipe.vocabulary_size,
    )


def classifier_plan(train, validation, recipe, tokenizer, seed, pretrained=None):
    """The `FitPlan` of one classifier of the recipe, its batches shuffled with `seed`."""
    import keras

    from transformer_keras.data.classification_batches import classification_batches
    from transformer_keras.models.classifier import TransformerClassifier

    steps_per_epoch = math.ceil(train.num_examples / recipe.batch_size)
    labels = dict(num_classes=len(train.label_names), label_names=list(train.label_names))

    def build_model():
        if isinstance(pretrained, str):  # a Hugging Face checkpoint
            model = TransformerClassifier.from_pretrained(
                pretrained,
                **labels,
                max_sequence_length=recipe.max_length,
                token_dropout=recipe.token_dropout or 0.0,
            )
        elif pretrained is not None:
            head = TransformerClassifier.preset_config(
                recipe.preset, **recipe.model_arguments()
            )
            keep = ("pooling", "dropout", "attention_dropout", "classifier_dropout")
            keep += ("token_dropout", "conv_kernel_size")
            model = TransformerClassifier.from_pretrained(
                pretrained, **labels, **{key: head[key] for key in keep if key in head}
            )
        else:
            model = TransformerClassifier.from_preset(
                recipe.preset, tokenizer=tokenizer, **labels, **recipe.model_arguments()
            )
        if not model.built:  # The training state is restored into a built model.
            model.build((None, None))
        model.compile(
            total_steps=recipe.epochs * steps_per_epoch,
            learning_rate=recipe.learning_rate,
            weight_decay=recipe.weight_decay,
            ema_momentum=recipe.ema_momentum,
            jit_compile=recipe.jit_compile,
        )
        return model

    def callbacks(model, chief):
        # First, so that validation, checkpoints and early stopping see the average.
        return (
            [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema_momentum else []
        )

    return FitPlan(
        build_model=build_model,
        # A new dataset per call: a restarted run replays the same seeded order.
        make_batches=lambda model: classification_batches(
            train, model.preprocess, recipe.batch_size, shuffle=True, seed=seed
        ),
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=lambda model: classification_batches(validation, model.preprocess, 256),
        monitor="val_accuracy",
        mode="max",
        patience=recipe.patience,
        callbacks=callbacks,
    )


def evaluate_accuracy(model, data, strategy=None):
    """Accuracy of a Keras classifier (or ensemble) on a `TextClassificationData`."""
    from transformer_keras.data.classification_batches import classification_batches
    from transformer_keras.training.distribute import multi_worker_fit

    batches = classification_batches(data, model.preprocess, 256)
    with multi_worker_fit(model, strategy, lambda: next(iter(batches))):
        _, accuracy = model.evaluate(batches, verbose=0)
    return float(accuracy)
