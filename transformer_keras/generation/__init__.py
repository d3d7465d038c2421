"""Generation: samplers, the one cached decode loop, and beam search.

- `sampling`: greedy, temperature, top-k and top-p on `(B, V)` logits, every
  setting a tensor (one trace serves all settings).
- `decode`: prefill the KV cache in one pass, then one token per step inside
  one `ops.while_loop`; model-agnostic through a step function (the language
  model and the translator's greedy decoding use it). Written with
  `keras.ops`: TensorFlow (XLA) and JAX (`jax.jit`).
- `prompts`: the host side of `generate` (argument checks, prompt batches).
- `ragged`: the TensorFlow edge (ragged prompts in, ragged continuations out).
- `beam_search`: batched beam search over the same kind of step function
  (TensorFlow only: its beam size and length are tensors of one graph).

`decode`, `sampling` and `prompts` import without TensorFlow (JAX backend);
the TensorFlow-only names load on first use.

Legend: B batch, V vocabulary.
"""

import importlib

from transformer_keras.generation.decode import decode
from transformer_keras.generation.sampling import (
    assert_sampling_settings,
    check_sampling_settings,
    filter_logits,
    sample,
)

# TensorFlow-only names, loaded on first use.
_TENSORFLOW_NAMES = {
    "beam_search": "beam_search",
    "continuations": "ragged",
    "expand_to_beams": "beam_search",
    "pack_prompts": "ragged",
}

__all__ = [
    "assert_sampling_settings",
    "beam_search",
    "check_sampling_settings",
    "continuations",
    "decode",
    "expand_to_beams",
    "filter_logits",
    "pack_prompts",
    "sample",
]


def __getattr__(name):
    if name in _TENSORFLOW_NAMES:
        module = importlib.import_module(
            f"transformer_keras.generation.{_TENSORFLOW_NAMES[name]}"
        )
        return getattr(module, name)
    raise AttributeError(f"module 'transformer_keras.generation' has no attribute {name!r}")
