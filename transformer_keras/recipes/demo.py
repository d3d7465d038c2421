"""`make demo`: each family trained offline on data that needs no download, exported,
reloaded from its SavedModel and asked a few questions.

- classifier: generated review sentences whose label depends on negation and
  "but" (or a labelled `--data` file), the `tiny` preset;
- language model: the docstrings of Python's standard library (or a `--data`
  text file), a small rotary model for about a minute;
- translator: numbers spelled in words -> digits (or a `--data` TSV file of
  pairs), a small pre-LN model.

Every step goes through the family's recipe with smaller settings
(`CLASSIFIER_DEMO`, `LANGUAGE_MODEL_DEMO`, `TRANSLATOR_DEMO`) and reads its
export back through `export.client`. With `TRANSFORMER_KERAS_FAST=1` the
language model trains for a few steps only (the tests).
"""

import dataclasses
import os
import shutil
import time

from transformer_keras.recipes.classifier import ClassifierRecipe, train_classifier
from transformer_keras.recipes.language_model import LanguageModelRecipe, train_language_model
from transformer_keras.recipes.pipeline import RunOptions
from transformer_keras.recipes.translator import TranslatorRecipe, hold_out, train_translator

DEMO_MAX_EXAMPLES = 10_000  # a `--data` file: at most this many examples
CLASSIFIER_DEMO = ClassifierRecipe(
    preset="tiny",
    vocabulary_size=2000,
    max_length=None,
    conv_kernel_size=0,
    epochs=6,
    batch_size=32,
    learning_rate=3e-3,
    patience=None,
    ensemble=1,
)
CLASSIFIER_TEXTS = (
    "the acting was truly wonderful",
    "the plot was not gripping",
    "i did not hate the ending",
    "the cast was superb but the pacing was very tedious",
)
LANGUAGE_MODEL_DEMO = LanguageModelRecipe(
    preset="tiny",
    position="rotary",  # learns faster than a learned table (benchmarks.lm_shakespeare)
    context=64,
    max_steps=1000,
    batch_size=16,
    learning_rate=2e-3,
    sample_prompt=None,
    model_overrides=dict(hidden_dim=128, num_heads=4, intermediate_dim=512),
)
LANGUAGE_MODEL_SECONDS = 50.0  # of training at most: the step stays near a minute
FAST_LANGUAGE_MODEL_DEMO = dataclasses.replace(
    LANGUAGE_MODEL_DEMO,
    max_steps=40,
    jit_compile=False,
    model_overrides=dict(hidden_dim=32, num_heads=2, intermediate_dim=64),
)
LANGUAGE_MODEL_PROMPTS = ("Return the", "The default value", "")
TRANSLATOR_DEMO = TranslatorRecipe(
    preset="tiny",
    tokenizer="word",
    vocabulary_size=None,
    max_length=8,
    num_layers=2,
    hidden_dim=64,
    normalize_first=True,
    epochs=8,
    token_budget=512,
    warmup_steps=100,
    learning_rate_scale=1.0,
    bleu_every=8,
    jit_compile=False,  # compiling costs more than it saves on a tiny model
    model_overrides=dict(num_heads=4),
)
# A `--data FILE.tsv`: its first pairs, longer sentences, fewer epochs.
TRANSLATOR_DATA_DEMO = dataclasses.replace(
    TRANSLATOR_DEMO, max_length=24, epochs=4, token_budget=1024, bleu_every=4
)
DEMO_OPTIONS = RunOptions(seed=0, verbose=2)


