"""The one backbone mechanism: token ids -> contextual hidden states.

Every model of the zoo is a task head on `Backbone`s: the classifier on an
encoder backbone, the language model on a decoder backbone without
cross-attention, the translator on an encoder backbone plus a decoder backbone
with cross-attention. The backbone owns the embedding (which doubles as the
tied output projection), the stack of layers and the masks.

Legend: B batch, T length, S source length, L layers, D width, V vocabulary.
"""

import inspect

import keras

from transformer_keras.layers import Decoder, Encoder, TokenAndPositionEmbedding
from transformer_keras.layers.method_inputs import build_if_needed, convert_inputs
from transformer_keras.utils.validation import check_choice, check_positive_int

STACKS = ("encoder", "decoder")
# The attention projections that get LoRA adapters (LoRA's paper, section 7.1).
LORA_TARGETS = ("query", "value")


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
        position: `"learned"`, `"sinusoidal"`, `"sinusoidal_concatenated"`
            (Marian's layout of the same table), `"rotary"` or `"none"`.
        pad_id: padding id; padding masks are derived from it.
        num_key_value_heads: grouped-query attention (decoder-friendly).
        activation: `"relu"`, `"gelu"`, `"gelu_tanh"`, `"silu"` or `"swiglu"`.
        dropout: residual and embedding dropout.
        attention_dropout: dropout on attention probabilities.
        normalize_first: pre-LN (True) or the paper's post-LN (False).
        layer_norm_epsilon: epsilon of the layer norms.
        use_bias: biases in projections.
        scale_embeddings: multiply token embeddings by `sqrt(D)`.
        embedding_norm: a layer norm on the embeddings' sum (BERT's).
        lora_rank: `None`, or the rank of the LoRA adapters on the query and
            value projections (`enable_lora`); kept in the config, so a
            `.keras` file of a LoRA model reloads with its adapters.

    Call arguments:
        token_ids: `(B, T)` int ids.
        padding_mask: `(B, T)` boolean; defaults to `token_ids != pad_id`.
        context: `(B, S, D)` encoder output (cross-attention).
        context_padding_mask: `(B, S)` boolean.
        training: enables dropout.

    Returns:
        `(B, T, D)` hidden states. Cached decoding (`call_with_cache`) and the
        attention probabilities (`attention_scores`) have their own methods.

    Example:
    >>> import numpy as np
    >>> backbone = Backbone(100, num_layers=1, hidden_dim=8, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=10)
    >>> backbone(np.array([[5, 6, 7, 0]])).shape
    (1, 4, 8)
    >>> [tuple(s.shape) for s in backbone.attention_scores(np.array([[5, 6, 7, 0]]))]
    [(1, 2, 4, 4)]
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
        embedding_norm=False,
        lora_rank=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("stack", stack, STACKS)
        if lora_rank is not None:
            check_positive_int("lora_rank", lora_rank)
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
        self.embedding_norm = embedding_norm
        self.lora_rank = lora_rank

        self.embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            hidden_dim,
            max_sequence_length,
            position=position,
            pad_id=pad_id,
            scale_embeddings=scale_embeddings,
            embedding_norm=embedding_norm,
            layer_norm_epsilon=layer_norm_epsilon,
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
        if self.built:  # a task given a built backbone (or a deserialized one)
            return
        self.embedding.build(token_ids_shape)
        hidden_shape = tuple(token_ids_shape) + (self.hidden_dim,)
        if self.stack == "decoder":
            if self.cross_attention and context_shape is None:
                context_shape = (token_ids_shape[0], None, self.hidden_dim)
            self.transformer.build(hidden_shape, context_shape)
        else:
            self.transformer.build(hidden_shape)
        self.built = True
        if self.lora_rank:
            self._add_lora_adapters(self.lora_rank)

    def enable_lora(self, rank):
        """Low-rank adapters on every query and value projection; only they train.

        Keras' own `EinsumDense.enable_lora(rank)` adds the adapters (`kernel
        + A B`, `B` starting at zero, so the outputs do not change at first);
        every other weight of the backbone is frozen. The rank goes into the
        config: `.keras` files save and reload the adapters, and
        `Task.with_merged_lora()` folds them into the kernels for export.

        Args:
            rank: the adapters' rank, a positive int.

        Example:
        >>> import numpy as np
        >>> backbone = Backbone(50, num_layers=1, hidden_dim=8, num_heads=2,
        ...                     intermediate_dim=16, max_sequence_length=10)
        >>> _ = backbone(np.array([[5, 6]]))
        >>> backbone.enable_lora(2)
        >>> sorted({w.name for w in backbone.trainable_weights})
        ['lora_kernel_a', 'lora_kernel_b']
        """
        check_positive_int("rank", rank)
        if self.lora_rank is not None:
            raise ValueError(f"LoRA is already enabled on this backbone. Received: rank={rank}")
        self.lora_rank = rank
        if self.built:
            self._add_lora_adapters(rank)

    def lora_layers(self):
        """The projections that carry LoRA adapters: every query and value."""
        return [
            layer
            for layer in self._flatten_layers(include_self=False)
            if layer.name in LORA_TARGETS and getattr(layer, "lora_enabled", False)
        ]

    def _add_lora_adapters(self, rank):
        for layer in self._flatten_layers(include_self=False):
            layer.trainable = False
        for layer in self._flatten_layers(include_self=False):
            if layer.name in LORA_TARGETS and hasattr(layer, "enable_lora"):
                layer.trainable = True
                layer.enable_lora(rank)
                if layer.bias is not None:
                    layer.bias.trainable = False

    def padding_mask(self, token_ids):
        """`(B, T)` boolean, True at real tokens (`token_ids != pad_id`)."""
        return self.embedding.padding_mask(token_ids)

    def call(
        self,
        token_ids,
        padding_mask=None,
        context=None,
        context_padding_mask=None,
        training=None,
    ):
        if padding_mask is None:
            padding_mask = self.padding_mask(token_ids)
        hidden = self.embedding(token_ids, training=training)
        return self.transformer(
            hidden,
            **self._stack_arguments(padding_mask, context, context_padding_mask),
            training=training,
        )

    def call_with_cache(
        self,
        token_ids,
        cache,
        cache_update_index,
        padding_mask=None,
        context=None,
        context_padding_mask=None,
        cross_attention_cache=None,
    ):
        """One cached decoding step of a decoder backbone.

        Args:
            token_ids: `(B, T)` the new token ids only.
            cache: `L` x `(B, 2, K, S_max, H)` from `initial_cache`.
            cache_update_index: scalar int, position of `token_ids[:, 0]`.
            padding_mask: `(B, T)` boolean for the new tokens; defaults to the
                embedding's mask of `token_ids`.
            context: `(B, S, D)` encoder output; not needed when
                `cross_attention_cache` is given.
            context_padding_mask: `(B, S)` boolean.
            cross_attention_cache: `L` x `(B, 2, K, S, H)` from
                `cross_attention_cache(context)`.

        Returns:
            `(hidden (B, T, D), cache)`, the cache updated at
            `cache_update_index ..`.
        """
        if self.stack != "decoder":
            raise ValueError(
                f"Only a decoder backbone decodes with a cache. Received: stack={self.stack!r}"
            )
        token_ids, context = convert_inputs(self, token_ids, context)
        build_if_needed(self, token_ids, context)
        hidden = self.embedding(token_ids, start_index=cache_update_index, training=False)
        return self.transformer.call_with_cache(
            hidden,
            cache,
            cache_update_index,
            context=context,
            padding_mask=padding_mask,
            context_padding_mask=context_padding_mask,
            cross_attention_cache=cross_attention_cache,
        )

    def attention_scores(
        self, token_ids, padding_mask=None, context=None, context_padding_mask=None
    ):
        """Attention probabilities of every layer, for `call`'s arguments.

        Returns:
            A list of `L` entries, first layer first: `(B, N, T, T)` float32
            tensors for an encoder; for a decoder, dicts with
            `"self_attention"` `(B, N, T, T)` and, with cross-attention,
            `"cross_attention"` `(B, N, T, S)`.
        """
        token_ids, context = convert_inputs(self, token_ids, context)
        build_if_needed(self, token_ids, context)
        if padding_mask is None:
            padding_mask = self.padding_mask(token_ids)
        hidden = self.embedding(token_ids, training=False)
        return self.transformer.attention_scores(
            hidden, **self._stack_arguments(padding_mask, context, context_padding_mask)
        )

    def _stack_arguments(self, padding_mask, context, context_padding_mask):
        """The masks (and the context of a decoder) for the layer stack."""
        if self.stack == "encoder":
            return {"padding_mask": padding_mask}
        return {
            "padding_mask": padding_mask,
            "context": context,
            "context_padding_mask": context_padding_mask,
        }

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
            "embedding_norm": self.embedding_norm,
            "lora_rank": self.lora_rank,
        }


def backbone_argument_names():
    """The names of `Backbone`'s constructor arguments (the one list of them)."""
    parameters = inspect.signature(Backbone.__init__).parameters
    return tuple(name for name in parameters if name not in ("self", "kwargs"))


def as_backbone(backbone, name):
    """`backbone` itself, or the `Backbone` its config dict builds.

    Args:
        backbone: a `Backbone`, a dict of its constructor arguments (as its
            `get_config()` returns them), or its serialized form
            (`keras.saving.serialize_keras_object`).
        name: the task's argument, for the error message.
    """
    if isinstance(backbone, dict):
        if "class_name" in backbone:
            backbone = keras.saving.deserialize_keras_object(backbone)
        else:
            backbone = Backbone.from_config(backbone)
    if not isinstance(backbone, Backbone):
        raise ValueError(
            f"`{name}` must be a `Backbone` or its config dict. Received: {name}={backbone!r}"
        )
    return backbone
