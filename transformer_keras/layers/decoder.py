"""Decoder layer and stack (section 3.1, right half of figure 1).

A decoder layer is causal self-attention, then (optionally) cross-attention
over the encoder output, then feed-forward. Without cross-attention it is the
block of a decoder-only language model.

Legend: B batch, T target length, S source length, N heads, L layers, K
key/value heads, H head size, D model width.
"""

import keras
from keras import ops

from transformer_keras.layers import masks
from transformer_keras.layers.method_inputs import build_if_needed, convert_inputs
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
        context: `(B, S, D)` encoder output (needed for cross-attention).
        padding_mask: `(B, T)` boolean, True at real target tokens. Defaults
            to the Keras mask of `inputs`.
        context_padding_mask: `(B, S)` boolean, True at real source tokens.
            Defaults to the Keras mask of `context`.
        use_causal_mask: causal self-attention (default True).
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> layer = DecoderLayer(hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> context = np.random.rand(2, 7, 8).astype("float32")
    >>> tuple(layer(x, context=context).shape)
    (2, 5, 8)
    >>> scores = layer.attention_scores(x, context=context)
    >>> tuple(scores["self_attention"].shape), tuple(scores["cross_attention"].shape)
    ((2, 2, 5, 5), (2, 2, 5, 7))
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
        use_causal_mask=True,
        training=None,
    ):
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        x = self.self_attention_block(
            inputs,
            padding_mask=padding_mask,
            use_causal_mask=use_causal_mask,
            training=training,
        )
        if self.cross_attention:
            x = self.cross_attention_block(
                x,
                self._check_context(context),
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                training=training,
            )
        return self.feedforward_block(x, training=training)

    def call_with_cache(
        self,
        inputs,
        cache,
        cache_update_index,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        cross_attention_cache=None,
    ):
        """One cached decoding step: `call` for the new positions only.

        Args:
            inputs: `(B, T, D)` embeddings of the new target positions.
            cache: `(B, 2, K, S_max, H)` self-attention keys and values of the
                earlier positions.
            cache_update_index: scalar int, position of `inputs[:, 0]`.
            context: `(B, S, D)` encoder output; not needed when
                `cross_attention_cache` is given.
            padding_mask: `(B, T)`, True at real tokens of `inputs`. Defaults
                to the Keras mask of `inputs`.
            context_padding_mask: `(B, S)`, True at real source tokens.
            cross_attention_cache: `(B, 2, K, S, H)` from
                `compute_cross_attention_cache(context)`.

        Returns:
            `(outputs (B, T, D), cache (B, 2, K, S_max, H))`.
        """
        inputs, cache, context, cross_attention_cache = convert_inputs(
            self, inputs, cache, context, cross_attention_cache
        )
        build_if_needed(self, inputs, context)
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        # Keys are the whole cache: the causal mask hides the positions after
        # the current ones; the earlier ones are real tokens.
        x, cache = self.self_attention_block.call_with_cache(
            inputs, cache, cache_update_index, padding_mask=padding_mask
        )
        if self.cross_attention and cross_attention_cache is not None:
            x = self.cross_attention_block.call_with_static_cache(
                x,
                cross_attention_cache,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
            )
        elif self.cross_attention:
            x = self.cross_attention_block(
                x,
                self._check_context(context),
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                training=False,
            )
        return self.feedforward_block(x, training=False), cache

    def attention_scores(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        use_causal_mask=True,
    ):
        """Attention probabilities of `call` with the same arguments.

        Returns:
            A dict: `"self_attention"` `(B, N, T, T)` and, with
            cross-attention, `"cross_attention"` `(B, N, T, S)`, float32.
        """
        inputs, context = convert_inputs(self, inputs, context)
        build_if_needed(self, inputs, context)
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        self_attention = {"padding_mask": padding_mask, "use_causal_mask": use_causal_mask}
        scores = {
            "self_attention": self.self_attention_block.attention_scores(
                inputs, **self_attention
            )
        }
        if self.cross_attention:
            x = self.self_attention_block(inputs, **self_attention, training=False)
            scores["cross_attention"] = self.cross_attention_block.attention_scores(
                x,
                self._check_context(context),
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
            )
        return scores

    def compute_cross_attention_cache(self, context):
        """Keys and values of `context` for every decoding step: `(B, 2, K, S, H)`."""
        return self.cross_attention_block.attention.compute_static_cache(context)

    def _check_context(self, context):
        if context is None:
            raise ValueError(
                "This DecoderLayer has cross-attention: pass `context` (the "
                "encoder output) or `cross_attention_cache`. Received: context=None"
            )
        return context

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}


