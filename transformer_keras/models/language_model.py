"""Decoder-only language model (GPT-style) with cached, compiled generation.

Over 400 lines: `generate` and `score` take text, ids, settings and
backends, and each entry point documents its contract here; the loop itself
is `generation/decode.py`.

`Backbone(stack="decoder", cross_attention=False)` -> final norm -> output
projection (tied to the token embedding by default). Training is plain
`model.fit` on `(inputs, targets)` windows shifted by one token
(`transformer_keras.data.language_modeling`). `generate()` runs the one
compiled decode loop of `transformer_keras.generation.decode` (prefill once,
then one token per step from the KV cache); `score()` gives the mean negative
log-likelihood of texts. The tokenizer, when given, travels with the model.

Legend: B batch, T length, F frames per text, C context length, D width,
V vocabulary, N heads, L layers.
"""

import keras
from keras import ops

from transformer_keras.generation.prompts import MAX_NEW_TOKENS  # noqa: F401  (public here too)
from transformer_keras.models.backbone import as_backbone
from transformer_keras.models.task import Task

# Tokens `score` sends through the model per call: bounds its memory for any text length.
SCORE_TOKENS_PER_CALL = 2048


@keras.saving.register_keras_serializable(package="transformer_keras")
class TransformerLM(Task):
    """Causal Transformer language model (pre-LN, GELU, tied embeddings).

    Args:
        backbone: a decoder `Backbone` without cross-attention (or its config
            dict); `from_preset` builds one from a preset.
            `backbone.max_sequence_length` is the context `C`: the longest
            input, the size of the KV cache, and where prompts are cut (last
            tokens kept).
        tie_embeddings: project to the vocabulary with the transposed token
            embedding (True) or with a separate `lm_head` Dense layer.
        tokenizer: optional tokenizer layer of `transformer_keras.text`; saved
            with the model, used by `generate(strings)` and `score`.

    Call arguments:
        inputs: `(B, T)` token ids, or a dict `{"token_ids": (B, T),
            "padding_mask": (B, T) boolean}`. Attention is causal.
        training: enables dropout.

    Returns:
        `(B, T, V)` next-token logits, float32 under every dtype policy.

    Example:
    >>> import numpy as np
    >>> model = TransformerLM.from_preset("tiny", vocabulary_size=50)
    >>> tuple(model(np.array([[4, 5, 6]])).shape)
    (1, 3, 50)
    >>> len(model.generate([4, 5, 6], max_new_tokens=3, temperature=0.0))
    3
    >>> from transformer_keras.models import Backbone
    >>> backbone = Backbone(50, num_layers=1, hidden_dim=8, num_heads=2,
    ...     intermediate_dim=16, max_sequence_length=10, stack="decoder")
    >>> tuple(TransformerLM(backbone)(np.array([[4, 5]])).shape)
    (1, 2, 50)
    """

    presets = {
        "tiny": dict(
            num_layers=2,
            hidden_dim=32,
            num_heads=2,
            intermediate_dim=64,
            max_sequence_length=64,
        ),
        # nanoGPT's shakespeare_char recipe for a CPU ("baby GPT", no dropout).
        "nanogpt-cpu": dict(
            num_layers=4,
            hidden_dim=128,
            num_heads=4,
            intermediate_dim=512,
            max_sequence_length=64,
            dropout=0.0,
            use_bias=False,
        ),
        # nanoGPT's shakespeare_char recipe for a GPU.
        "nanogpt-gpu": dict(
            num_layers=6,
            hidden_dim=384,
            num_heads=6,
            intermediate_dim=1536,
            max_sequence_length=256,
            dropout=0.2,
            use_bias=False,
        ),
        "small": dict(
            num_layers=4,
            hidden_dim=256,
            num_heads=4,
            intermediate_dim=1024,
            max_sequence_length=256,
            dropout=0.1,
        ),
    }
    # Decoder arguments a preset starts from (`Backbone`'s defaults otherwise).
    backbone_defaults = dict(
        stack="decoder",
        num_layers=4,
        hidden_dim=128,
        num_heads=4,
        intermediate_dim=512,
        max_sequence_length=256,
        activation="gelu",
        normalize_first=True,
    )
    config_keys = (
        "tie_embeddings",
        "tokenizer",
    )
    tokenizer_keys = ("tokenizer",)

    def __init__(self, backbone, tie_embeddings=True, tokenizer=None, **kwargs):
        backbone = as_backbone(backbone, "backbone")
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(**kwargs)
        if backbone.stack != "decoder" or backbone.cross_attention:
            raise ValueError(
                "A language model needs a decoder backbone without cross-attention. "
                f"Received: backbone.stack={backbone.stack!r}, "
                f"backbone.cross_attention={backbone.cross_attention!r}"
            )
        vocabulary_size = backbone.vocabulary_size
        if tokenizer is not None and tokenizer.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"`backbone.vocabulary_size` must equal the tokenizer's "
                f"({tokenizer.vocabulary_size}). Received: vocabulary_size={vocabulary_size}"
            )
        self.backbone = backbone
        self.tie_embeddings = bool(tie_embeddings)
        self._attach_tokenizer("tokenizer", tokenizer)
        self.lm_head = (
            None
            if self.tie_embeddings
            else keras.layers.Dense(
                vocabulary_size, use_bias=False, dtype=self.dtype_policy, name="lm_head"
            )
        )
        # Traced generation functions, kept out of Keras/TF attribute tracking.
        object.__setattr__(self, "_generate_functions", {})

    @classmethod
    def from_pretrained(cls, path, dtype=None):
        """A language model with a GPT-2 checkpoint's weights and tokenizer.

        Args:
            path: a Hugging Face checkpoint folder (`config.json`,
                `model.safetensors` or `pytorch_model.bin`, `vocab.json` and
                `merges.txt`), or `hf://name` (downloaded with
                `huggingface_hub`, when online).
            dtype: the dtype policy, e.g. `"bfloat16"`; float32 by default.

        Returns:
            A built `TransformerLM` (see `models.huggingface`); fine-tune it
            with `fit`, export it with `export_language_model`.

        Example:
        >>> model = TransformerLM.from_pretrained("gpt2/")  # doctest: +SKIP
        >>> model.generate(["Hello, I'm a"], 8, temperature=0.0)  # doctest: +SKIP
        """
        from transformer_keras.models.huggingface import load_gpt2

        return load_gpt2(path, dtype=dtype)

    # ------------------------------------------------------------------ graph
    def build(self, inputs_shape=None):
        if isinstance(inputs_shape, dict):
            inputs_shape = inputs_shape["token_ids"]
        token_ids_shape = tuple(inputs_shape) if inputs_shape is not None else (None, None)
        self.backbone.build(token_ids_shape)
        if self.lm_head is not None:
            self.lm_head.build(token_ids_shape + (self.hidden_dim,))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask = _ids_and_mask(inputs)
        hidden = self.backbone(token_ids, padding_mask=padding_mask, training=training)
        return self.logits(hidden)

    def logits(self, hidden):
        """`(B, T, D)` final hidden states -> `(B, T, V)` float32 logits."""
        if self.lm_head is None:
            logits = self.backbone.logits(hidden)
        else:
            logits = self.lm_head(hidden)
        return ops.cast(logits, "float32")

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """One decoding step: logits of `token_ids` placed at `cache_update_index`.

        The step function of `generation.decode`. With `cache=None` it runs the
        plain causal forward pass on `token_ids` (full recomputation).

        Args:
            token_ids: `(B, T)` new token ids.
            cache: `L` x `(B, 2, K, C, H)` from `initial_cache`, or `None`.
            cache_update_index: scalar int, position of `token_ids[:, 0]`.

        Returns:
            `(logits (B, T, V) float32, updated cache)`.
        """
        if cache is None:
            return self(token_ids, training=False), None
        hidden, cache = self.backbone.call_with_cache(token_ids, cache, cache_update_index)
        return self.logits(hidden), cache

    def initial_cache(self, batch_size):
        """Zero KV cache `L` x `(B, 2, K, C, H)` covering the whole context."""
        return self.backbone.initial_cache(batch_size, self.max_sequence_length)

    def attention_scores(self, inputs):
        """Causal self-attention probabilities, a list of `L` tensors `(B, N, T, T)`.

        Args:
            inputs: `(B, T)` token ids or the dict accepted by `call`.
        """
        token_ids, padding_mask = _ids_and_mask(inputs)
        scores = self.backbone.attention_scores(token_ids, padding_mask=padding_mask)
        return [layer_scores["self_attention"] for layer_scores in scores]

    def compute_output_shape(self, inputs_shape):
        if isinstance(inputs_shape, dict):
            inputs_shape = inputs_shape["token_ids"]
        return tuple(inputs_shape) + (self.vocabulary_size,)

    # ------------------------------------------------------------- generation
    def generate_ids(
        self,
        prompts,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        seed,
        stop_token_id,
        use_cache=True,
        jit_compile=True,
    ):
        """The graph behind `generate` (TensorFlow) and the exported `generate` signature.

        Args:
            prompts: `tf.RaggedTensor` `(B, None)` of prompt ids; prompts
                longer than the context keep their last tokens, empty ones
                start from the tokenizer's start token
                (`generation.ragged.pack_prompts`).
            max_new_tokens, temperature, top_k, top_p, seed, stop_token_id:
                scalar tensors (see `generate`; `stop_token_id=-1` is none).
            use_cache: Python bool; False recomputes the window at every step.
            jit_compile: Python bool; compile the cached token-by-token loop
                with XLA (in-place cache updates; see `generation.decode`).

        Returns:
            The new ids of each prompt, a `(B, None)` int32 `tf.RaggedTensor`
            (without the prompt and without a final stop token).
        """
        import tensorflow as tf

        from transformer_keras.generation.decode import cache_length, decode
        from transformer_keras.generation.ragged import continuations, pack_prompts
        from transformer_keras.generation.sampling import sample

        start_id = None if self.tokenizer is None else self.tokenizer.start_id
        prompt_ids, prompt_lengths = pack_prompts(
            prompts, self.max_sequence_length, start_id, self.pad_id
        )  # (B, P), (B,)
        seed = tf.cast(seed, tf.int32)

        def sample_fn(logits, step):
            return sample(logits, temperature, top_k, top_p, tf.stack([seed, step]))

        cache = None
        if use_cache:
            length = cache_length(
                tf.shape(prompt_ids)[1],
                max_new_tokens,
                self.max_sequence_length,
                padded=jit_compile,
            )
            cache = self.backbone.initial_cache(tf.shape(prompt_ids)[0], length)
        token_ids, lengths = decode(
            self.call_with_cache,
            sample_fn,
            prompt_ids,
            prompt_lengths,
            max_new_tokens,
            context_length=self.max_sequence_length,
            cache=cache,
            stop_token_id=stop_token_id,
            pad_id=self.pad_id,
            jit_compile=jit_compile,
        )  # (B, P + max_new_tokens), (B,)
        return continuations(token_ids, prompt_lengths, lengths, stop_token_id)

    def generate_function(self, use_cache=True, jit_compile=True):
        """The `tf.function` of `generate_ids`, traced once for all inputs.

        Its input signature makes every argument a tensor: batch size, prompt
        length and sampling settings never cause a retrace
        (`generate_function().experimental_get_tracing_count()` stays 1).
        With `jit_compile`, XLA compiles the decoding loop once per batch size
        and padded length (`generation.decode.padded_length`).
        """
        import tensorflow as tf

        key = (use_cache, jit_compile)
        if key not in self._generate_functions:
            if not self.built:
                self.build()

            def generate_ids(*args):
                return self.generate_ids(*args, use_cache=use_cache, jit_compile=jit_compile)

            scalar = tf.TensorSpec([], tf.int32)
            # No AutoGraph: the loop is an explicit `tf.while_loop` (and
            # converting the model's code would triple the tracing time).
            self._generate_functions[key] = tf.function(
                generate_ids,
                autograph=False,
                input_signature=[
                    tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1),  # prompts
                    scalar,  # max_new_tokens
                    tf.TensorSpec([], tf.float32),  # temperature
                    scalar,  # top_k
                    tf.TensorSpec([], tf.float32),  # top_p
                    scalar,  # seed
                    scalar,  # stop_token_id
                ],
            )
        return self._generate_functions[key]

    def generate(
        self,
        prompts,
        max_new_tokens,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        stop_token=None,
        use_cache=True,
        jit_compile=True,
    ):
        """Continues prompts: sampled (or greedy) new tokens after each one.

        The prompts of a batch may differ in length. The first tokens are
        prefilled in one pass, then one token per step is decoded from the KV
        cache inside one compiled loop (`generation.decode`, written with
        `keras.ops`): on TensorFlow a traced `tf.function` whose loop XLA
        compiles, on JAX the same loop under `jax.jit` (prompts packed on the
        host; text prompts and outputs still need TensorFlow for the
        tokenizer). Prompts longer than the context keep their last `C`
        tokens; past the context, generation slides: the last `C // 2` tokens
        are re-prefilled and decoding goes on (see `generation.decode`).

        Args:
            prompts: a string or list of strings (needs a tokenizer), or a
                list of token ids, or a list of such lists. An empty prompt
                starts from the tokenizer's start token.
            max_new_tokens: new tokens per prompt, 1 to `MAX_NEW_TOKENS` (4096).
            temperature: 0 is greedy decoding; > 0 samples from
                `softmax(logits / temperature)`.
            top_k: keep the `k` most likely tokens; `None` or 0 is off.
            top_p: nucleus sampling in (0, 1]; `None` or 1 is off.
            seed: int; the same seed (and settings) gives the same output on
                one backend (TensorFlow and JAX draw different numbers).
                `None` draws a random seed.
            stop_token: a token id; a row stops after producing it (it is not
                part of the returned continuation). `None` never stops early.
            use_cache: False recomputes the whole window at every step (slow;
                for comparisons).
            jit_compile: compile the cached decoding loop with XLA (the
                default: the cache is then updated in place). The first call
                for a new batch size or padded length compiles (seconds);
                `False` runs TensorFlow's kernels, slower per step at long
                outputs and large batches, with no compilation. JAX always
                compiles (the argument is ignored there).

        Returns:
            The continuations, without the prompt: a string per string prompt
            or a list of ids per id prompt; a list for a batch, a single value
            for a single prompt.

        Raises:
            ValueError: for a bad argument, naming it.
        """
        from transformer_keras.generation import prompts as arguments
        from transformer_keras.generation.sampling import check_sampling_settings

        top_k = 0 if top_k is None else top_k
        top_p = 1.0 if top_p is None else top_p
        arguments.check_max_new_tokens(max_new_tokens)
        check_sampling_settings(temperature, top_k, top_p)
        if stop_token is not None:
            arguments.check_token_id("stop_token", stop_token, self.vocabulary_size)
        seed = arguments.resolve_seed(seed)
        stop_token_id = -1 if stop_token is None else int(stop_token)
        settings = (max_new_tokens, temperature, top_k, top_p, seed, stop_token_id)
        if keras.backend.backend() == "tensorflow":
            return self._generate_with_tensorflow(prompts, settings, use_cache, jit_compile)
        if keras.backend.backend() == "jax":
            return self._generate_with_jax(prompts, settings, use_cache)
        raise ValueError(
            "`generate` runs on the tensorflow and jax backends. "
            f"Received: backend={keras.backend.backend()!r}"
        )

    def _generate_with_tensorflow(self, prompts, settings, use_cache, jit_compile):
        """Ragged prompts into the traced `generate_function`, ragged ids out."""
        import tensorflow as tf

        from transformer_keras.generation.prompts import batch_prompts

        tokenize = None if self.tokenizer is None else self.tokenize
        single, as_text, ids = batch_prompts(prompts, self.vocabulary_size, tokenize)
        max_new_tokens, temperature, top_k, top_p, seed, stop_token_id = settings
        new_ids = self.generate_function(use_cache, jit_compile)(
            ids,
            tf.constant(max_new_tokens, tf.int32),
            tf.constant(temperature, tf.float32),
            tf.constant(top_k, tf.int32),
            tf.constant(top_p, tf.float32),
            tf.constant(seed, tf.int32),
            tf.constant(stop_token_id, tf.int32),
        )  # (B, None)
        if as_text:
            outputs = [text.decode("utf-8") for text in self.detokenize(new_ids).numpy()]
        else:
            outputs = new_ids.to_list()
        return outputs[0] if single else outputs

    def _generate_with_jax(self, prompts, settings, use_cache):
        """Prompts packed on the host, the decode loop under `jax.jit`, lists out.

        The prompts are padded to the buffer's width on the host, so the
        compiled program depends only on the batch size, the buffer's width
        (a power of two), the cache's size and the prefill's width.
        """
        import numpy as np

        from transformer_keras.generation import prompts as arguments
        from transformer_keras.generation.decode import (
            cache_length,
            padded_length,
            prefill_width,
        )

        max_new_tokens, temperature, top_k, top_p, seed, stop_token_id = settings
        single, as_text, batch = arguments.check_prompts(
            prompts, self.vocabulary_size, self.tokenizer is not None
        )
        rows = self.tokenize(batch).to_list() if as_text else batch
        start_id = None if self.tokenizer is None else self.tokenizer.start_id
        ids, lengths = arguments.pack_prompt_rows(
            rows, self.max_sequence_length, start_id, self.pad_id
        )  # (B, P), (B,)
        longest = ids.shape[1]
        buffer_length = padded_length(longest + max_new_tokens)
        cache_size, prefill = 0, 0
        if use_cache:
            cache_size = cache_length(
                longest, max_new_tokens, self.max_sequence_length, padded=True
            )
            prefill = prefill_width(int(lengths.min()), cache_size)
        token_ids = np.full((len(rows), buffer_length), self.pad_id, "int32")  # (B, L)
        token_ids[:, :longest] = ids
        if not self.built:
            self.build()
        token_ids, new_lengths = self._jax_generate_function(use_cache)(
            [variable.value for variable in self.variables],
            token_ids,
            lengths,
            np.int32(max_new_tokens),
            np.float32(temperature),
            np.int32(top_k),
            np.float32(top_p),
            np.int32(seed),
            np.int32(stop_token_id),
            buffer_length=buffer_length,
            cache_size=cache_size,
            prefill=prefill,
        )  # (B, L), (B,)
        new_ids = arguments.continuation_rows(
            np.asarray(token_ids), lengths, np.asarray(new_lengths), stop_token_id
        )
        if as_text:
            import tensorflow as tf

            texts = self.detokenize(tf.ragged.constant(new_ids, tf.int32, inner_shape=()))
            outputs = [text.decode("utf-8") for text in texts.numpy()]
        else:
            outputs = new_ids
        return outputs[0] if single else outputs

    def _jax_generate_function(self, use_cache):
        """`jax.jit` of the decode loop, stateless: the variables' values are arguments.

        Compiled once per batch size and static size (`buffer_length`,
        `cache_size`, `prefill`); every sampling setting, budget and seed is a
        traced argument.
        """
        key = ("jax", use_cache)
        if key not in self._generate_functions:
            import jax

            from transformer_keras.generation.decode import decode
            from transformer_keras.generation.sampling import sample

            variables = self.variables

            def generate_ids(
                values,
                token_ids,
                lengths,
                max_new_tokens,
                temperature,
                top_k,
                top_p,
                seed,
                stop_token_id,
                buffer_length,
                cache_size,
                prefill,
            ):
                with keras.StatelessScope(state_mapping=list(zip(variables, values))):

                    def sample_fn(logits, step):
                        step_seed = ops.stack([seed, step])  # (2,)
                        return sample(logits, temperature, top_k, top_p, step_seed)

                    cache = None
                    if use_cache:
                        cache = self.backbone.initial_cache(token_ids.shape[0], cache_size)
                    return decode(
                        self.call_with_cache,
                        sample_fn,
                        token_ids,
                        lengths,
                        max_new_tokens,
                        context_length=self.max_sequence_length,
                        cache=cache,
                        stop_token_id=stop_token_id,
                        pad_id=self.pad_id,
                        jit_compile=True,
                        buffer_length=buffer_length,
                        prefill=prefill,
                    )  # (B, L), (B,)

            self._generate_functions[key] = jax.jit(
                generate_ids, static_argnames=("buffer_length", "cache_size", "prefill")
            )
        return self._generate_functions[key]

    # ---------------------------------------------------------------- scoring
    def score_ids(self, token_ids):
        """Mean negative log-likelihood (nats per token) of each id sequence.

        Every token after the first is predicted from the ones before it.
        Sequences longer than the context are cut into frames of `C + 1`
        tokens that overlap by one, so every token is still predicted once
        (with the context of its own frame). Rows with fewer than two tokens
        score 0.

        Args:
            token_ids: `tf.RaggedTensor` `(B, None)` of ids.

        Returns:
            `(B,)` float32.
        """
        import tensorflow as tf

        context = self.max_sequence_length
        dense = tf.cast(token_ids, tf.int32).to_tensor(default_value=self.pad_id)  # (B, T)
        batch_size = tf.shape(dense)[0]
        dense = tf.pad(dense, [[0, 0], [0, 1]], constant_values=self.pad_id)  # (B, T+1)
        # (B, T+1) -> (B, F, C+1) frames starting every C tokens.
        frames = tf.signal.frame(
            dense, context + 1, context, pad_end=True, pad_value=self.pad_id
        )
        frames = tf.reshape(frames, [-1, context + 1])  # (B*F, C+1)
        targets = frames[:, 1:]  # (B*F, C)
        nll = self._frame_nll(frames)  # (B*F, C)
        real = tf.cast(targets != self.pad_id, tf.float32)  # (B*F, C)
        total = tf.reduce_sum(tf.reshape(nll * real, [batch_size, -1]), axis=1)  # (B,)
        count = tf.reduce_sum(tf.reshape(real, [batch_size, -1]), axis=1)  # (B,)
        return total / tf.maximum(count, 1.0)

    def tokenize(self, texts):
        """`(B,)` strings -> ragged ids `(B, None)` with the model's tokenizer.

        Invalid UTF-8 bytes become U+FFFD first, so every tokenizer sees
        well-formed text (the same in Python and in the exported graph).
        """
        from transformer_keras.text.utf8 import valid_utf8

        if self.tokenizer is None:
            raise ValueError(
                "Text needs a model with a tokenizer; pass token ids instead. "
                "Received: tokenizer=None"
            )
        texts = valid_utf8(texts)
        return self.tokenizer.tokenize(texts)  # (B, None)

    def detokenize(self, token_ids):
        """Ragged or dense ids `(B, T)` -> `(B,)` valid UTF-8 strings.

        Byte sequences that are not UTF-8 (a byte-level model may cut a
        character in two, or produce any bytes) become U+FFFD.
        """
        from transformer_keras.text.utf8 import valid_utf8

        return valid_utf8(self.tokenizer.detokenize(token_ids))  # (B,)

    def _frame_nll(self, frames):
        """`(B*F, C+1)` frames -> `(B*F, C)` next-token NLL, `K` frames per model call.

        The logits of all frames at once would take `B*F * C * V` floats, so an
        untrusted huge text could exhaust memory; `M` calls of
        `K = SCORE_TOKENS_PER_CALL // C` frames keep it independent of the
        text's length.
        """
        import tensorflow as tf

        context = self.max_sequence_length
        per_call = max(1, SCORE_TOKENS_PER_CALL // context)
        count = tf.shape(frames)[0]
        calls = (count + per_call - 1) // per_call
        padded = tf.pad(frames, [[0, calls * per_call - count], [0, 0]])  # (M*K, C+1)
        chunks = tf.reshape(padded, [calls, per_call, context + 1])  # (M, K, C+1)

        def chunk_nll(chunk):
            logits = self(chunk[:, :-1], training=False)  # (K, C, V)
            return tf.nn.sparse_softmax_cross_entropy_with_logits(chunk[:, 1:], logits)

        nll = tf.map_fn(chunk_nll, chunks, fn_output_signature=tf.float32)  # (M, K, C)
        return tf.reshape(nll, [-1, context])[:count]  # (B*F, C)

    def text_ids(self, texts):
        """`(B,)` strings -> ragged ids `[start] + tokens` (what `score` scores)."""
        import tensorflow as tf

        ids = self.tokenize(texts)  # (B, None)
        starts = tf.fill([ids.nrows(out_type=tf.int32), 1], self.tokenizer.start_id)
        return tf.concat([tf.RaggedTensor.from_tensor(starts), ids], axis=1)

    def score(self, texts):
        """Mean negative log-likelihood per token of each text (lower is better).

        Each text is scored after the start token, so every one of its tokens
        counts; an empty text scores 0. `exp(score)` is the text's perplexity.

        Args:
            texts: a string or a list of strings (needs a tokenizer).

        Returns:
            A float for a string, a list of floats for a list.
        """
        single = isinstance(texts, str)
        values = self.score_ids(self.text_ids([texts] if single else list(texts)))
        values = [float(value) for value in values.numpy()]
        return values[0] if single else values

    # --------------------------------------------------------------- training
    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        total_steps=None,
        learning_rate=1e-3,
        **kwargs,
    ):
        """`Task.compile`; `total_steps` and `learning_rate` (the peak) shape the
        default optimizer's schedule (see `default_optimizer`)."""
        self._total_steps = total_steps
        self._learning_rate = learning_rate
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def default_optimizer(self):
        """nanoGPT's recipe: AdamW (beta_2 0.99, weight decay 0.1, global norm
        clipping at 1); the learning rate warms up over 5% of `total_steps` to
        `learning_rate`, then decays along a cosine to a tenth of it."""
        from transformer_keras.optimization import adamw, warmup_cosine

        total_steps = getattr(self, "_total_steps", None) or 5000
        peak = getattr(self, "_learning_rate", None) or 1e-3
        schedule = warmup_cosine(
            peak,
            warmup_steps=total_steps // 20,
            total_steps=total_steps,
            final_learning_rate=peak / 10,
        )
        return adamw(schedule, weight_decay=0.1, beta_2=0.99, epsilon=1e-8, global_clipnorm=1.0)

    def default_loss(self):
        from transformer_keras.optimization.losses import MaskedSparseCategoricalCrossentropy

        return MaskedSparseCategoricalCrossentropy(pad_id=self.pad_id)

    def default_metrics(self):
        from transformer_keras.optimization.metrics import MaskedAccuracy, Perplexity

        return [Perplexity(pad_id=self.pad_id), MaskedAccuracy(pad_id=self.pad_id)]


def _ids_and_mask(inputs):
    """`(B, T)` token ids and the `(B, T)` padding mask of the inputs (or `None`)."""
    if isinstance(inputs, dict):
        return inputs["token_ids"], inputs.get("padding_mask")
    return inputs, None
