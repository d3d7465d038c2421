"""The memory bound of a cached decoding step (`benchmarks/lm_generation.py`)."""

import numpy as np

from benchmarks.lm_generation import PROMPT_LENGTH, memory_bound_seconds
from transformer_keras.models.language_model import TransformerLM


def test_memory_bound_reads_the_weights_and_the_average_filled_cache():
    model = TransformerLM.from_arguments(
        vocabulary_size=50,
        num_layers=2,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=64,
    )
    model.build()
    weight_bytes = 4 * model.count_params()
    position_bytes = 2 * 2 * 16 * 4  # layers x (key, value) x width x float32
    new_tokens, batch = 9, 3
    positions = PROMPT_LENGTH + (new_tokens - 1) / 2  # 16 .. 24 attended: 20 on average
    expected = (weight_bytes + batch * positions * position_bytes) / 2e9
    seconds = memory_bound_seconds(model, batch, new_tokens, bandwidth_gbps=2.0)
    np.testing.assert_allclose(seconds, expected, rtol=1e-12)
