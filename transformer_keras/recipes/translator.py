"""The translator recipe: sentence pairs in, a text-in, translation-out SavedModel out.

    from transformer_keras.data.translation import read_lines
    from transformer_keras.recipes import TranslatorRecipe, train_translator

    train = (read_lines("train.de"), read_lines("train.en"))
    validation = (read_lines("val.de"), read_lines("val.en"))
    result = train_translator(train, validation, "saved_models/de-en")
    result.model.translate(["Ein Hund läuft."])

The defaults are the recipe behind the README's Multi30k figure: a joint
SentencePiece vocabulary of 8,000 pieces, the `small` preset (3 + 3 pre-LN
layers, width 256, 8 heads), sentences of at most 64 tokens in length-bucketed
batches of about 2,048 tokens, label smoothing 0.1, Adam (0.9, 0.98, 1e-9)
on the paper's schedule warmed up over 400 steps and scaled by 0.35 (for a
small corpus), 12 epochs, sacreBLEU of beam search (4 beams, length penalty
0.6) on the validation sentences after every epoch, and the best epoch by
BLEU kept.
"""

import dataclasses

from transformer_keras.recipes.pipeline import (
    FitPlan,
    RunOptions,
    TrainingResult,
    export_run,
    finish_run,
    fit_plan,
    start_run,
    training_dir,
)
from transformer_keras.utils.validation import check_positive_int


@dataclasses.dataclass(frozen=True)
class TranslatorRecipe:
    """The translator's training recipe; the defaults are behind the README.

    Attributes:
        preset: a `Transformer` preset.
        tokenizer, vocabulary_size: the joint vocabulary learned on both sides.
        max_length: tokens kept per sentence (the model reads `max_length + 1`).
        num_layers, hidden_dim, normalize_first: the model's (`None`: the
            preset's); `num_layers` for both stacks, `intermediate_dim`
            follows as `2 * hidden_dim`.
        epochs, token_budget: epochs and tokens per batch.
        warmup_steps, learning_rate_scale: the paper's schedule.
        beam_size, alpha, bleu_every: the validation BLEU (beam search).
        jit_compile: XLA-compile the training step (`"auto"`: where Keras can).
        model_overrides: more constructor arguments of the model's preset
            (`{"num_heads": 4}`), applied last.
        pretrained: a Marian (opus-mt) checkpoint in the Hugging Face layout
            (a folder or `hf://name`) to fine-tune instead of training from
            scratch: its architecture and SentencePiece tokenizers replace
            `preset`, `tokenizer`, `vocabulary_size`, `num_layers`,
            `hidden_dim` and `normalize_first`. `PRETRAINED_DEFAULTS` are the
            fine-tuning settings the command line starts from.
    """

    preset: str = "small"
    tokenizer: str = "subword"
    vocabulary_size: int | None = 8000
    max_length: int = 64
    num_layers: int | None = None
    hidden_dim: int | None = None
    normalize_first: bool | None = None
    epochs: int = 12
    token_budget: int = 2048
    warmup_steps: int = 400
    learning_rate_scale: float = 0.35
    beam_size: int = 4
    alpha: float = 0.6
    bleu_every: int = 1
    jit_compile: object = "auto"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    pretrained: str | None = None

    def __post_init__(self):
        for name in ("max_length", "epochs", "token_budget", "warmup_steps", "bleu_every"):
            check_positive_int(name, getattr(self, name))
        for name in ("vocabulary_size", "num_layers", "hidden_dim"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))

    def model_arguments(self):
        values = {
            "max_sequence_length": self.max_length + 1,
            "num_encoder_layers": self.num_layers,
            "num_decoder_layers": self.num_layers,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.hidden_dim and 2 * self.hidden_dim,
            "normalize_first": self.normalize_first,
        }
        values = {key: value for key, value in values.items() if value is not None}
        return {**values, **self.model_overrides}


# Fine-tuning a checkpoint (`pretrained`): the paper's schedule peaking near
# 5e-5 for opus-mt's width (512), a few epochs.
PRETRAINED_DEFAULTS = dict(learning_rate_scale=0.025, epochs=3)


