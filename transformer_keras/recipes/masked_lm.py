"""The masked-language-model recipe: BERT-style pre-training of an encoder on unlabelled text.

    from transformer_keras.recipes import MaskedLMRecipe, train_masked_lm

    result = train_masked_lm(texts, "saved_models/encoder")   # saved_models/encoder.keras
    classifier = TransformerClassifier.from_pretrained(result.model, num_classes=2)

It learns a tokenizer on the texts, builds a `MaskedLanguageModel` of a
classifier preset (so the encoder fits the classifier of the same preset) and
trains it through the one fit pipeline (`recipes/pipeline.py`) on batches
masked afresh every epoch (15% of the tokens, BERT's 80/10/10 rule). The
classifier recipe calls `pretrain_encoder` with `pretrain` texts.
"""

import dataclasses
import math

from transformer_keras.recipes.pipeline import (
    FitPlan,
    RunOptions,
    TrainingResult,
    check_global_batch_size,
    export_run,
    finish_run,
    fit_plan,
    start_run,
    training_dir,
)
from transformer_keras.utils.validation import check_positive_int


@dataclasses.dataclass(frozen=True)
class MaskedLMRecipe:
    """The pre-training recipe.

    Attributes:
        preset: a `MaskedLanguageModel` preset (the classifier's presets).
        tokenizer, vocabulary_size: the tokenizer learned on the texts.
        epochs, batch_size, learning_rate: the training.
    """

    preset: str = "small"
    tokenizer: str = "word"
    vocabulary_size: int | None = 16000
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))


def masked_lm_plan(texts, recipe, tokenizer, seed, model_arguments=None):
    """The `FitPlan` of the pre-training on `texts` (a list of strings)."""
    from transformer_keras.data.masked_language_modeling import masked_lm_batches
    from transformer_keras.models.masked_language_model import MaskedLanguageModel

    steps_per_epoch = math.ceil(len(texts) / recipe.batch_size)
    # The architecture follows the classifier's; the dropouts stay the preset's.
    keys = {*MaskedLanguageModel.config_keys, *MaskedLanguageModel.preset_argument_names()} - {
        "tokenizer",
        "vocabulary_size",
        "dropout",
        "attention_dropout",
    }
    arguments = {k: v for k, v in (model_arguments or {}).items() if k in keys}

    def build_model():
        model = MaskedLanguageModel.from_preset(recipe.preset, tokenizer=tokenizer, **arguments)
        model.compile(
            total_steps=recipe.epochs * steps_per_epoch, learning_rate=recipe.learning_rate
        )
        model.build(
            {"token_ids": (None, None), "mask_positions": (None, None)}
        )  # The training state is restored into a built model.
        return model

    return FitPlan(
        build_model=build_model,
        make_batches=lambda model: masked_lm_batches(
            texts, model.encode, model.mask, recipe.batch_size, seed=seed
        ),
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        monitor="loss",
    )


def pretrain_encoder(texts, run_dir, recipe, options, strategy=None, model_arguments=None):
    """Learns a tokenizer on `texts` and pre-trains a `MaskedLanguageModel` on them.

    Args:
        texts: unlabelled texts, a list of strings (duplicates are dropped).
        run_dir: the folder of the run's checkpoints, logs and state.
        recipe: a `MaskedLMRecipe` (default: `MaskedLMRecipe()`).
        options: a `RunOptions` (default: `RunOptions()`).
        strategy: from `start_run`.
        model_arguments: the classifier's model overrides; those of the
            encoder's architecture apply.

    Returns:
        The trained `MaskedLanguageModel`, with its tokenizer.
    """
    from transformer_keras.text import train_tokenizer

    check_global_batch_size("batch_size", recipe.batch_size, strategy)
    texts = list(dict.fromkeys(texts))
    tokenizer = train_tokenizer(recipe.tokenizer, texts, recipe.vocabulary_size)
    print(
        f"pre-training the encoder on {len(texts)} texts (masked language model, "
        f"{recipe.epochs} epochs)",
        flush=True,
    )
    plan = masked_lm_plan(texts, recipe, tokenizer, options.seed, model_arguments)
    return fit_plan(plan, run_dir, options, strategy)


def train_masked_lm(texts, output, recipe=None, options=None):
    """Pre-trains an encoder on `texts` and saves it as `output + ".keras"`.

    Args:
        texts: unlabelled texts, a list of strings.
        output: the model's path without the `.keras` suffix; the run's
            checkpoints, logs and state go in `output + ".training"`.
        recipe: a `MaskedLMRecipe` (default: `MaskedLMRecipe()`).
        options: a `RunOptions` (default: `RunOptions()`).

    Returns:
        A `TrainingResult` whose `path` is the `.keras` file and whose
        `metrics` hold the final training `loss` and `accuracy`.
    """
    from transformer_keras.export.saved_model import keras_file_path

    recipe = MaskedLMRecipe() if recipe is None else recipe
    options = RunOptions() if options is None else options
    strategy = start_run(options)
    run_dir = training_dir(output)
    model = pretrain_encoder(texts, run_dir, recipe, options, strategy)
    export_run(model, save_keras_file, output, strategy)
    finish_run(run_dir, strategy=strategy)
    return TrainingResult(model, keras_file_path(output), {})


def save_keras_file(model, path):
    """Saves `model` atomically as `path + ".keras"`."""
    from transformer_keras.export.saved_model import keras_file_path
    from transformer_keras.utils.atomic import atomic_file

    with atomic_file(keras_file_path(path)) as staging:
        model.save(staging)
