"""Multi-head attention and the residual block around it.

Over 400 lines on purpose: one attention path (full, cached, static cache,
fused and chunked) that every layer calls.

This is the only module that computes attention. Encoder self-attention,
decoder causal self-attention and cross-attention are three calls of
`AttentionBlock`; the KV cache for decoding lives here too.

Every method has one return shape: `call` returns the outputs;
`call_with_cache` (self-attention over a KV cache it writes to) returns the
outputs and the updated cache; `call_with_static_cache` attends over
pre-computed keys and values (cross-attention while decoding) and returns the
outputs; `attention_scores` returns the attention probabilities.

Legend: B batch, T query length, S key length, N query heads, K key/value
heads, H head size, D model width.
"""

import keras
from keras import ops

from transformer_keras.layers import masks
from transformer_keras.layers.chunked_attention import chunked_dot_product_attention
from transformer_keras.layers.method_inputs import build_if_needed, convert_inputs
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
    whenever no attention dropout is active. Softmax always runs in float32.

    The cache of `call_with_cache` is `(B, 2, K, S_max, H)`: keys and values,
    heads before positions, so that a one-query step reads each head's keys as
    one contiguous block (with positions before heads, XLA would transpose the
    whole cache at every step).

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
        value_padding_mask: `(B, S)` boolean, True at real keys. Defaults to
            the Keras mask of `value`.
        attention_mask: `(B, T, S)` boolean, True = may attend.
        use_causal_mask: forbid attending to later positions.
        training: enables attention dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(3, 5, 8).astype("float32")
    >>> tuple(layer(x, use_causal_mask=True).shape)
    (3, 5, 8)
    >>> tuple(layer.attention_scores(x, use_causal_mask=True).shape)  # (B, N, T, S)
    (3, 2, 5, 5)
    >>> cache = np.zeros((3, 2, 2, 10, 4), "float32")  # (B, 2, K, S_max, H)
    >>> outputs, cache = layer.call_with_cache(x[:, :1], cache, cache_update_index=0)
    >>> tuple(outputs.shape), tuple(cache.shape)
    ((3, 1, 8), (3, 2, 2, 10, 4))
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
        training=None,
    ):
        query_heads, key_heads, value_heads, mask = self._heads_and_mask(
            query,
            value,
            key,
            query_padding_mask,
            value_padding_mask,
            attention_mask,
            use_causal_mask,
        )
        output, _ = self._compute_attention(
            query_heads, key_heads, value_heads, attention_mask=mask, training=training
        )
        return self._output_dense(output)  # (B, T, D)

    def attention_scores(
        self,
        query,
        value=None,
        key=None,
        query_padding_mask=None,
        value_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
    ):
        """The attention probabilities of `call` with the same arguments.

        Returns:
            `(B, N, T, S)` float32 probabilities; each row sums to 1 over the
            keys its query may attend to (masked keys get exactly 0).
        """
        query, value, key = convert_inputs(self, query, value, key)
        build_if_needed(self, query, value, key)
        query_heads, key_heads, _, mask = self._heads_and_mask(
            query,
            value,
            key,
            query_padding_mask,
            value_padding_mask,
            attention_mask,
            use_causal_mask,
        )
        return self._probabilities(query_heads, self._repeat_key_value_heads(key_heads), mask)

    def call_with_cache(
        self,
        query,
        cache,
        cache_update_index,
        query_padding_mask=None,
        value_padding_mask=None,
        attention_mask=None,
        use_causal_mask=True,
    ):
        """Self-attention of `query` at `cache_update_index` over a KV cache.

        The keys and values of `query` are written into `cache` at positions
        `cache_update_index ..` (one in-place `slice_update`), then the
        queries attend over the whole cache. Unwritten positions are excluded
        by the causal mask (the default) or by `value_padding_mask`.

        Args:
            query: `(B, T, D)` the new positions (a prompt, or one token).
            cache: `(B, 2, K, S_max, H)` keys and values of earlier positions.
            cache_update_index: scalar int, position of `query[:, 0]`.
            query_padding_mask: `(B, T)`; defaults to the Keras mask of `query`.
            value_padding_mask: `(B, S_max)`, True at real cache positions.
            attention_mask: `(B, T, S_max)` boolean.
            use_causal_mask: query `t` sees cache positions up to
                `cache_update_index + t`.

        Returns:
            `(outputs (B, T, D), cache (B, 2, K, S_max, H))`.
        """
        if cache_update_index is None:
            raise ValueError(
                "`call_with_cache` writes the new keys and values at "
                "`cache_update_index` (for pre-computed keys and values use "
                "`call_with_static_cache`). Received: cache_update_index=None"
            )
        query, cache = convert_inputs(self, query, cache)
        build_if_needed(self, query)
        masks.check_padding_mask("query_padding_mask", query_padding_mask, *query.shape[:2])
        masks.check_padding_mask(
            "value_padding_mask", value_padding_mask, query.shape[0], cache.shape[3]
        )
        with masks.detached_implicit_masks(query) as (implicit_query_mask,):
            if self._can_fuse():
                query_heads, key_heads, value_heads = self._fused_projection(query)
            else:
                query_heads = self._query_dense(query)  # (B, T, N, H)
                key_heads = self._key_dense(query)  # (B, T, K, H)
                value_heads = self._value_dense(query)  # (B, T, K, H)
        query_heads, key_heads = self._rotate(query_heads, key_heads, cache_update_index)
        # One in-place write of the new positions (XLA updates the loop's
        # buffer; stacking updated halves would copy the whole cache).
        new = ops.stack([key_heads, value_heads], axis=1)  # (B, 2, T, K, H)
        new = ops.transpose(new, (0, 1, 3, 2, 4))  # (B, 2, K, T, H)
        cache = ops.slice_update(cache, [0, 0, 0, cache_update_index, 0], new)
        mask = masks.merge_attention_masks(
            query_length=_length(query_heads),
            key_length=_length(cache, axis=3),
            query_padding_mask=(
                implicit_query_mask if query_padding_mask is None else query_padding_mask
            ),
            key_padding_mask=value_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            causal_offset=cache_update_index,
        )
        output, _ = self._compute_attention(
            query_heads, cache[:, 0], cache[:, 1], attention_mask=mask, heads_first=True
        )  # keys and values (B, K, S_max, H)
        return self._output_dense(output), cache  # (B, T, D)

    def compute_static_cache(self, value, key=None):
        """Keys and values of `value` for `call_with_static_cache`.

        Args:
            value: `(B, S, D)`, e.g. the encoder output.
            key: `(B, S, D)`. Defaults to `value`.

        Returns:
            `(B, 2, K, S, H)`, the layout of `call_with_cache`'s cache.
        """
        key = value if key is None else key
        value, key = convert_inputs(self, value, key)
        build_if_needed(self, value, value, key)
        with masks.detached_implicit_masks(value, key):  # projections cannot use them
            key_heads = self._key_dense(key)  # (B, S, K, H)
            value_heads = self._value_dense(value)  # (B, S, K, H)
        if self.rotary_embedding is not None:
            key_heads = self.rotary_embedding(key_heads)
        cache = ops.stack([key_heads, value_heads], axis=1)  # (B, 2, S, K, H)
        return ops.transpose(cache, (0, 1, 3, 2, 4))  # (B, 2, K, S, H)

    def call_with_static_cache(
        self,
        query,
        cache,
        query_padding_mask=None,
        value_padding_mask=None,
        attention_mask=None,
    ):
        """Attention of `query` over pre-computed keys and values.

        Equals `call(query, value)` when `cache = compute_static_cache(value)`;
        the cache is only read (cross-attention over an encoder output while
        decoding).

        Args:
            query: `(B, T, D)`.
            cache: `(B, 2, K, S, H)` from `compute_static_cache`.
            query_padding_mask: `(B, T)`; defaults to the Keras mask of `query`.
            value_padding_mask: `(B, S)`, True at real keys.
            attention_mask: `(B, T, S)` boolean.

        Returns:
            `(B, T, D)`.
        """
        query, cache = convert_inputs(self, query, cache)
        build_if_needed(self, query)
        masks.check_padding_mask("query_padding_mask", query_padding_mask, *query.shape[:2])
        masks.check_padding_mask(
            "value_padding_mask", value_padding_mask, query.shape[0], cache.shape[3]
        )
        with masks.detached_implicit_masks(query) as (implicit_query_mask,):
            query_heads = self._query_dense(query)  # (B, T, N, H)
        if self.rotary_embedding is not None:
            query_heads = self.rotary_embedding(query_heads)
        mask = masks.merge_attention_masks(
            query_length=_length(query_heads),
            key_length=_length(cache, axis=3),
            query_padding_mask=(
                implicit_query_mask if query_padding_mask is None else query_padding_mask
            ),
            key_padding_mask=value_padding_mask,
            attention_mask=attention_mask,
        )
        output, _ = self._compute_attention(
            query_heads, cache[:, 0], cache[:, 1], attention_mask=mask, heads_first=True
        )  # keys and values (B, K, S, H)
        return self._output_dense(output)  # (B, T, D)

    # ------------------------------------------------------------- internals
    def _heads_and_mask(
        self,
        query,
        value,
        key,
        query_padding_mask,
        value_padding_mask,
        attention_mask,
        use_causal_mask,
    ):
        """Projected heads and the merged `(B, T, S)` mask of an uncached call.

        Returns:
            `(B, T, N, H)` queries, `(B, S, K, H)` keys and values, and the
            mask (or `None`).
        """
        self_attention = value is None
        value = query if value is None else value
        key = value if key is None else key
        masks.check_padding_mask("query_padding_mask", query_padding_mask, *query.shape[:2])
        masks.check_padding_mask(
            "value_padding_mask", value_padding_mask, query.shape[0], value.shape[1]
        )
        # The projections cannot use Keras masks: detach them while projecting
        # (the caller's tensors get them back for their other consumers).
        with masks.detached_implicit_masks(query, value, key) as implicit_masks:
            query_heads = self._query_dense(query)  # (B, T, N, H)
            key_heads = self._key_dense(key)  # (B, S, K, H)
            value_heads = self._value_dense(value)  # (B, S, K, H)
        query_heads, key_heads = self._rotate(query_heads, key_heads, 0)
        implicit_query_mask, implicit_value_mask, _ = implicit_masks
        if query_padding_mask is None:
            query_padding_mask = implicit_query_mask
        if value_padding_mask is None:
            value_padding_mask = implicit_value_mask
            if self_attention and value_padding_mask is None:
                value_padding_mask = query_padding_mask
        mask = masks.merge_attention_masks(
            query_length=_length(query_heads),
            key_length=_length(key_heads),
            query_padding_mask=query_padding_mask,
            key_padding_mask=value_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
        )
        return query_heads, key_heads, value_heads, mask

    def _rotate(self, query_heads, key_heads, start_index):
        """Rotary embedding of queries and keys from position `start_index`."""
        if self.rotary_embedding is None:
            return query_heads, key_heads
        return (
            self.rotary_embedding(query_heads, start_index=start_index),
            self.rotary_embedding(key_heads, start_index=start_index),
        )

    def _can_fuse(self):
        """Whether `_fused_projection` computes what the three projections would."""
        projections = (self._query_dense, self._key_dense, self._value_dense)
        return self._value_dim == self._key_dim and all(
            getattr(dense, "quantization_mode", None) is None
            and not getattr(dense, "lora_enabled", False)
            for dense in projections
        )

    def _fused_projection(self, query):
        """Query, key and value heads of `query` from one matrix product.

        Used for cached self-attention (decoding), with the same weights: the
        three kernels are concatenated into one `(D, (N + 2K) H)` matrix. A
        decoding step projects a single token, and XLA's CPU compiler turns a
        product of one row by a matrix into a loop that is slow next to a
        matrix-vector product; one product with the concatenated kernel pays
        that cost once instead of three times. Training projects many rows at
        once and keeps the three products, which oneDNN runs well. A projection
        with a LoRA update or quantized weights is not fused (`_can_fuse`).

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

    def _repeat_key_value_heads(self, heads, heads_first=False):
        """`K` key or value heads -> `N`, each shared by `N / K` query heads."""
        groups = self._num_heads // self.num_key_value_heads
        if groups == 1:
            return heads
        return ops.repeat(heads, groups, axis=1 if heads_first else 2)  # N heads

    def _probabilities(self, query, key, attention_mask, heads_first=False):
        """Softmax of the scaled, masked scores, in float32 (equation 1).

        Args:
            query: `(B, T, N, H)`; key: `(B, S, N, H)`, or `(B, N, S, H)` with
                `heads_first=True`.
            attention_mask: `(B, T, S)` boolean or `None`.

        Returns:
            `(B, N, T, S)` float32.
        """
        keys = "bnsh" if heads_first else "bsnh"
        scores = ops.einsum(f"btnh,{keys}->bnts", query, key)  # (B, N, T, S)
        scores = ops.cast(scores, "float32") * self._inverse_sqrt_key_dim
        if attention_mask is not None:
            scores = ops.where(attention_mask[:, None], scores, _MASKED_SCORE)  # (B, 1, T, S)
        return ops.softmax(scores, axis=-1)

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

        The fused `ops.dot_product_attention` (or its query-chunked form) runs
        unless attention dropout is active or the probabilities are asked for;
        then the explicit float32 softmax does.

        Args:
            query: `(B, T, N, H)`; key and value: `(B, S, K, H)`, or
                `(B, K, S, H)` with `heads_first=True` (a cache's layout).
            attention_mask: `(B, T, S)` boolean or `None`.
            return_attention_scores: take the explicit path and return the
                probabilities.
            heads_first: layout of `key` and `value`.

        Returns:
            `(B, T, N, H)` outputs and the `(B, N, T, S)` probabilities (or
            `None` on the fused path).
        """
        key = self._repeat_key_value_heads(key, heads_first)
        value = self._repeat_key_value_heads(value, heads_first)
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
        probabilities = self._probabilities(query, key, attention_mask, heads_first)
        dropped = self._dropout_layer(probabilities, training=training)
        keys = "bnsh" if heads_first else "bsnh"
        output = ops.einsum(
            f"bnts,{keys}->btnh", ops.cast(dropped, value.dtype), value
        )  # (B, T, N, H)
        return output, probabilities

    def compute_output_spec(self, query, value=None, key=None, **kwargs):
        width = self._output_shape[-1] if self._output_shape else query.shape[-1]
        return keras.KerasTensor(query.shape[:-1] + (width,), dtype=self.compute_dtype)

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