def classifier_demo(output_dir, data=None):
    """Trains the tiny classifier, exports, reloads the SavedModel, prints predictions."""
    from transformer_keras.data.classification import load_classification_data
    from transformer_keras.data.classification_batches import split_data
    from transformer_keras.data.generated_sentiment import generated_sentiment_data
    from transformer_keras.export.client import load_client

    started = time.time()
    if data:
        train, validation = split_data(load_classification_data(data), 0.1, seed=0)
        train = train.take(DEMO_MAX_EXAMPLES)
        validation = validation.take(DEMO_MAX_EXAMPLES // 10)
        texts = validation.texts_and_labels()[0][:4]
        print(f"data: {data} ({train.num_examples} training texts)")
    else:
        train = generated_sentiment_data(4000, seed=0)
        validation = generated_sentiment_data(400, seed=1)
        texts = list(CLASSIFIER_TEXTS)
        print("data: generated review sentences (negation and 'but' decide the label)")
    path = os.path.join(output_dir, "classifier-demo")
    _start_afresh(path)
    train_classifier(train, validation, path, CLASSIFIER_DEMO, DEMO_OPTIONS)
    labels, ids, probabilities = load_client(path, "classifier").classify(texts)
    print(f"reloaded {path} with tf.saved_model.load:")
    for text, label, label_id, row in zip(texts, labels, ids, probabilities):
        print(f"  {label:>10} {row[label_id]:.3f}  {text[:70]}")
    print(f"classifier demo took {time.time() - started:.0f} s")


def language_model_demo(output_dir, data=None):
    """Trains a small LM, exports, reloads the SavedModel, prints sampled continuations."""
    from transformer_keras.data.language_modeling import (
        python_documentation_texts,
        read_text_files,
    )
    from transformer_keras.export.client import load_client
    from transformer_keras.training.callbacks import StopAfter

    started = time.time()
    fast = os.environ.get("TRANSFORMER_KERAS_FAST") == "1"
    recipe = FAST_LANGUAGE_MODEL_DEMO if fast else LANGUAGE_MODEL_DEMO
    if data:
        texts = read_text_files(data)
        prompts = [texts[0][:20], ""]
        print(f"data: {data}")
    else:
        texts = python_documentation_texts()
        prompts = list(LANGUAGE_MODEL_PROMPTS)
        print(f"data: docstrings of Python's standard library ({sum(map(len, texts))} chars)")
    path = os.path.join(output_dir, "lm-demo")
    _start_afresh(path)
    options = dataclasses.replace(DEMO_OPTIONS, callbacks=(StopAfter(LANGUAGE_MODEL_SECONDS),))
    result = train_language_model(texts, None, path, recipe, options)
    print(f"validation loss {result.metrics['loss']:.3f} nats per character")
    continuations = load_client(path, "language model").generate(
        prompts, 120, temperature=0.8, top_k=40, top_p=0.95, seed=1
    )
    print(f"reloaded {path} with tf.saved_model.load; sampled continuations:")
    for prompt, continuation in zip(prompts, continuations):
        print(f"  {prompt!r} -> {continuation!r}")
    print(f"language model demo took {time.time() - started:.0f} s")


def translator_demo(output_dir, data=None):
    """Trains a small translator, exports, reloads the SavedModel, prints translations."""
    from transformer_keras.data.generated_translation import spelled_number_pairs
    from transformer_keras.data.translation import read_pairs
    from transformer_keras.export.client import load_client

    started = time.time()
    recipe = TRANSLATOR_DEMO
    if data:
        sources, targets = read_pairs(pairs=data)
        train, validation = hold_out(sources[:DEMO_MAX_EXAMPLES], targets[:DEMO_MAX_EXAMPLES])
        examples = validation[0][:5]
        recipe = TRANSLATOR_DATA_DEMO
        print(f"data: the first {len(train[0]) + len(validation[0])} pairs of {data}")
    else:
        train = spelled_number_pairs(6000, seed=0)
        validation = tuple(side[:100] for side in spelled_number_pairs(200, seed=1))
        examples = ["three hundred forty two", "nine thousand two hundred seven", "eighty"]
        print("data: generated numbers in words -> digits ('forty two' -> '4 2')")
    path = os.path.join(output_dir, "translator-demo")
    _start_afresh(path)
    train_translator(train, validation, path, recipe, DEMO_OPTIONS)
    translations = load_client(path, "translator").translate(
        examples, beam_size=4, max_length=recipe.max_length + 1
    )
    print(f"reloaded {path} with tf.saved_model.load; beam search (beam size 4):")
    for source, translation in zip(examples, translations):
        print(f"  {source!r} -> {translation!r}")
    print(f"translator demo: exported {path} in {time.time() - started:.0f} s")


DEMOS = (
    ("classifier", classifier_demo),
    ("language model", language_model_demo),
    ("translator", translator_demo),
)


def run_demos(output_dir="saved_models", data=None):
    """Runs the three demos in turn (`make demo`)."""
    for name, demo in DEMOS:
        print(f"\n=== demo: {name} ===", flush=True)
        demo(output_dir, data)


def _start_afresh(path):
    """A demo is a new run each time, never the resumption of an earlier one."""
    shutil.rmtree(path + ".training", ignore_errors=True)
