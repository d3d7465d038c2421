"""`TransformerLM.generate` of a saved model on this process's backend.

    KERAS_BACKEND=jax python backend_generation.py MODEL.keras

Loads the `.keras` file and generates from fixed id prompts: greedy with the
cache (within and past the context), greedy by full recomputation, and
sampling with one seed twice. Prints one JSON line:

    {"backend": "jax", "greedy": [...], "greedy_long": [...], "recomputed": [...],
     "sampled": [...], "sampled_again": [...]}
"""

import json
import sys

import keras

from transformer_keras.models.language_model import TransformerLM  # noqa: F401 (registers)

PROMPTS = [[10, 11, 12, 13, 14], [20], [30, 31, 32]]
SAMPLING = dict(max_new_tokens=12, temperature=1.0, top_k=20, top_p=0.9, seed=7)


def generations(model):
    """The continuations compared across backends (and across runs of one backend)."""
    return {
        "backend": keras.backend.backend(),
        "greedy": model.generate(PROMPTS, max_new_tokens=9, temperature=0.0),
        "greedy_long": model.generate(PROMPTS, max_new_tokens=40, temperature=0.0),
        "recomputed": model.generate(
            PROMPTS, max_new_tokens=9, temperature=0.0, use_cache=False
        ),
        "sampled": model.generate(PROMPTS, **SAMPLING),
        "sampled_again": model.generate(PROMPTS, **SAMPLING),
    }


def main(path):
    model = keras.saving.load_model(path)
    print(json.dumps(generations(model)))


if __name__ == "__main__":
    main(sys.argv[1])
