"""What the tiny training runs of the test suite learn, over several seeds.

    python -m benchmarks.tiny_tasks              # seeds 0, 1, 2 (a few minutes on 2 CPU cores)
    python -m benchmarks.tiny_tasks --seeds 5    # seeds 0 to 4
    python -m benchmarks.tiny_tasks --quick      # smoke run: one seed, a few steps

The tests train tiny models to check what the commands and `fit` do with
them, never how well the models learn: that depends on the seed, the CPU and
the machine's load (float rounding changes with the kernels chosen). This
benchmark runs the same three trainings with each seed and reports the
quality they reach, with the thresholds the tests once asserted as targets:

- `copy translator`: `fit_translator` (the recipe of `train translator`) on a
  copy task, 1,200 sentences of 3 to 6 words from 8, the tiny preset with 2+2
  pre-LN layers of width 64, word tokenizer, 6 epochs of 256-token batches;
  sacreBLEU BLEU and chrF of beam-4 translations of 60 new sentences.
  Target: both at least 90.
- `animals lm`: `fit_language_model` (the recipe of `train lm`) on 300 lines
  of "the cat sat on the mat.", the tiny preset with rotary positions and a
  context of 32 characters, 30 steps of batch 8; the loss (nats per
  character) on 40 other lines. Target: at most log(20) = 2.996, below a
  uniform guess over the corpus's 20 characters.
- `keyword classifier`: a `TransformerClassifier` (1 layer, width 8) fitted
  8 epochs with Adam(2e-2) on 128 random sequences whose class is 1 iff
  token 5 occurs; accuracy on those sequences. Target: at least 0.95.
"""

import argparse
import math
import random
import sys
import tempfile

import numpy as np

from benchmarks import runner
from benchmarks.report import Floor, Limit, Row

TASKS = ("copy translator", "animals lm", "keyword classifier")
DEFAULT_SEEDS = 3
COPY_WORDS = ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu")
ANIMALS = ("cat", "dog", "fox", "owl", "hen")
PLACES = ("mat", "log", "box", "hill", "barn")
UNIFORM_LOSS = math.log(20)  # the animal corpus has about 20 characters


def _identity(task, seed):
    return {
        "benchmark": "tiny_tasks",
        "config": f"{task} seed {seed}",
        "implementation": "transformer_keras",
    }


def targets(seeds):
    """The thresholds, one per task and seed."""
    found = []
    for seed in seeds:
        copy = _identity("copy translator", seed)
        found += [
            Floor(f"copy translator seed {seed}: BLEU", copy, "bleu", 90.0),
            Floor(f"copy translator seed {seed}: chrF", copy, "chrf", 90.0),
            Limit(
                f"animals lm seed {seed}: validation loss",
                _identity("animals lm", seed),
                "final_loss",
                UNIFORM_LOSS,
            ),
            Floor(
                f"keyword classifier seed {seed}: accuracy",
                _identity("keyword classifier", seed),
                "accuracy",
                0.95,
            ),
        ]
    return found


# ------------------------------------------------------------------ the data
def copy_corpus(count, seed):
    """`(sources, targets)`: the target repeats the source's 3 to 6 words."""
    generator = random.Random(seed)
    sentences = [
        " ".join(generator.choice(COPY_WORDS) for _ in range(generator.randint(3, 6)))
        for _ in range(count)
    ]
    return sentences, list(sentences)


def animal_corpus(lines, offset=0):
    """Generated sentences: 'the cat sat on the mat.' and variations."""
    return "".join(
        f"the {ANIMALS[(i + offset) % 5]} sat on the {PLACES[(i * 3 + offset) % 5]}.\n"
        for i in range(lines)
    )


def keyword_examples():
    """`(token_ids (128, 8), labels (128,))`: class 1 iff token 5 occurs."""
    rng = np.random.default_rng(0)
    token_ids = rng.integers(6, 20, size=(128, 8)).astype("int32")
    labels = rng.integers(0, 2, size=128)
    positions = rng.integers(0, 8, size=128)
    token_ids[labels == 1, positions[labels == 1]] = 5
    return token_ids, labels


