"""Generation: samplers, the one compiled cached decode loop, and beam search.

- `sampling`: greedy, temperature, top-k and top-p on `(B, V)` logits, every
  setting a tensor (one trace serves all settings).
- `decode`: prefill the KV cache in one pass, then one token per step inside a
  `tf.while_loop`; model-agnostic through a step function (the language model
  and the translator's greedy decoding use it).
- `beam_search`: batched beam search over the same kind of step function.

TensorFlow backend only.
"""

from transformer_keras.generation.beam_search import beam_search, expand_to_beams
from transformer_keras.generation.decode import continuations, decode, pack_prompts
from transformer_keras.generation.sampling import (
    assert_sampling_settings,
    check_sampling_settings,
    filter_logits,
    sample,
)

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
