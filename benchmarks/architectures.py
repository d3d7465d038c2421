"""The decoder-only language model of the training benchmarks, built three ways, and its sizes.

One architecture: learned token and position embeddings, `num_layers` pre-LN
decoder blocks (causal self-attention, GELU feed-forward of width `4 * D`, no
dropout), a final LayerNorm and an output projection tied to the token
embedding. Built with transformer_keras (`TransformerLM`), with KerasHub's
`TokenAndPositionEmbedding` + `TransformerDecoder` layers, and with PyTorch's
`torch.nn.TransformerEncoder` under a causal mask.

`keras_hub` and `torch` are imported inside the builders only, so this module
loads without them.

Legend: B batch, T context length, D width, L layers, V vocabulary.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class LMSize:
    """A language-model size of the issue, with its training batch."""

    name: str
    num_layers: int
    hidden_dim: int
    num_heads: int
    context: int
    batch: int
    vocabulary: int

    @property
    def intermediate_dim(self):
        return 4 * self.hidden_dim

    @property
    def matmul_parameters(self):
        """Weights used in matrix multiplies: per layer `4 D^2` (attention)
        plus `8 D^2` (feed-forward), plus the `V x D` output projection."""
        return 12 * self.num_layers * self.hidden_dim**2 + self.vocabulary * self.hidden_dim

    @property
    def train_flops_per_token(self):
        """`6 N + 12 L D T`: the matmul weights forward and backward, plus
        attention scores and their weighted sum (PaLM, appendix B)."""
        attention = 12 * self.num_layers * self.hidden_dim * self.context
        return 6 * self.matmul_parameters + attention


SIZES = {
    "small": LMSize("small", 4, 128, 4, context=64, batch=12, vocabulary=65),
    "base": LMSize("base", 6, 512, 8, context=256, batch=8, vocabulary=8000),
}
# Smoke-run stand-ins, under the same names so every code path still runs.
QUICK_SIZES = {
    "small": LMSize("small", 2, 32, 2, context=16, batch=4, vocabulary=65),
    "base": LMSize("base", 2, 64, 4, context=32, batch=4, vocabulary=500),
}


def sizes(settings):
    return QUICK_SIZES if settings.quick else SIZES


def transformer_keras_lm(size, **overrides):
    """`TransformerLM` with the shared architecture (float32 logits).

    `overrides` are other `TransformerLM` arguments, e.g. a `tokenizer`.
    """
    from transformer_keras.models.language_model import TransformerLM

    return TransformerLM.from_arguments(
        vocabulary_size=size.vocabulary,
        num_layers=size.num_layers,
        hidden_dim=size.hidden_dim,
        num_heads=size.num_heads,
        intermediate_dim=size.intermediate_dim,
        max_sequence_length=size.context,
        position="learned",
        activation="gelu",
        normalize_first=True,
        dropout=0.0,
        tie_embeddings=True,
        **overrides,
    )


def keras_hub_lm(size):
    """The same architecture from KerasHub layers, as a functional model."""
    import keras
    import keras_hub

    token_ids = keras.Input((size.context,), dtype="int32", name="token_ids")
    embedding = keras_hub.layers.TokenAndPositionEmbedding(
        size.vocabulary, size.context, size.hidden_dim, tie_weights=True
    )
    hidden = embedding(token_ids)  # (B, T, D)
    for _ in range(size.num_layers):
        hidden = keras_hub.layers.TransformerDecoder(
            size.intermediate_dim,
            size.num_heads,
            dropout=0.0,
            activation="gelu",
            normalize_first=True,
        )(hidden)
    hidden = keras.layers.LayerNormalization(epsilon=1e-5)(hidden)
    logits = embedding.token_embedding(hidden, reverse=True)  # (B, T, V)
    logits = keras.layers.Activation("linear", dtype="float32")(logits)
    return keras.Model(token_ids, logits, name="keras_hub_lm")


def torch_lm(size):
    """The same architecture as a `torch.nn.Module` (`TransformerEncoder` + causal mask)."""
    import torch
    from torch import nn

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = nn.Embedding(size.vocabulary, size.hidden_dim)
            self.position_embedding = nn.Embedding(size.context, size.hidden_dim)
            layer = nn.TransformerEncoderLayer(
                size.hidden_dim,
                size.num_heads,
                size.intermediate_dim,
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            self.blocks = nn.TransformerEncoder(
                layer, size.num_layers, enable_nested_tensor=False
            )
            self.norm = nn.LayerNorm(size.hidden_dim)
            self.register_buffer(
                "causal_mask", nn.Transformer.generate_square_subsequent_mask(size.context)
            )

        def forward(self, token_ids):
            positions = torch.arange(token_ids.shape[1], device=token_ids.device)
            hidden = self.token_embedding(token_ids) + self.position_embedding(positions)
            hidden = self.blocks(hidden, mask=self.causal_mask, is_causal=True)  # (B, T, D)
            hidden = self.norm(hidden)
            return hidden @ self.token_embedding.weight.T  # (B, T, V), tied

    return TorchLM()