def _padding_masks(inputs, padding_mask, context, context_padding_mask):
    """The explicit masks, or else the Keras masks of `inputs` and `context`."""
    if padding_mask is None:
        padding_mask = masks.implicit_mask(inputs)
    if context_padding_mask is None:
        context_padding_mask = masks.implicit_mask(context)
    return padding_mask, context_padding_mask


@keras.saving.register_keras_serializable(package="transformer_keras")
class Decoder(TransformerStack):
    """A stack of `num_layers` `DecoderLayer`s (with a final norm when pre-LN).

    For decoding, the cache is a tuple of `L` per-layer caches, each
    `(B, 2, K, S_max, H)`: a compiled loop then updates each one in place,
    where one stacked `(B, L, ...)` tensor would be copied whole at every
    step.

    Args:
        num_layers: number of layers.
        **layer_kwargs: `DecoderLayer` arguments (`hidden_dim`, `num_heads`,
            `intermediate_dim`, `cross_attention`, ...).

    Call arguments:
        inputs: `(B, T, D)` embedded target tokens.
        context: `(B, S, D)` encoder output (cross-attention).
        padding_mask: `(B, T)` boolean, True at real target tokens.
        context_padding_mask: `(B, S)` boolean, True at real source tokens.
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> decoder = Decoder(num_layers=2, hidden_dim=8, num_heads=2,
    ...                   intermediate_dim=16, cross_attention=False)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(decoder(x).shape)
    (2, 5, 8)
    >>> cache = decoder.initial_cache(batch_size=2, max_length=10)
    >>> outputs, cache = decoder.call_with_cache(x, cache, cache_update_index=0)
    >>> tuple(outputs.shape), [tuple(layer_cache.shape) for layer_cache in cache]
    ((2, 5, 8), [(2, 2, 2, 10, 4), (2, 2, 2, 10, 4)])
    """

    layer_class = DecoderLayer

    def build(self, inputs_shape, context_shape=None):
        for layer in self.transformer_layers:
            layer.build(inputs_shape, context_shape)
        self.final_norm.build(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        training=None,
    ):
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        x = inputs
        for layer in self.transformer_layers:
            x = layer(
                x,
                context=context,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                training=training,
            )
        return self.final_norm(x)

    def call_with_cache(
        self,
        inputs,
        cache,
        cache_update_index,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        cross_attention_cache=None,
    ):
        """One cached decoding step through every layer.

        Args:
            inputs: `(B, T, D)` embeddings of the new target positions.
            cache: tuple of `L` self-attention caches `(B, 2, K, S_max, H)`
                (see `initial_cache`).
            cache_update_index: scalar int, position of `inputs[:, 0]`.
            context: `(B, S, D)` encoder output; not needed when
                `cross_attention_cache` is given.
            padding_mask: `(B, T)` boolean, True at real tokens of `inputs`.
            context_padding_mask: `(B, S)` boolean, True at real source tokens.
            cross_attention_cache: tuple of `L` `(B, 2, K, S, H)` from
                `cross_attention_cache(context)`.

        Returns:
            `(outputs (B, T, D), cache)`, the cache a tuple of `L` updated
            `(B, 2, K, S_max, H)`.
        """
        inputs, context = convert_inputs(self, inputs, context)
        build_if_needed(self, inputs, context)
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        if cross_attention_cache is None:
            cross_attention_cache = (None,) * self.num_layers
        x, updated = inputs, []
        for layer, layer_cache, layer_cross_cache in zip(
            self.transformer_layers, cache, cross_attention_cache, strict=True
        ):
            x, layer_cache = layer.call_with_cache(
                x,
                layer_cache,
                cache_update_index,
                context=context,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                cross_attention_cache=layer_cross_cache,
            )
            updated.append(layer_cache)
        return self.final_norm(x), tuple(updated)  # L x (B, 2, K, S_max, H)

    def attention_scores(
        self, inputs, context=None, padding_mask=None, context_padding_mask=None
    ):
        """Attention probabilities of every layer, for `call`'s arguments.

        Returns:
            A list of `L` dicts (first layer first), each with
            `"self_attention"` `(B, N, T, T)` and, with cross-attention,
            `"cross_attention"` `(B, N, T, S)` float32 tensors.
        """
        inputs, context = convert_inputs(self, inputs, context)
        build_if_needed(self, inputs, context)
        padding_mask, context_padding_mask = _padding_masks(
            inputs, padding_mask, context, context_padding_mask
        )
        arguments = {
            "context": context,
            "padding_mask": padding_mask,
            "context_padding_mask": context_padding_mask,
        }
        scores, x = [], inputs
        for layer in self.transformer_layers:
            scores.append(layer.attention_scores(x, **arguments))
            x = layer(x, **arguments, training=False)
        return scores

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