def _length(tensor, axis=1):
    """Static length of `axis` when known, else the dynamic one."""
    return tensor.shape[axis] if tensor.shape[axis] is not None else ops.shape(tensor)[axis]


@keras.saving.register_keras_serializable(package="transformer_keras")
class AttentionBlock(ResidualBlock):
    """Attention sub-layer with its residual connection, dropout and norm.

    `x + Dropout(Attention(x))` followed by LayerNorm (the paper's post-LN), or
    `x + Dropout(Attention(LayerNorm(x)))` with `normalize_first=True`
    (pre-LN). One class serves encoder self-attention, decoder causal
    self-attention (`use_causal_mask=True`; `call_with_cache` while decoding)
    and cross-attention (`context=` the encoder output;
    `call_with_static_cache` over its pre-computed keys and values while
    decoding).

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
        context_padding_mask: `(B, S)`, True at real tokens of `context`.
        attention_mask: `(B, T, S)` extra boolean mask.
        use_causal_mask: causal self-attention.
        training: enables dropout.

    Returns:
        `(B, T, D)`.

    Example:
    >>> import numpy as np
    >>> block = AttentionBlock(num_heads=2, key_dim=4)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(block(x).shape)
    (2, 5, 8)
    >>> tuple(block.attention_scores(x).shape)  # (B, N, T, S)
    (2, 2, 5, 5)
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
        training=None,
    ):
        outputs = self.attention(
            self.sublayer_inputs(inputs),
            **self._attention_arguments(
                inputs, context, padding_mask, context_padding_mask, attention_mask
            ),
            use_causal_mask=use_causal_mask,
            training=training,
        )
        return self.add_residual(inputs, outputs, training=training)

    def attention_scores(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
    ):
        """The attention probabilities of `call` with the same arguments.

        Returns:
            `(B, N, T, S)` float32, `S` being the length of `context` (or `T`).
        """
        inputs, context = convert_inputs(self, inputs, context)
        build_if_needed(self, inputs, context)
        return self.attention.attention_scores(
            self.sublayer_inputs(inputs),
            **self._attention_arguments(
                inputs, context, padding_mask, context_padding_mask, attention_mask
            ),
            use_causal_mask=use_causal_mask,
        )

    def call_with_cache(
        self,
        inputs,
        cache,
        cache_update_index,
        padding_mask=None,
        cache_padding_mask=None,
        attention_mask=None,
        use_causal_mask=True,
    ):
        """Cached self-attention step (see `MultiHeadAttention.call_with_cache`).

        Args:
            inputs: `(B, T, D)` the new positions.
            cache: `(B, 2, K, S_max, H)` keys and values of earlier positions.
            cache_update_index: scalar int, position of `inputs[:, 0]`.
            padding_mask: `(B, T)`, True at real tokens of `inputs`.
            cache_padding_mask: `(B, S_max)`, True at real cache positions.
            attention_mask: `(B, T, S_max)` boolean.
            use_causal_mask: causal self-attention (the default: it also hides
                the cache positions not written yet).

        Returns:
            `(outputs (B, T, D), cache (B, 2, K, S_max, H))`.
        """
        inputs, cache = convert_inputs(self, inputs, cache)
        build_if_needed(self, inputs)
        masks.check_padding_mask("padding_mask", padding_mask, *inputs.shape[:2])
        masks.check_padding_mask(
            "cache_padding_mask", cache_padding_mask, cache.shape[0], cache.shape[3]
        )
        outputs, cache = self.attention.call_with_cache(
            self.sublayer_inputs(inputs),
            cache,
            cache_update_index,
            query_padding_mask=padding_mask,
            value_padding_mask=cache_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
        )
        return self.add_residual(inputs, outputs, training=False), cache

    def call_with_static_cache(
        self, inputs, cache, padding_mask=None, context_padding_mask=None, attention_mask=None
    ):
        """Cross-attention over pre-computed keys and values of the context.

        Equals `call(inputs, context)` when
        `cache = self.attention.compute_static_cache(context)`.

        Args:
            inputs: `(B, T, D)`.
            cache: `(B, 2, K, S, H)` keys and values of the context.
            padding_mask: `(B, T)`, True at real tokens of `inputs`.
            context_padding_mask: `(B, S)`, True at real context tokens.
            attention_mask: `(B, T, S)` boolean.

        Returns:
            `(B, T, D)`.
        """
        inputs, cache = convert_inputs(self, inputs, cache)
        build_if_needed(self, inputs)
        masks.check_padding_mask("padding_mask", padding_mask, *inputs.shape[:2])
        masks.check_padding_mask(
            "context_padding_mask", context_padding_mask, cache.shape[0], cache.shape[3]
        )
        outputs = self.attention.call_with_static_cache(
            self.sublayer_inputs(inputs),
            cache,
            query_padding_mask=padding_mask,
            value_padding_mask=context_padding_mask,
            attention_mask=attention_mask,
        )
        return self.add_residual(inputs, outputs, training=False)

    def _attention_arguments(
        self, inputs, context, padding_mask, context_padding_mask, attention_mask
    ):
        """The `MultiHeadAttention` arguments of `call` and `attention_scores`.

        Self-attention (`context=None`) reads the sub-layer inputs as keys and
        values too, with `padding_mask` on both sides.
        """
        masks.check_padding_mask("padding_mask", padding_mask, *inputs.shape[:2])
        if context is not None:  # (B, S, D)
            masks.check_padding_mask(
                "context_padding_mask", context_padding_mask, *context.shape[:2]
            )
        return {
            "value": context,
            "query_padding_mask": padding_mask,
            "value_padding_mask": padding_mask if context is None else context_padding_mask,
            "attention_mask": attention_mask,
        }

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
