"""Translating with a `Transformer`: strings or ids in, translations out.

`TranslationMixin` gives the model its inference entry points: `search()` (one
compiled graph: greedy decoding through the package's one cached decode loop
for `beam_size == 1`, batched beam search otherwise), `greedy_search()`,
`beam_search()`, `encode_source()` and `translate()`. The mixin relies on the
model's `encode`, `decode_with_cache`, `initial_cache`, `cross_attention_cache`, its
special ids, `max_sequence_length` and tokenizers.

Translation runs on the TensorFlow backend only. Beam search keeps its beam
size and length as tensors, so one traced graph (and the exported signature)
serves every beam size, with loop variables whose shapes change between
calls; `jax.jit` needs static shapes, so a JAX beam search would compile per
beam size and length, and the exported translator would lose its one graph.
Greedy search goes through the backend-neutral decode loop, but as a branch
of that same graph. TensorFlow is imported where it is used: on JAX these
methods raise a `ValueError` saying so, and the rest of the model runs.

Legend: B batch, S source length, T target length, K beams, L layers,
H head size.
"""

import keras

# Largest beam accepted by `search`, `translate` and the exported signature.
MAX_BEAM_SIZE = 16


def _check_search_settings(beam_size, max_length):
    """Python-side checks (tensors are checked in the graph)."""
    if isinstance(beam_size, int) and not 1 <= beam_size <= MAX_BEAM_SIZE:
        raise ValueError(
            f"`beam_size` must be an integer in [1, {MAX_BEAM_SIZE}]. "
            f"Received: beam_size={beam_size!r}"
        )
    if isinstance(max_length, int) and max_length <= 0:
        raise ValueError(
            f"`max_length` must be a positive integer. Received: max_length={max_length!r}"
        )


def _check_backend():
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Translation (greedy and beam search) runs on the tensorflow backend: beam "
            "search keeps its beam size and length as tensors of one traced graph. Save "
            "the model as `.keras` and reload it under KERAS_BACKEND=tensorflow to "
            f"translate. Received: backend={keras.backend.backend()!r}"
        )


def assert_search_settings(beam_size, max_length):
    """In-graph checks of `beam_size` and `max_length` (exported signatures)."""
    import tensorflow as tf

    return [
        tf.debugging.assert_greater_equal(
            beam_size, 1, message=f"`beam_size` must be in [1, {MAX_BEAM_SIZE}]"
        ),
        tf.debugging.assert_less_equal(
            beam_size, MAX_BEAM_SIZE, message=f"`beam_size` must be in [1, {MAX_BEAM_SIZE}]"
        ),
        tf.debugging.assert_greater(max_length, 0, message="`max_length` must be positive"),
    ]