# ------------------------------------------------------------------ the runs
def copy_translator(seed, quick):
    """`{"bleu", "chrf"}` of beam-4 translations of 60 new sentences."""
    from transformer_keras.recipes import RunOptions, TranslatorRecipe, train_translator
    from transformer_keras.recipes.translator import hold_out
    from transformer_keras.training.bleu import corpus_scores

    epochs = 1 if quick else 6
    train, validation = hold_out(*copy_corpus(120 if quick else 1200, seed=0))
    sources, references = copy_corpus(60, seed=1)
    recipe = TranslatorRecipe(
        preset="tiny",
        tokenizer="word",
        max_length=8,
        num_layers=2,
        hidden_dim=64,
        normalize_first=True,
        epochs=epochs,
        token_budget=256,
        warmup_steps=100,
        bleu_every=epochs,
        beam_size=2,
    )
    with tempfile.TemporaryDirectory() as output_dir:
        result = train_translator(
            train,
            validation,
            f"{output_dir}/copy",
            recipe,
            RunOptions(seed=seed, verbose=0),
        )
    hypotheses = result.model.translate_all(sources, 4, recipe.alpha)
    return corpus_scores(hypotheses, references)


def animals_lm(seed, quick):
    """The validation loss (nats per character) after 30 steps."""
    from transformer_keras.recipes import LanguageModelRecipe, RunOptions, train_language_model

    recipe = LanguageModelRecipe(
        preset="tiny",
        context=32,
        position="rotary",
        max_steps=3 if quick else 30,
        batch_size=8,
        sample_prompt=None,
        jit_compile=False,
    )
    with tempfile.TemporaryDirectory() as output_dir:
        result = train_language_model(
            [animal_corpus(300)],
            [animal_corpus(40, offset=2)],
            f"{output_dir}/animals",
            recipe,
            RunOptions(seed=seed, verbose=0),
        )
    return result.metrics["loss"]


def keyword_classifier(seed, quick):
    """The accuracy on the training sequences after 8 epochs."""
    import keras

    from transformer_keras.models.classifier import TransformerClassifier

    keras.utils.set_random_seed(seed)
    token_ids, labels = keyword_examples()
    model = TransformerClassifier.from_arguments(
        num_classes=2,
        vocabulary_size=20,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        max_sequence_length=12,
        dropout=0.0,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-2), run_eagerly=True)
    model.fit(token_ids, labels, batch_size=64, epochs=1 if quick else 8, verbose=0)
    _, accuracy = model.evaluate(token_ids, labels, verbose=0)
    return float(accuracy)


def rows_for(seed, quick):
    """The three rows of one seed."""
    budget = "smoke run" if quick else "the tests' budget"
    scores = copy_translator(seed, quick)
    return [
        Row(
            "tiny_tasks",
            f"copy translator seed {seed}",
            "transformer_keras",
            figures={"bleu": scores["bleu"], "chrf": scores["chrf"]},
            notes=budget,
        ),
        Row(
            "tiny_tasks",
            f"animals lm seed {seed}",
            "transformer_keras",
            figures={"final_loss": animals_lm(seed, quick)},
            notes=budget,
        ),
        Row(
            "tiny_tasks",
            f"keyword classifier seed {seed}",
            "transformer_keras",
            figures={"accuracy": keyword_classifier(seed, quick)},
            notes=budget,
        ),
    ]


def seeds_from(argv):
    """`--seeds N` (default 3): seeds 0 to N-1; the rest of `argv` for the runner."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    known, rest = parser.parse_known_args(argv)
    if known.seeds < 1:
        raise SystemExit(f"--seeds must be positive. Received: seeds={known.seeds}")
    return tuple(range(known.seeds)), rest


def main(argv=None):
    seeds, rest = seeds_from(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in rest
    seeds = seeds[:1] if quick else seeds

    def run(settings):
        return [row for seed in seeds for row in rows_for(seed, settings.quick)]

    return runner.main(run, targets(seeds), argv=rest, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
