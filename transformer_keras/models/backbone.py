"""The one backbone mechanism: token ids -> contextual hidden states.

Every model of the zoo is a task head on `Backbone`s: the classifier on an
encoder backbone, the language model on a decoder backbone without
cross-attention, the translator on an encoder backbone plus a decoder backbone
with cross-attention. The backbone owns the embedding (which doubles as the
tied output projection), the stack of layers and the masks.

Legend: B batch, T length, S source length, L layers, D width, V vocabulary.
"""

import keras

from transformer_keras.layers import Decoder, Encoder, TokenAndPositionEmbedding
from transformer_keras.utils.validation import check_choice

STACKS = ("encoder", "decoder")


@keras.saving.register_keras_serializable(package="transformer_keras")
class Backbone(keras.layers.Layer):
    """Embedding followed by an `Encoder` or a `Decoder` stack.

    Args:
        vocabulary_size: `V`.
        num_layers: number of Transformer layers.
        hidden_dim: model width `D`.
        num_heads: attention heads.
        intermediate_dim: feed-forward inner width.
        max_sequence_length: longest sequence the positions cover.
        stack: `"encoder"` (bidirectional) or `"decoder"` (causal).
        cross_attention: decoder layers attend to a `context` (seq2seq).
        position: `"learned"`, `"sinusoidal"`, `"rotary"` or `"none"`.
        pad_id: padding id; padding masks are derived from it.
        num_key_value_heads: grouped-query attention (decoder-friendly).
        activation: `"relu"`, `"gelu"` or `"swiglu"`.
        dropout: residual and embedding dropout.
        attention_dropout: dropout on attention probabilities.
        normalize_first: pre-LN (True) or the paper's post-LN (False).
        layer_norm_epsilon: epsilon of the layer norms.
        use_bias: biases in projections.
        scale_embeddings: multiply token embeddings by `sqrt(D)`.

    Call arguments:
        token_ids: `(B, T)` int ids.
        padding_mask: `(B, T)` boolean; defaults to `token_ids != pad_id`.
        context: `(B, S, D)` encoder output (cross-attention).
        context_padding_mask: `(B, S)` boolean.
        cache, cache_update_index, cross_attention_cache: cached decoding,
            see `Decoder`. `token_ids` then hold the new tokens only.
        return_attention_scores: also return the per-layer scores.
        training: enables dropout.

    Returns:
        `(B, T, D)` hidden states, then the scores list when requested, then
        the updated cache when one was given.

    Example:
    >>> import numpy as np
    >>> backbone = Backbone(100, num_layers=1, hidden_dim=8, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=10)
    >>> backbone(np.array([[5, 6, 7, 0]])).shape
    (1, 4, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        hidden_dim,
        num_heads,
        intermediate_dim,
        max_sequence_length,
        stack="encoder",
        cross_attention=False,
        position="learned",
        pad_id=0,
        num_key_value_heads=None,
        activation="relu",
        dropout=0.0,
        attention_dropout=0.0,
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        use_bias=True,
        scale_embeddings=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("stack", stack, STACKS)
        if cross_attention and stack != "decoder":
            raise ValueError(
                "Only a decoder stack has cross-attention. Received: "
                f"stack={stack!r}, cross_attention={cross_attention!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.stack = stack
        self.cross_attention = cross_attention
        self.position = position
        self.pad_id = pad_id
        self.num_key_value_heads = num_key_value_heads
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_bias = use_bias
        self.scale_embeddings = scale_embeddings

        self.embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            hidden_dim,
            max_sequence_length,
            position=position,
            pad_id=pad_id,
            scale_embeddings=scale_embeddings,
            dropout=dropout,
            dtype=self.dtype_policy,
            name="embedding",
        )
        layer_kwargs = dict(
            num_layers=num_layers,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            num_key_value_heads=num_key_value_heads,
            activation=activation,
            dropout=dropout,
            attention_dropout=attention_dropout,
            normalize_first=normalize_first,
            layer_norm_epsilon=layer_norm_epsilon,
            use_rotary=position == "rotary",
            use_bias=use_bias,
            dtype=self.dtype_policy,
            name=stack,
        )
        if stack == "encoder":
            self.transformer = Encoder(**layer_kwargs)
        else:
            self.transformer = Decoder(cross_attention=cross_attention, **layer_kwargs)

    def build(self, token_ids_shape, context_shape=None):
        self.embedding.build(token_ids_shape)
        hidden_shape = tuple(token_ids_shape) + (self.hidden_dim,)
        if self.stack == "decoder":
            if self.cross_attention and context_shape is None:
                context_shape = (token_ids_shape[0], None, self.hidden_dim)
            self.transformer.build(hidden_shape, context_shape)
        else:
            self.transformer.build(hidden_shape)
        self.built = True

    def padding_mask(self, token_ids):
        """`(B, T)` boolean, True at real tokens (`token_ids != pad_id`)."""
        return self.embedding.padding_mask(token_ids)

    def call(
        self,
        token_ids,
        padding_mask=None,
        context=None,
        context_padding_mask=None,
        cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        if padding_mask is None and cache is None:
            padding_mask = self.padding_mask(token_ids)
        start_index = 0 if cache_update_index is None else cache_update_index
        hidden = self.embedding(token_ids, start_index=start_index, training=training)
        if self.stack == "encoder":
            return self.transformer(
                hidden,
                padding_mask=padding_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
        return self.transformer(
            hidden,
            context=context,
            padding_mask=padding_mask,
            context_padding_mask=context_padding_mask,
            cache=cache,
            cache_update_index=cache_update_index,
            cross_attention_cache=cross_attention_cache,
            return_attention_scores=return_attention_scores,
            training=training,
        )

    def logits(self, hidden):
        """Tied output projection: `(B, T, D)` hidden states -> `(B, T, V)` logits."""
        return self.embedding(hidden, reverse=True)

    def initial_cache(self, batch_size, max_length=None):
        """Zero self-attention cache of a decoder backbone: `L` x `(B, 2, K, S_max, H)`."""
        if max_length is None:  # not `or`: max_length may be a symbolic tensor
            max_length = self.max_sequence_length
        return self.transformer.initial_cache(batch_size, max_length)

    def cross_attention_cache(self, context):
        """Cross-attention keys and values of `context`: `L` x `(B, 2, K, S, H)`."""
        return self.transformer.cross_attention_cache(context)

    def compute_output_shape(self, token_ids_shape, *args, **kwargs):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "stack": self.stack,
            "cross_attention": self.cross_attention,
            "position": self.position,
            "pad_id": self.pad_id,
            "num_key_value_heads": self.num_key_value_heads,
            "activation": self.activation,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "use_bias": self.use_bias,
            "scale_embeddings": self.scale_embeddings,
        }
