"""Transformer layers, written with `keras.ops` only and serializable.

Mask convention: boolean, True means "may attend"; padding masks are
`(B, T)`, attention masks `(B, T, S)`.
"""

from transformer_keras.layers.attention import AttentionBlock, MultiHeadAttention
from transformer_keras.layers.decoder import Decoder, DecoderLayer
from transformer_keras.layers.embedding import TokenAndPositionEmbedding
from transformer_keras.layers.encoder import Encoder, EncoderLayer
from transformer_keras.layers.feedforward import FeedForward, FeedForwardBlock
from transformer_keras.layers.masks import (
    causal_mask,
    merge_attention_masks,
    padding_mask_from_ids,
)
from transformer_keras.layers.position import (
    PositionEmbedding,
    RotaryEmbedding,
    SinusoidalPositionEncoding,
)
from transformer_keras.layers.residual import ResidualBlock

__all__ = [
    "AttentionBlock",
    "Decoder",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "FeedForward",
    "FeedForwardBlock",
    "MultiHeadAttention",
    "PositionEmbedding",
    "ResidualBlock",
    "RotaryEmbedding",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "causal_mask",
    "merge_attention_masks",
    "padding_mask_from_ids",
]