class TranslationMixin:
    """Inference methods of `Transformer` (see the module docstring)."""

    def search(self, source_ids, beam_size=4, max_length=None, alpha=0.6):
        """Translates source ids: greedy for `beam_size == 1`, else beam search.

        One compiled graph (TensorFlow backend) serves every batch size,
        source length, beam size and `max_length`: it runs the encoder once,
        then either the package's one cached decode loop with greedy sampling
        (`generation/decode.py`, `beam_size == 1`) or the batched beam search
        (`generation/beam_search.py`).

        Args:
            source_ids: `(B, S)` int ids, padded with `pad_id`.
            beam_size: `K` in `[1, MAX_BEAM_SIZE]` (int or scalar tensor).
            max_length: most target tokens to generate (end included), >= 1;
                values above `max_sequence_length` are clamped to it.
                Defaults to `max_sequence_length`.
            alpha: GNMT length-penalty exponent of beam search.

        Returns:
            `(B, T)` int32 ids without the start id, ending with `end_id`
            then padding (no end id when cut by `max_length`).
        """
        import tensorflow as tf

        _check_backend()
        if max_length is None:
            max_length = self.max_sequence_length
        _check_search_settings(beam_size, max_length)
        if not self.built:
            self.build()
        if self._compiled_search is None:
            self._compiled_search = tf.function(
                self._search,
                autograph=False,
                input_signature=[
                    tf.TensorSpec([None, None], tf.int32, name="source_ids"),
                    tf.TensorSpec([], tf.int32, name="beam_size"),
                    tf.TensorSpec([], tf.int32, name="max_length"),
                    tf.TensorSpec([], tf.float32, name="alpha"),
                ],
            )
        return self._compiled_search(
            tf.cast(source_ids, tf.int32),
            tf.cast(beam_size, tf.int32),
            tf.cast(max_length, tf.int32),
            tf.cast(alpha, tf.float32),
        )

    def _search(self, source_ids, beam_size, max_length, alpha):
        import tensorflow as tf

        with tf.control_dependencies(assert_search_settings(beam_size, max_length)):
            source_ids, beam_size, max_length = (
                tf.identity(source_ids),
                tf.identity(beam_size),
                tf.identity(max_length),
            )
        max_length = tf.minimum(max_length, self.max_sequence_length)
        encoded = self.encode(source_ids)
        return tf.cond(
            tf.equal(beam_size, 1),
            lambda: self.greedy_search(source_ids, max_length, encoded),
            lambda: self.beam_search(source_ids, beam_size, max_length, alpha, encoded)[0],
        )

    def _step_function(self, source_padding_mask, cross_attention_cache):
        """The cached decoder step `(token_ids, cache, index) -> (logits, cache)`."""

        def step_fn(token_ids, cache, cache_update_index):
            return self.decode_with_cache(
                token_ids,
                cache,
                cache_update_index,
                source_padding_mask=source_padding_mask,
                cross_attention_cache=cross_attention_cache,
            )

        return step_fn

    def greedy_search(self, source_ids, max_length, encoded=None):
        """Greedy decoding through the one cached decode loop (`generation/decode.py`).

        Args:
            source_ids: `(B, S)` source ids.
            max_length: scalar, most tokens to generate (<= `max_sequence_length`).
            encoded: `encode(source_ids)` when already computed.

        Returns:
            `(B, max_length)` int32 ids, padded after the end id.
        """
        import tensorflow as tf

        from transformer_keras.generation.decode import cache_length, decode
        from transformer_keras.generation.sampling import sample

        _check_backend()
        context, source_padding_mask = encoded or self.encode(source_ids)
        batch_size = tf.shape(source_ids)[0]
        step_fn = self._step_function(source_padding_mask, self.cross_attention_cache(context))

        def greedy(logits, step):
            return sample(logits, 0.0, 0, 1.0, seed=tf.stack([0, step]))

        tokens, _ = decode(
            step_fn,
            greedy,
            prompt_ids=tf.fill([batch_size, 1], self.start_id),
            prompt_lengths=tf.ones([batch_size], tf.int32),
            max_new_tokens=max_length,
            context_length=self.max_sequence_length,
            # The start id and up to `max_length` tokens, at most the context.
            cache=self.initial_cache(
                batch_size, cache_length(1, max_length, self.max_sequence_length)
            ),
            stop_token_id=self.end_id,
            pad_id=self.pad_id,
        )
        return tokens[:, 1:]  # (B, max_length) without the start id

    def beam_search(self, source_ids, beam_size, max_length, alpha=0.6, encoded=None):
        """Batched beam search (`generation/beam_search.py`).

        The encoder output is computed once per source and its
        cross-attention keys and values once, then repeated for the `K` beams;
        the self-attention cache is reordered by beam at every step.

        Args:
            source_ids: `(B, S)` source ids.
            beam_size: scalar `K` >= 1.
            max_length: scalar, most tokens to generate (<= `max_sequence_length`).
            alpha: GNMT length-penalty exponent.
            encoded: `encode(source_ids)` when already computed.

        Returns:
            `(tokens (B, max_length) int32, scores (B,) float32)`.
        """
        import tensorflow as tf

        from transformer_keras.generation.beam_search import beam_search, expand_to_beams

        _check_backend()
        context, source_padding_mask = encoded or self.encode(source_ids)
        batch_size = tf.shape(source_ids)[0]
        cross_cache = expand_to_beams(self.cross_attention_cache(context), beam_size)
        step_fn = self._step_function(
            expand_to_beams(source_padding_mask, beam_size),  # (B*K, S)
            cross_cache,  # L x (B*K, 2, K, S, H)
        )
        return beam_search(
            step_fn,
            self.initial_cache(batch_size * beam_size, max_length),
            batch_size,
            beam_size,
            max_length,
            start_id=self.start_id,
            end_id=self.end_id,
            pad_id=self.pad_id,
            alpha=alpha,
        )

    def encode_source(self, texts):
        """Source strings `(B,)` -> `(B, S)` int32 ids ending with `end_id`.

        Sources longer than `max_sequence_length` tokens (end included) are
        truncated to their first tokens; `S` is the longest row after that.
        """
        import tensorflow as tf

        tokenizer = self._tokenizer("source_tokenizer")
        ids = tokenizer.encode(texts, self.max_sequence_length, add_end=True)
        longest = tf.reduce_max(tf.reduce_sum(tf.cast(ids != self.pad_id, tf.int32), axis=1))
        return ids[:, : tf.maximum(longest, 1)]  # (B, S)

    def translate(self, texts, beam_size=4, max_length=None, alpha=0.6):
        """Translates strings with beam search (TensorFlow backend).

        Documented behaviours: the translations are valid UTF-8 (a byte-level
        target vocabulary may produce any bytes: invalid sequences become
        U+FFFD); a source without any token (the empty string) gives an empty
        translation; a source longer than `max_sequence_length` tokens is
        truncated; characters the source tokenizer never saw become its
        unknown token; `beam_size` outside `[1, MAX_BEAM_SIZE]` or
        `max_length <= 0` raise an error.

        Args:
            texts: a string or a list / `tf.string` tensor `(B,)`.
            beam_size, max_length, alpha: see `search()`.

        Returns:
            A `tf.string` tensor `(B,)` (a scalar for a scalar input).
        """
        import tensorflow as tf

        from transformer_keras.text.utf8 import valid_utf8

        _check_backend()
        texts = tf.convert_to_tensor(texts, tf.string)
        if texts.shape.rank == 0:
            return self.translate(texts[None], beam_size, max_length, alpha)[0]
        source_ids = self.encode_source(texts)
        tokens = self.search(source_ids, beam_size, max_length, alpha)
        translations = valid_utf8(self._tokenizer("target_tokenizer").detokenize(tokens))
        has_source = source_ids[:, 0] != self.end_id  # (B,) empty sources are [end]
        return tf.where(has_source, translations, "")

    def translate_all(self, texts, beam_size=4, alpha=0.6, batch_size=64):
        """Translates a list of strings, in batches of similar source lengths.

        Each batch decodes at most `2 * longest source + 10` tokens (within the
        context): the self-attention cache the beams reorder at every step is
        then as short as the batch allows.

        Args:
            texts: a list of strings.
            beam_size, alpha: see `search()`.
            batch_size: sentences per batch.

        Returns:
            A list of strings.
        """
        texts = list(texts)
        if not texts:
            return []
        lengths = self._tokenizer("source_tokenizer").tokenize(texts).row_lengths().numpy()
        order = sorted(range(len(texts)), key=lambda index: lengths[index])
        translations = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            indexes = order[start : start + batch_size]
            longest = int(max(lengths[index] for index in indexes))
            max_length = min(2 * longest + 10, self.max_sequence_length)
            batch = self.translate([texts[i] for i in indexes], beam_size, max_length, alpha)
            for index, text in zip(indexes, batch.numpy()):
                translations[index] = text.decode("utf-8", errors="replace")
        return translations

    def _tokenizer(self, name):
        tokenizer = getattr(self, name)
        if tokenizer is None:
            raise ValueError(
                f"This Transformer has no {name}; build it with `{name}=` "
                f"or use `search()` on token ids. Received: {name}=None"
            )
        return tokenizer
