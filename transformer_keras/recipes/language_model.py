"""The language-model recipe: text in, a SavedModel that continues and scores text out.

    from transformer_keras.recipes import LanguageModelRecipe, train_language_model

    texts = [open("input.txt").read()]
    result = train_language_model(texts, None, "saved_models/shakespeare")
    result.model.generate("ROMEO:", max_new_tokens=100)

The defaults are nanoGPT's Shakespeare-char recipe for a CPU, the one behind
the README's figure: a character vocabulary, the `nanogpt-cpu` preset (4
layers, 4 heads, width 128, context 64, no dropout, no biases), 2000 steps on
batches of 12 windows drawn at random offsets, AdamW (betas 0.9/0.99, weight
decay 0.1, gradient norm clipped at 1) with 5% warmup to 1e-3 and cosine
decay to 1e-4, XLA-compiled steps. Without validation texts the last 10% of
the text validates. Steps are grouped into epochs of at most
`MAX_STEPS_PER_EPOCH`, each ending with a validation pass and a sample.
"""

import dataclasses
import functools
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

MAX_STEPS_PER_EPOCH = 250  # with max_steps, an "epoch" ends with a validation pass


@dataclasses.dataclass(frozen=True)
class LanguageModelRecipe:
    """The language model's training recipe; the defaults are behind the README.

    Attributes:
        preset: a `TransformerLM` preset.
        tokenizer, vocabulary_size: the tokenizer learned on the texts.
        context: the context length in tokens (`None`: the preset's).
        position, dropout: the model's (`None`: the preset's).
        max_steps: steps on windows at random offsets (nanoGPT style), or
        epochs: passes over all contiguous windows instead (`max_steps` then
            must be `None`).
        batch_size, learning_rate: the training (the peak rate).
        sample_prompt: the prompt of the sample printed after each epoch
            (`None`: no sample).
        jit_compile: XLA-compile the training step.
        export_dtype: the exported weights' dtype (`"bfloat16"` halves them).
        export_jit_compile: compile the exported generation loop with XLA
            (`export_language_model`; `False` for TensorFlow Serving without
            its XLA flag).
        model_overrides: more constructor arguments of the model's preset
            (`{"num_heads": 4}`), applied last.
        pretrained: a GPT-2 checkpoint in the Hugging Face layout (a folder
            or `hf://name`) to fine-tune instead of training from scratch: its
            architecture and byte-level BPE replace `preset`, `tokenizer`,
            `vocabulary_size`, `position` and `dropout`; `context` (at most
            the checkpoint's positions; all of them when `None`) is the
            window length. `PRETRAINED_DEFAULTS` are the fine-tuning settings
            the command line starts from.
    """

    preset: str = "nanogpt-cpu"
    tokenizer: str = "char"
    vocabulary_size: int | None = None
    context: int | None = None
    position: str | None = None
    dropout: float | None = None
    max_steps: int | None = 2000
    epochs: int | None = None
    batch_size: int = 12
    learning_rate: float = 1e-3
    sample_prompt: str | None = ""
    jit_compile: bool = True
    export_dtype: str = "float32"
    export_jit_compile: bool = True
    model_overrides: dict = dataclasses.field(default_factory=dict)
    pretrained: str | None = None

    def __post_init__(self):
        check_positive_int("batch_size", self.batch_size)
        for name in ("vocabulary_size", "context", "max_steps", "epochs"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        if (self.max_steps is None) == (self.epochs is None):
            raise ValueError(
                "Give either `max_steps` or `epochs`. "
                f"Received: max_steps={self.max_steps}, epochs={self.epochs}"
            )

    def model_arguments(self):
        values = {
            "max_sequence_length": self.context,
            "position": self.position,
            "dropout": self.dropout,
        }
        values = {key: value for key, value in values.items() if value is not None}
        return {**values, **self.model_overrides}

    def budget(self, num_train_ids, context):
        """`(steps_per_epoch, epochs, random_offsets)` for the fit.

        `max_steps` draws random windows for about `max_steps` steps, cut into
        equal epochs of at most `MAX_STEPS_PER_EPOCH`; `epochs` passes over all
        contiguous windows.
        """
        from transformer_keras.data.language_modeling import num_windows

        if self.epochs is not None:
            windows = num_windows(num_train_ids, context)
            return math.ceil(windows / self.batch_size), self.epochs, False
        epochs = math.ceil(self.max_steps / MAX_STEPS_PER_EPOCH)
        return math.ceil(self.max_steps / epochs), epochs, True


# Fine-tuning a checkpoint (`pretrained`): GPT-2's usual rate, a few hundred steps.
PRETRAINED_DEFAULTS = dict(learning_rate=5e-5, max_steps=500)


def language_model_ids(texts, tokenizer, validation_texts=None, validation_fraction=0.1):
    """Train and validation id streams: the given validation texts, or the last 10%."""
    from transformer_keras.data.language_modeling import encode_texts, split_ids

    ids = encode_texts(texts, tokenizer)
    if validation_texts:
        return ids, encode_texts(validation_texts, tokenizer)
    return split_ids(ids, validation_fraction)


def language_model_plan(train_ids, validation_ids, recipe, tokenizer, seed, context=None):
    """The `FitPlan` of the recipe's `TransformerLM` on two id streams.

    `context` is the window length of a `pretrained` recipe (the preset's
    otherwise).
    """
    from transformer_keras.data.language_modeling import window_dataset
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.training.callbacks import TextSampleCallback

    if context is None:
        preset = TransformerLM.preset_config(recipe.preset, **recipe.model_arguments())
        context = preset["max_sequence_length"]
    if len(train_ids) < context + 1:
        raise ValueError(
            f"The training text has {len(train_ids)} tokens; it needs more than the "
            f"context ({context}). Received: train_tokens={len(train_ids)}"
        )
    steps_per_epoch, epochs, random_offsets = recipe.budget(len(train_ids), context)

    def build_model():
        if recipe.pretrained is None:
            model = TransformerLM.from_preset(
                recipe.preset, tokenizer=tokenizer, **recipe.model_arguments()
            )
        else:
            model = TransformerLM.from_pretrained(recipe.pretrained)
        model.build()  # The training state is restored into a built model.
        model.compile(
            total_steps=steps_per_epoch * epochs,
            learning_rate=recipe.learning_rate,
            jit_compile=recipe.jit_compile,
        )
        return model

    def validation_data(model):
        if len(validation_ids) <= 1:
            return None
        length = min(context, len(validation_ids) - 1)
        return window_dataset(validation_ids, length, batch_size=64)

    def callbacks(model, chief):
        if recipe.sample_prompt is None or not chief:
            return []
        prompt = recipe.sample_prompt
        return [
            TextSampleCallback(
                lambda: repr(prompt + model.generate(prompt, 80, temperature=0.8, seed=0))
            )
        ]

    return FitPlan(
        build_model=build_model,
        # A new dataset per call: a restarted run replays the same seeded windows.
        make_batches=lambda model: window_dataset(
            train_ids,
            context,
            recipe.batch_size,
            shuffle=True,
            random_offsets=random_offsets,
            seed=seed,
        ),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        monitor="val_loss",
        callbacks=callbacks,
    )


def train_language_model(texts, validation_texts, output, recipe=None, options=None):
    """Learns a tokenizer, trains the recipe's `TransformerLM` and exports the SavedModel.

    Args:
        texts: training texts, a list of strings (whole documents).
        validation_texts: validation texts, or `None` for the last 10% of `texts`.
        output: the SavedModel folder; its `.keras` file goes beside it and the
            run's checkpoints, logs and state in `output + ".training"`.
        recipe: a `LanguageModelRecipe` (default: `LanguageModelRecipe()`).
        options: a `RunOptions` (default: `RunOptions()`).

    Returns:
        A `TrainingResult`; `metrics` holds the validation `loss` (nats per
        token) and `perplexity` when there is validation text.
    """
    from transformer_keras.export.language_model import export_language_model
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import train_tokenizer

    recipe = LanguageModelRecipe() if recipe is None else recipe
    options = RunOptions() if options is None else options
    strategy = start_run(options)
    check_global_batch_size("batch_size", recipe.batch_size, strategy)
    context = None
    if recipe.pretrained is None:
        tokenizer = train_tokenizer(recipe.tokenizer, texts, recipe.vocabulary_size)
        kind = recipe.tokenizer
    else:
        checkpoint = TransformerLM.from_pretrained(recipe.pretrained)
        tokenizer, kind = checkpoint.tokenizer, "the checkpoint's"
        context = recipe.context or checkpoint.max_sequence_length
        if context > checkpoint.max_sequence_length:
            raise ValueError(
                f"`context` must be at most the checkpoint's "
                f"{checkpoint.max_sequence_length} positions. Received: context={context}"
            )
    train_ids, validation_ids = language_model_ids(texts, tokenizer, validation_texts)
    print(
        f"{len(train_ids)} training and {len(validation_ids)} validation tokens, "
        f"{kind} tokenizer with {tokenizer.vocabulary_size} ids",
        flush=True,
    )
    run_dir = training_dir(output)
    plan = language_model_plan(
        train_ids, validation_ids, recipe, tokenizer, options.seed, context
    )
    model = fit_plan(plan, run_dir, options, strategy)
    metrics = {}
    if len(validation_ids) > 1:
        loss, _ = evaluate_ids(model, validation_ids)
        metrics = {"loss": loss, "perplexity": math.exp(loss)}
    if recipe.export_dtype != "float32":
        model = model.with_dtype(recipe.export_dtype)
    export = functools.partial(export_language_model, jit_compile=recipe.export_jit_compile)
    path = export_run(model, export, output, strategy)
    finish_run(run_dir, strategy=strategy)
    return TrainingResult(model, path, metrics)


def evaluate_ids(model, ids, batch_size=64):
    """Mean loss (nats per token) of `model` on an id stream, and the token count.

    Contiguous windows of the model's context (shorter for a short stream);
    every id after the first is predicted once: the stream is padded to whole
    windows and padding targets do not count.

    Returns:
        `(loss, tokens)`.
    """
    import numpy as np

    from transformer_keras.data.language_modeling import window_dataset
    from transformer_keras.optimization import Perplexity

    context = min(model.max_sequence_length, len(ids) - 1)
    if context < 1:
        raise ValueError(
            f"The text needs at least 2 tokens to evaluate. Received: tokens={len(ids)}"
        )
    padding = -(len(ids) - 1) % context  # whole windows of context + 1 ids
    padded = np.concatenate([ids, np.full([padding], model.pad_id, np.int32)])
    perplexity = Perplexity(pad_id=model.pad_id)
    for inputs, targets in window_dataset(padded, context, batch_size):
        perplexity.update_state(targets, model(inputs, training=False))
    return float(np.log(perplexity.result())), len(ids) - 1
