"""Multi-head attention and the residual block around it.

This is the only module that computes attention. Encoder self-attention,
decoder causal self-attention and cross-attention are three calls of
`AttentionBlock`; the KV cache for decoding lives here too.

Legend: B batch, T query length, S key length, N query heads, K key/value
heads, H head size, D model width.
"""

import keras
from keras import ops

from transformer_keras.layers import masks
from transformer_keras.layers.chunked_attention import chunked_dot_product_attention
from transformer_keras.layers.position import RotaryEmbedding
from transformer_keras.layers.residual import ResidualBlock
from transformer_keras.utils.validation import (
    check_divisible,
    check_positive_int,
    check_rate,
)

# Mask fill for scores: scores are float32 here whatever the policy, so one
# finite constant serves every precision (no float16 overflow).
_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="transformer_keras")
class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head attention (Vaswani et al., 2017, section 3.2.2), decoder-ready.

    Builds on `keras.layers.MultiHeadAttention` and keeps its weight layout (a
    Keras layer given this layer's weights computes the same output), adding:
    boolean padding masks (True = attend) for queries and keys, causal masking
    with an offset, a KV cache for one-token-at-a-time decoding, grouped-query
    attention (`num_key_value_heads < num_heads`), rotary position embedding of
    queries and keys, and the fused `keras.ops.dot_product_attention` path
    whenever scores are not requested and no attention dropout is active.
    Softmax always runs in float32.

    Args:
        num_heads: number of query heads `N`.
        key_dim: head size `H` of queries and keys.
        value_dim: head size of values. Defaults to `key_dim`.
        num_key_value_heads: number of key/value heads `K`; must divide
            `num_heads`. Defaults to `num_heads` (standard multi-head).
        dropout: dropout rate on attention probabilities.
        use_bias: whether the projections have biases.
        output_shape: width of the output. Defaults to the query width.
        use_rotary: apply `RotaryEmbedding` to queries and keys.
        rotary_max_wavelength: base wavelength of the rotary embedding.
        attention_chunk_size: when set, the fused path attends this many
            query rows at a time (`chunked_dot_product_attention`): same
            result, memory `O(chunk * S)` instead of `O(T * S)`, for long
            sequences. `None` (default) keeps one dense call.
        **kwargs: other `keras.layers.MultiHeadAttention` arguments
            (`kernel_initializer`, `bias_initializer`, `seed`, `name`, `dtype`).

    Call arguments:
        query: `(B, T, D)`.
        value: `(B, S, D)`. Defaults to `query` (self-attention).
        key: `(B, S, D)`. Defaults to `value`.
        query_padding_mask: `(B, T)` boolean, True at real query tokens.
            Defaults to the Keras mask of `query`.
        value_padding_mask: `(B, S)` boolean, True at real keys. With a cache,
            it covers the whole cache length. Defaults to the Keras mask of
            `value`.
        attention_mask: `(B, T, S)` boolean, True = may attend.
        use_causal_mask: forbid attending to later positions.
        cache: `(B, 2, K, S_max, H)` keys and values, heads before positions
            so that a one-query step reads each head's keys as one contiguous
            block (a `(B, S, K, H)` layout made XLA transpose the whole cache
            at every step: 2.5x slower). With `cache_update_index`, the new
            keys and values are written at that index and attention runs over
            the whole cache; without it, the cache is used as is
            (pre-computed cross-attention keys and values) and `value`/`key`
            are ignored.
        cache_update_index: scalar int, position of the first query token.
        return_attention_scores: also return the `(B, N, T, S)` probabilities.
        training: enables attention dropout.

    Returns:
        `output` of shape `(B, T, D)`, followed by the attention scores when
        `return_attention_scores=True` and by the updated cache when `cache` is
        given: `output`, `(output, scores)`, `(output, cache)` or
        `(output, scores, cache)`.

    Example:
    >>> import numpy as np
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(3, 5, 8).astype("float32")
    >>> tuple(layer(x, use_causal_mask=True).shape)
    (3, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        num_key_value_heads=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        use_rotary=False,
        rotary_max_wavelength=10000.0,
        attention_chunk_size=None,
        **kwargs,
    ):
        check_positive_int("num_heads", num_heads)
        if attention_chunk_size is not None:
            check_positive_int("attention_chunk_size", attention_chunk_size)
        check_positive_int("key_dim", key_dim)
        check_rate("dropout", dropout)
        if num_key_value_heads is None:
            num_key_value_heads = num_heads
        check_positive_int("num_key_value_heads", num_key_value_heads)
        check_divisible("num_heads", num_heads, "num_key_value_heads", num_key_value_heads)
        if use_rotary and key_dim % 2:
            raise ValueError(
                f"Rotary embedding needs an even `key_dim`. Received: key_dim={key_dim}"
            )
        kwargs.pop("attention_axes", None)
        super().__init__(
            num_heads=num_heads,
            key_dim=key_dim,
            value_dim=value_dim,
            dropout=dropout,
            use_bias=use_bias,
            output_shape=output_shape,
            **kwargs,
        )
        self.num_key_value_heads = num_key_value_heads
        self.use_rotary = use_rotary
        self.rotary_max_wavelength = rotary_max_wavelength
        self.attention_chunk_size = attention_chunk_size
        self.rotary_embedding = (
            RotaryEmbedding(rotary_max_wavelength, dtype=self.dtype_policy, name="rotary")
            if use_rotary
            else None
        )

    # ------------------------------------------------------------------ build
    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        width = query_shape[-1]
        output_width = self._output_shape[-1] if self._output_shape else width
        common = self._get_common_kwargs_for_sublayer()

        def projection(equation, heads, head_dim, name):
            return keras.layers.EinsumDense(
                equation,
                output_shape=(None, heads, head_dim),
                bias_axes="nh" if self._use_bias else None,
                name=name,
                **self._get_common_kwargs_for_sublayer(),
            )

        # Same kernels as keras.layers.MultiHeadAttention: (D, N, H) and (N, H, D).
        self._query_dense = projection("btd,dnh->btnh", self._num_heads, self._key_dim, "query")
        self._key_dense = projection(
            "bsd,dnh->bsnh", self.num_key_value_heads, self._key_dim, "key"
        )
        self._value_dense = projection(
            "bsd,dnh->bsnh", self.num_key_value_heads, self._value_dim, "value"
        )
        self._output_dense = keras.layers.EinsumDense(
            "btnh,nhd->btd",
            output_shape=(None, output_width),
            bias_axes="d" if self._use_bias else None,
            name="attention_output",
            **common,
        )
        self._query_dense.build(query_shape)
        self._key_dense.build(key_shape)
        self._value_dense.build(value_shape)
        self._output_dense.build((None, None, self._num_heads, self._value_dim))
        self._dropout_layer = keras.layers.Dropout(
            rate=self._dropout, dtype=self.dtype_policy, seed=self.seed
        )
        self.built = True

    # ------------------------------------------------------------------- call
    def call(
        self,
        query,
        value=None,
        key=None,
        query_padding_mask=None,
        value_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        self_attention = value is None
        value = query if value is None else value
        key = value if key is None else key
        key_length = value.shape[1] if cache is None else cache.shape[3]
        masks.check_padding_mask("query_padding_mask", query_padding_mask, *query.shape[:2])
        masks.check_padding_mask(
            "value_padding_mask", value_padding_mask, query.shape[0], key_length
        )
        offset = 0 if cache_update_index is None else cache_update_index
        # The projections cannot use Keras masks: detach them while projecting
        # (the caller's tensors get them back for their other consumers).
        with masks.detached_implicit_masks(query, value, key) as implicit_masks:
            query_heads, key_heads, value_heads, cache = self._project(
                query, value, key, cache, cache_update_index, offset
            )
        implicit_query_mask, implicit_value_mask, _ = implicit_masks
        if query_padding_mask is None:
            query_padding_mask = implicit_query_mask
        if value_padding_mask is None and cache is None:
            value_padding_mask = implicit_value_mask
            if self_attention and value_padding_mask is None:
                value_padding_mask = query_padding_mask

        attention_mask = masks.merge_attention_masks(
            query_length=_length(query_heads),
            key_length=_length(key_heads, axis=2 if cache is not None else 1),
            query_padding_mask=query_padding_mask,
            key_padding_mask=value_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            causal_offset=offset,
        )
        output, scores = self._compute_attention(
            query_heads,
            key_heads,
            value_heads,
            attention_mask=attention_mask,
            training=training,
            return_attention_scores=return_attention_scores,
            heads_first=cache is not None,
        )
        output = self._output_dense(output)  # (B, T, D)
        results = (output,)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def _project(self, query, value, key, cache, cache_update_index, offset):
        """Query, key and value heads, reading or updating the cache.

        Returns:
            `(B, T, N, H)` queries; keys and values, `(B, S, K, H)` without a
            cache and `(B, K, S, H)` (the cache's layout) with one; and the
            cache (updated with the new keys and values when
            `cache_update_index` is given).
        """
        if cache is not None and cache_update_index is None:
            # Static cache: pre-computed keys and values (cross-attention).
            query_heads = self._query_dense(query)  # (B, T, N, H)
            if self.rotary_embedding is not None:
                query_heads = self.rotary_embedding(query_heads, start_index=offset)
            return query_heads, cache[:, 0], cache[:, 1], cache  # keys (B, K, S, H)
        if cache is not None and self._can_fuse(query, value, key):  # decoding
            query_heads, key_heads, value_heads = self._fused_projection(query)
        else:
            query_heads = self._query_dense(query)  # (B, T, N, H)
            key_heads = self._key_dense(key)  # (B, S, K, H)
            value_heads = self._value_dense(value)  # (B, S, K, H)
        if self.rotary_embedding is not None:
            query_heads = self.rotary_embedding(query_heads, start_index=offset)
            key_heads = self.rotary_embedding(key_heads, start_index=offset)
        if cache is not None:
            # One in-place write of the new positions (XLA updates the loop's
            # buffer; stacking updated halves would copy the whole cache).
            new = ops.stack([key_heads, value_heads], axis=1)  # (B, 2, T, K, H)
            new = ops.transpose(new, (0, 1, 3, 2, 4))  # (B, 2, K, T, H)
            cache = ops.slice_update(cache, [0, 0, 0, cache_update_index, 0], new)
            key_heads, value_heads = cache[:, 0], cache[:, 1]  # (B, K, S, H)
        return query_heads, key_heads, value_heads, cache

    def _can_fuse(self, query, value, key):
        """Whether `_fused_projection` computes what the three projections would."""
        projections = (self._query_dense, self._key_dense, self._value_dense)
        return (
            value is query
            and key is query
            and self._value_dim == self._key_dim
            and all(
                getattr(dense, "quantization_mode", None) is None
                and not getattr(dense, "lora_enabled", False)
                for dense in projections
            )
        )

    def _fused_projection(self, query):
        """Query, key and value heads of `query` from one matrix product.

        Used for cached self-attention (decoding), with the same weights: the
        three kernels are concatenated into one `(D, (N + 2K) H)` matrix. A
        decoding step projects one token, and XLA's CPU compiler turns each of
        three one-row products into a slow loop (measured: 0.5 ms each at width
        512, 9 of 14 ms of a batch-1 step of a 6-layer model); the one
        concatenated product runs as a fast matrix-vector product (the whole
        step: 14 -> 4 ms). Training keeps the three products, which oneDNN runs
        well.

        Returns:
            `(B, T, N, H)` queries and `(B, T, K, H)` keys and values.
        """
        projections = (self._query_dense, self._key_dense, self._value_dense)
        width = query.shape[-1]
        kernel = ops.concatenate(
            [ops.reshape(dense.kernel, (width, -1)) for dense in projections], axis=1
        )  # (D, (N + 2K) H)
        shape = ops.shape(query)
        heads = ops.matmul(
            ops.reshape(query, (-1, width)), ops.cast(kernel, query.dtype)
        )  # (B T, (N + 2K) H)
        if self._use_bias:
            bias = ops.concatenate([ops.reshape(dense.bias, (-1,)) for dense in projections], 0)
            heads = heads + ops.cast(bias, heads.dtype)  # ((N + 2K) H,)
        num_heads, num_kv_heads = self._num_heads, self.num_key_value_heads
        heads = ops.reshape(
            heads, (shape[0], shape[1], num_heads + 2 * num_kv_heads, self._key_dim)
        )  # (B, T, N + 2K, H)
        return (
            heads[:, :, :num_heads],
            heads[:, :, num_heads : num_heads + num_kv_heads],
            heads[:, :, num_heads + num_kv_heads :],
        )

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        heads_first=False,
    ):
        """Scaled dot-product attention on projected heads (equation 1).

        Args:
            query: `(B, T, N, H)`; key and value: `(B, S, K, H)`, or
                `(B, K, S, H)` with `heads_first=True` (a cache's layout).
            attention_mask: `(B, T, S)` boolean or `None`.
            heads_first: layout of `key` and `value`.

        Returns:
            `(B, T, N, H)` outputs and the `(B, N, T, S)` probabilities (or
            `None` on the fused path).
        """
        groups = self._num_heads // self.num_key_value_heads
        if groups > 1:
            key = ops.repeat(key, groups, axis=1 if heads_first else 2)  # N heads
            value = ops.repeat(value, groups, axis=1 if heads_first else 2)
        mask = None if attention_mask is None else attention_mask[:, None]  # (B, 1, T, S)
        attention_dropout = bool(training) and self._dropout > 0
        if heads_first and self.attention_chunk_size is not None:
            # Long cached prefills: chunk in the (B, S, N, H) layout.
            key = ops.transpose(key, (0, 2, 1, 3))  # (B, S, N, H)
            value = ops.transpose(value, (0, 2, 1, 3))  # (B, S, N, H)
            heads_first = False
        if not return_attention_scores and not attention_dropout and not heads_first:
            if self.attention_chunk_size is not None:
                output = chunked_dot_product_attention(
                    query,
                    key,
                    value,
                    self.attention_chunk_size,
                    mask=mask,
                    scale=self._inverse_sqrt_key_dim,
                )
                return output, None
            output = ops.dot_product_attention(
                query, key, value, mask=mask, scale=self._inverse_sqrt_key_dim
            )
            return output, None
        keys = "bnsh" if heads_first else "bsnh"
        scores = ops.einsum(f"btnh,{keys}->bnts", query, key)  # (B, N, T, S)
        scores = ops.cast(scores, "float32") * self._inverse_sqrt_key_dim
        if mask is not None:
            scores = ops.where(mask, scores, _MASKED_SCORE)
        probabilities = ops.softmax(scores, axis=-1)  # float32
        dropped = self._dropout_layer(probabilities, training=training)
        output = ops.einsum(
            f"bnts,{keys}->btnh", ops.cast(dropped, value.dtype), value
        )  # (B, T, N, H)
        return output, probabilities

    def compute_output_spec(self, query, value=None, key=None, **kwargs):
        return_scores = kwargs.get("return_attention_scores", False)
        cache = kwargs.get("cache")
        value = query if value is None else value
        width = self._output_shape[-1] if self._output_shape else query.shape[-1]
        output = keras.KerasTensor(query.shape[:-1] + (width,), dtype=self.compute_dtype)
        results = (output,)
        if return_scores:
            key_length = cache.shape[3] if cache is not None else value.shape[1]
            results += (
                keras.KerasTensor(
                    (query.shape[0], self._num_heads, query.shape[1], key_length),
                    dtype="float32",
                ),
            )
        if cache is not None:
            results += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return results[0] if len(results) == 1 else results

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        width = self._output_shape[-1] if self._output_shape else query_shape[-1]
        return tuple(query_shape[:-1]) + (width,)

    def get_config(self):
        config = super().get_config()
        config.pop("attention_axes", None)
        config.pop("flash_attention", None)
        config.pop("sliding_window", None)
        config.pop("use_gate", None)
        config.update(
            {
                "num_key_value_heads": self.num_key_value_heads,
                "use_rotary": self.use_rotary,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "attention_chunk_size": self.attention_chunk_size,
            }
        )
        return config


def _length(heads, axis=1):
    """Static length of `axis` when known, else the dynamic one."""
    return heads.shape[axis] if heads.shape[axis] is not None else ops.shape(heads)[axis]


@keras.saving.register_keras_serializable(package="transformer_keras")
class AttentionBlock(ResidualBlock):
    """Attention sub-layer with its residual connection, dropout and norm.

    `x + Dropout(Attention(x))` followed by LayerNorm (the paper's post-LN), or
    `x + Dropout(Attention(LayerNorm(x)))` with `normalize_first=True`
    (pre-LN). One class serves encoder self-attention, decoder causal
    self-attention (`use_causal_mask=True`, optional cache) and cross-attention
    (`context=` the encoder output).

    Args:
        num_heads: number of query heads.
        key_dim: head size `H` (usually `hidden_dim // num_heads`).
        num_key_value_heads: key/value heads for grouped-query attention.
        dropout: residual dropout rate (the paper's P_drop).
        attention_dropout: dropout on attention probabilities.
        normalize_first: pre-LN when True, the paper's post-LN when False.
        layer_norm_epsilon: epsilon of the layer normalization.
        use_rotary: rotary position embedding on queries and keys.
        use_bias: biases in the projections.
        kernel_initializer: initializer of the projection kernels.

    Call arguments:
        inputs: `(B, T, D)`.
        context: `(B, S, D)` for cross-attention; `None` for self-attention.
        padding_mask: `(B, T)`, True at real tokens of `inputs`.
        context_padding_mask: `(B, S)`, True at real tokens of `context` (or
            of the whole cache for cached self-attention).
        attention_mask: `(B, T, S)` extra boolean mask.
        use_causal_mask: causal self-attention.
        cache, cache_update_index: see `MultiHeadAttention`.
        return_attention_scores: also return the probabilities.
        training: enables dropout.

    Returns:
        `(B, T, D)`, plus scores and/or cache as in `MultiHeadAttention`.

    Example:
    >>> import numpy as np
    >>> block = AttentionBlock(num_heads=2, key_dim=4)
    >>> tuple(block(np.random.rand(2, 5, 8).astype("float32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        num_key_value_heads=None,
        dropout=0.0,
        attention_dropout=0.0,
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        use_rotary=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(
            dropout=dropout,
            normalize_first=normalize_first,
            layer_norm_epsilon=layer_norm_epsilon,
            **kwargs,
        )
        check_rate("attention_dropout", attention_dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.num_key_value_heads = num_key_value_heads
        self.attention_dropout = attention_dropout
        self.use_rotary = use_rotary
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention = MultiHeadAttention(
            num_heads=num_heads,
            key_dim=key_dim,
            num_key_value_heads=num_key_value_heads,
            dropout=attention_dropout,
            use_bias=use_bias,
            use_rotary=use_rotary,
            kernel_initializer=kernel_initializer,
            dtype=self.dtype_policy,
            name="attention",
        )

    def build(self, inputs_shape, context_shape=None):
        context_shape = inputs_shape if context_shape is None else context_shape
        self.attention.build(inputs_shape, context_shape)
        super().build(inputs_shape)

    def call(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        masks.check_padding_mask("padding_mask", padding_mask, *inputs.shape[:2])
        if cache is not None:  # (B, 2, K, S, H)
            masks.check_padding_mask(
                "context_padding_mask", context_padding_mask, cache.shape[0], cache.shape[3]
            )
        elif context is not None:  # (B, S, D)
            masks.check_padding_mask(
                "context_padding_mask", context_padding_mask, *context.shape[:2]
            )
        extras = {}

        def attend(normalized):
            # Self-attention reads the normalized inputs as keys and values too.
            results = self.attention(
                normalized,
                value=context,
                query_padding_mask=padding_mask,
                value_padding_mask=(
                    padding_mask if context is None and cache is None else context_padding_mask
                ),
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                cache=cache,
                cache_update_index=cache_update_index,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            if not isinstance(results, tuple):
                return results
            output, *rest = results
            if return_attention_scores:
                extras["scores"] = rest.pop(0)
            if cache is not None:
                extras["cache"] = rest.pop(0)
            return output

        outputs = self.residual(inputs, attend, training=training)
        results = (outputs,) + tuple(extras[k] for k in ("scores", "cache") if k in extras)
        return results[0] if len(results) == 1 else results

    def compute_output_spec(self, *args, **kwargs):
        # Scores and caches add outputs: trace `call` instead of using one shape.
        return keras.Operation.compute_output_spec(self, *args, **kwargs)

    def compute_output_shape(self, inputs_shape, context_shape=None):
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "num_key_value_heads": self.num_key_value_heads,
            "attention_dropout": self.attention_dropout,
            "use_rotary": self.use_rotary,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