def translator_plan(train, validation, recipe, tokenizer, seed, target_tokenizer=None):
    """The `FitPlan` of the recipe's `Transformer` on `(sources, targets)` lists.

    `tokenizer` reads the sources, and the targets too unless a
    `target_tokenizer` is given (a pretrained checkpoint's two vocabularies).
    """
    from transformer_keras.data.translation import pairs_dataset, translation_batches
    from transformer_keras.models.seq2seq import Transformer
    from transformer_keras.training.callbacks import BleuCallback

    target_tokenizer = target_tokenizer or tokenizer

    def build_model():
        if recipe.pretrained is None:
            model = Transformer.from_preset(
                recipe.preset, source_tokenizer=tokenizer, **recipe.model_arguments()
            )
        else:
            model = Transformer.from_pretrained(recipe.pretrained)
        model.build()  # The training state is restored into a built model.
        model.compile(
            warmup_steps=recipe.warmup_steps,
            learning_rate_scale=recipe.learning_rate_scale,
            jit_compile=recipe.jit_compile,
        )
        return model

    def callbacks(model, chief):
        if not validation or not validation[0]:
            return []

        def translate(sources):
            return model.translate_all(sources, recipe.beam_size, recipe.alpha)

        # Every worker computes BLEU: early stopping and checkpoints need it.
        return [BleuCallback(translate, *validation, every_n_epochs=recipe.bleu_every)]

    has_validation = bool(validation and validation[0])
    return FitPlan(
        build_model=build_model,
        # A new dataset per call: a restarted run replays the same seeded order.
        make_batches=lambda model: translation_batches(
            pairs_dataset(*train),
            tokenizer,
            target_tokenizer,
            recipe.max_length,
            recipe.token_budget,
            True,
            seed,
        ),
        epochs=recipe.epochs,
        # The batches have no known count: fit_resumable counts them once.
        validation_data=None,
        monitor="val_bleu" if has_validation else "loss",
        mode="max" if has_validation else "min",
        callbacks=callbacks,
    )


def train_translator(train, validation, output, recipe=None, options=None):
    """Learns a joint vocabulary, trains the recipe's `Transformer` and exports it.

    Args:
        train: `(sources, targets)`, two lists of sentences.
        validation: the same, or `None` to hold out 10% of `train`
            (`data.translation.split_of` on the target side).
        output: the SavedModel folder; its `.keras` file goes beside it and the
            run's checkpoints, logs and state in `output + ".training"`.
        recipe: a `TranslatorRecipe` (default: `TranslatorRecipe()`).
        options: a `RunOptions` (default: `RunOptions()`).

    Returns:
        A `TrainingResult`; `metrics` holds the validation `bleu` and `chrf`
        of the best weights when there are validation pairs.
    """
    from transformer_keras.export.translator import export_translator
    from transformer_keras.models.seq2seq import Transformer
    from transformer_keras.text import train_tokenizer
    from transformer_keras.training.bleu import corpus_scores

    if not train[0]:
        raise ValueError("The training data has no sentence pairs. Received: 0 pairs")
    recipe = TranslatorRecipe() if recipe is None else recipe
    options = RunOptions() if options is None else options
    strategy = start_run(options)
    if validation is None:
        train, validation = hold_out(*train)
    print(f"{len(train[0])} training and {len(validation[0])} validation pairs", flush=True)
    if recipe.pretrained is None:
        tokenizer = train_tokenizer(
            recipe.tokenizer, train[0] + train[1], recipe.vocabulary_size
        )
        target_tokenizer = tokenizer
    else:
        checkpoint = Transformer.from_pretrained(recipe.pretrained)
        tokenizer, target_tokenizer = checkpoint.source_tokenizer, checkpoint.target_tokenizer
    run_dir = training_dir(output)
    plan = translator_plan(train, validation, recipe, tokenizer, options.seed, target_tokenizer)
    model = fit_plan(plan, run_dir, options, strategy)
    metrics = {}
    if validation[0]:
        hypotheses = model.translate_all(validation[0], recipe.beam_size, recipe.alpha)
        metrics = corpus_scores(hypotheses, validation[1])
    path = export_run(model, export_translator, output, strategy)
    finish_run(run_dir, strategy=strategy)
    return TrainingResult(model, path, metrics)


def hold_out(sources, targets, fraction=0.1):
    """Splits pairs with `data.translation.split_of` on the target: `(train, validation)`."""
    from transformer_keras.data.translation import split_of

    train, validation = ([], []), ([], [])
    for source, target in zip(sources, targets):
        side = validation if split_of(target, fraction) == "validation" else train
        side[0].append(source)
        side[1].append(target)
    return train, validation
