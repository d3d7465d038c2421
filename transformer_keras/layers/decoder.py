"""Decoder layer and stack (section 3.1, right half of figure 1).

A decoder layer is causal self-attention, then (optionally) cross-attention
over the encoder output, then feed-forward. Without cross-attention it is the
block of a decoder-only language model.

Legend: B batch, T target length, S source length, L layers, K key/value
heads, H head size, D model width.
"""

import keras
from keras import ops

from transformer_keras.layers import masks
from transformer_keras.layers.stack import TransformerStack
from transformer_keras.layers.transformer_layer import TransformerLayer


@keras.saving.register_keras_serializable(package="transformer_keras")
class DecoderLayer(TransformerLayer):
    """Causal self-attention, optional cross-attention, feed-forward.

    Args:
        cross_attention: add the cross-attention sub-layer (encoder-decoder).
        Other arguments: see `TransformerLayer`.

    Call arguments:
        inputs: `(B, T, D)` target embeddings.
        context: `(B, S, D)` encoder output (needed for cross-attention unless
            `cross_attention_cache` is given).
        padding_mask: `(B, T)` boolean, True at real target tokens.
        context_padding_mask: `(B, S)` boolean, True at real source tokens.
        self_attention_cache: `(B, 2, K, S_max, H)` keys and values of the
            previous target tokens; requires `cache_update_index`.
        cache_update_index: scalar int, position of the first token of
            `inputs` in the cache.
        cross_attention_cache: `(B, 2, K, S, H)` pre-computed keys and values
            of `context` (see `Decoder.cross_attention_cache`).
        use_causal_mask: causal self-attention (default True).
        return_attention_scores: also return a dict with `"self_attention"`
            and `"cross_attention"` probabilities.
        training: enables dropout.

    Returns:
        `outputs` `(B, T, D)`, then the scores dict when requested, then the
        updated self-attention cache when one was given.

    Example:
    >>> import numpy as np
    >>> layer = DecoderLayer(hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(layer(x, context=np.random.rand(2, 7, 8).astype("float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, hidden_dim, num_heads, intermediate_dim, cross_attention=True, **kwargs):
        super().__init__(hidden_dim, num_heads, intermediate_dim, **kwargs)
        self.cross_attention = bool(cross_attention)
        self.self_attention_block = self._attention_block(
            "self_attention_block", self.use_rotary
        )
        # Rotary positions are meaningless across two sequences: never in cross.
        self.cross_attention_block = (
            self._attention_block("cross_attention_block", use_rotary=False)
            if self.cross_attention
            else None
        )

    def build(self, inputs_shape, context_shape=None):
        self._check_width(inputs_shape)
        self.self_attention_block.build(inputs_shape)
        if self.cross_attention_block is not None:
            context_shape = inputs_shape if context_shape is None else context_shape
            self.cross_attention_block.build(inputs_shape, context_shape)
        self.feedforward_block.build(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_attention_scores=False,
        training=None,
    ):
        if self_attention_cache is not None and cache_update_index is None:
            raise ValueError(
                "`self_attention_cache` needs `cache_update_index`. "
                "Received: cache_update_index=None"
            )
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        if context is not None and context_padding_mask is None:
            context_padding_mask = masks.implicit_mask(context)
        scores = {}

        # With a cache, keys are the whole cache: positions after the current
        # one are excluded by the causal mask, earlier ones are real tokens.
        results = self.self_attention_block(
            inputs,
            padding_mask=padding_mask,
            use_causal_mask=use_causal_mask,
            cache=self_attention_cache,
            cache_update_index=cache_update_index,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        outputs, results = _split(results)
        if return_attention_scores:
            scores["self_attention"] = results.pop(0)
        if self_attention_cache is not None:
            self_attention_cache = results.pop(0)

        if self.cross_attention_block is not None:
            if context is None and cross_attention_cache is None:
                raise ValueError(
                    "This DecoderLayer has cross-attention: pass `context` (the "
                    "encoder output) or `cross_attention_cache`. Received: context=None"
                )
            results = self.cross_attention_block(
                outputs,
                context=context,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                cache=cross_attention_cache,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            outputs, results = _split(results)
            if return_attention_scores:
                scores["cross_attention"] = results.pop(0)

        outputs = self.feedforward_block(outputs, training=training)
        results = (outputs,)
        if return_attention_scores:
            results += (scores,)
        if self_attention_cache is not None:
            results += (self_attention_cache,)
        return results[0] if len(results) == 1 else results

    def compute_cross_attention_cache(self, context):
        """Keys and values of `context` for every decoding step: `(B, 2, K, S, H)`."""
        attention = self.cross_attention_block.attention
        with masks.detached_implicit_masks(context):  # projections cannot use it
            keys = attention.key_dense(context)  # (B, S, K, H)
            values = attention.value_dense(context)  # (B, S, K, H)
        cache = ops.stack([keys, values], axis=1)  # (B, 2, S, K, H)
        return ops.transpose(cache, (0, 1, 3, 2, 4))  # (B, 2, K, S, H)

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}


def _split(results):
    if isinstance(results, tuple):
        return results[0], list(results[1:])
    return results, []


@keras.saving.register_keras_serializable(package="transformer_keras")
class Decoder(TransformerStack):
    """A stack of `num_layers` `DecoderLayer`s (with a final norm when pre-LN).

    For decoding, the cache is a tuple of `L` per-layer caches, each
    `(B, 2, K, S_max, H)`: a compiled loop then updates each in place (one
    stacked `(B, L, ...)` tensor made every step copy the whole cache, 2.5x
    slower at batch 16 and 1,040 positions).

    Args:
        num_layers: number of layers.
        **layer_kwargs: `DecoderLayer` arguments (`hidden_dim`, `num_heads`,
            `intermediate_dim`, `cross_attention`, ...).

    Call arguments:
        inputs: `(B, T, D)` embedded target tokens.
        context: `(B, S, D)` encoder output (cross-attention).
        padding_mask: `(B, T)` boolean, True at real target tokens.
        context_padding_mask: `(B, S)` boolean, True at real source tokens.
        cache: tuple of `L` self-attention caches `(B, 2, K, S_max, H)`
            (see `initial_cache`); needs `cache_update_index`.
        cache_update_index: scalar int, position of `inputs[:, 0]`.
        cross_attention_cache: tuple of `L` `(B, 2, K, S, H)` from
            `cross_attention_cache(context)`.
        return_attention_scores: also return the list of per-layer score dicts.
        training: enables dropout.

    Returns:
        `(B, T, D)`, then the scores list when requested, then the updated cache
        when one was given.

    Example:
    >>> import numpy as np
    >>> decoder = Decoder(num_layers=2, hidden_dim=8, num_heads=2,
    ...                   intermediate_dim=16, cross_attention=False)
    >>> tuple(decoder(np.random.rand(2, 5, 8).astype("float32")).shape)
    (2, 5, 8)
    """

    layer_class = DecoderLayer

    def build(self, inputs_shape, context_shape=None):
        for layer in self.transformer_layers:
            layer.build(inputs_shape, context_shape)
        self.final_norm.build(inputs_shape)
        self.built = True

    def initial_cache(self, batch_size, max_length, dtype=None):
        """A tuple of `L` zero caches `(B, 2, K, S_max, H)` for cached decoding."""
        first = self.transformer_layers[0]
        attention = first.self_attention_block.attention
        shape = (batch_size, 2, attention.num_key_value_heads, max_length, attention.key_dim)
        return tuple(
            ops.zeros(shape, dtype=dtype or self.compute_dtype) for _ in range(self.num_layers)
        )

    def cross_attention_cache(self, context):
        """Cross-attention keys and values of every layer: `L` x `(B, 2, K, S, H)`."""
        return tuple(
            layer.compute_cross_attention_cache(context) for layer in self.transformer_layers
        )

    def call(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        if padding_mask is None:
            padding_mask = masks.implicit_mask(inputs)
        if context is not None and context_padding_mask is None:
            context_padding_mask = masks.implicit_mask(context)
        outputs, all_scores, new_caches = inputs, [], []
        for index, layer in enumerate(self.transformer_layers):
            results = layer(
                outputs,
                context=context,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                self_attention_cache=None if cache is None else cache[index],
                cache_update_index=cache_update_index,
                cross_attention_cache=(
                    None if cross_attention_cache is None else cross_attention_cache[index]
                ),
                return_attention_scores=return_attention_scores,
                training=training,
            )
            outputs, rest = _split(results)
            if return_attention_scores:
                all_scores.append(rest.pop(0))
            if cache is not None:
                new_caches.append(rest.pop(0))
        outputs = self.final_norm(outputs)
        results = (outputs,)
        if return_attention_scores:
            results += (all_scores,)
        if cache is not None:
            results += (tuple(new_caches),)  # L x (B, 2, K, S_max, H)
        return results[0] if len(results) == 1 else results
