"""The encoder-decoder Transformer of "Attention Is All You Need" (figure 1).

Over 400 lines: the model, its presets, its two tokenizers and its
serialization are one config; search and translation live in
`seq2seq_translation.py`.

An encoder `Backbone` reads the source ids; a decoder `Backbone` with
cross-attention reads the target ids shifted right (teacher forcing) and the
encoder output; a projection turns its hidden states into next-token logits.
For inference, `encode()` runs once per source and `decode_with_cache()` runs
the decoder over new target tokens with a self-attention KV cache and the
cached cross-attention keys and values (`generation/` drives the loop);
`decode()` runs it over whole target sequences.

Legend: B batch, T target length, S source length, L layers, N heads,
D width, V vocabulary.
"""

import keras
from keras import ops

from transformer_keras.layers import masks
from transformer_keras.models.backbone import Backbone, as_backbone, backbone_argument_names
from transformer_keras.models.seq2seq_translation import (  # noqa: F401 (public)
    MAX_BEAM_SIZE,
    TranslationMixin,
)
from transformer_keras.models.task import Task
from transformer_keras.utils.validation import check_positive_int

# The backbone arguments a preset gives both stacks; each stack takes its own
# vocabulary and depth.
_PER_STACK_ARGUMENTS = ("vocabulary_size", "num_layers", "stack", "cross_attention")


@keras.saving.register_keras_serializable(package="transformer_keras")
class Transformer(TranslationMixin, Task):
    """Encoder-decoder Transformer for translation (Vaswani et al., 2017).

    Args:
        encoder: the encoder `Backbone` (or its config dict) over the source
            vocabulary.
        decoder: the decoder `Backbone` with cross-attention (or its config
            dict) over the target vocabulary `V`. Its `max_sequence_length`
            is the longest target (in tokens, start and end included); longer
            sources must be truncated to the encoder's first (the tokenizers'
            `encode(..., sequence_length=...)` does it). Its `pad_id` pads
            both sides.
        start_id, end_id: special ids of the target vocabulary; default to
            the target tokenizer's, else 2 and 3. The start id may be the
            padding id (Marian's): the decoder still attends to it.
        tie_output_embedding: the output projection is the transposed target
            embedding (section 3.4). When False, a separate `Dense` layer.
        output_bias: a learned bias `(V,)` added to the tied projection's
            logits (Marian's `final_logits_bias`; the untied `Dense` has its
            own).
        source_tokenizer: optional tokenizer layer of `transformer_keras.text`
            for the source language; it travels with the model (config and
            `.keras` file), so `translate()` takes and returns strings.
        target_tokenizer: the target language's tokenizer. Defaults to
            `source_tokenizer` (a joint vocabulary).

    `from_preset` (and `from_arguments`) build both backbones from one flat
    dict: `source_vocabulary_size` (default: the source tokenizer's),
    `target_vocabulary_size` (default: the target tokenizer's, else the
    source's: a joint vocabulary with separate embedding tables),
    `num_encoder_layers`, `num_decoder_layers`, and the `Backbone` arguments
    both stacks share (`hidden_dim`, `num_heads`, `position` ...; the paper's
    sinusoidal positions and post-LN by default; `pad_id` defaults to the
    target tokenizer's, else 0).

    Call arguments:
        inputs: dict with `"source_ids"` `(B, S)` and `"target_ids"` `(B, T)`
            int ids, padded with `pad_id`; `target_ids` is
            `[start] + y` and the labels are `y + [end]`.
        training: enables dropout.

    Returns:
        `(B, T, V)` float32 logits of the next target token.

    Example:
    >>> import numpy as np
    >>> model = Transformer.from_preset("tiny", source_vocabulary_size=20)
    >>> inputs = {"source_ids": np.array([[5, 6, 7, 3]]),
    ...           "target_ids": np.array([[2, 8, 9]])}
    >>> tuple(model(inputs).shape)
    (1, 3, 20)
    >>> from transformer_keras.models import Backbone
    >>> stacks = dict(num_layers=1, hidden_dim=8, num_heads=2,
    ...               intermediate_dim=16, max_sequence_length=10)
    >>> model = Transformer(Backbone(30, stack="encoder", **stacks),
    ...                     Backbone(20, stack="decoder", cross_attention=True, **stacks))
    >>> tuple(model(inputs).shape)
    (1, 3, 20)
    """

    presets = {
        "tiny": dict(
            num_encoder_layers=1,
            num_decoder_layers=1,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=32,
            max_sequence_length=32,
            dropout=0.0,
        ),
        "small": dict(
            num_encoder_layers=3,
            num_decoder_layers=3,
            hidden_dim=256,
            num_heads=8,
            intermediate_dim=512,
            max_sequence_length=128,
            dropout=0.1,
            normalize_first=True,
        ),
        "base": dict(
            num_encoder_layers=6,
            num_decoder_layers=6,
            hidden_dim=512,
            num_heads=8,
            intermediate_dim=2048,
            max_sequence_length=256,
            dropout=0.1,
            normalize_first=False,
        ),
    }
    # What both stacks start from in a preset (`Backbone`'s defaults otherwise).
    backbone_defaults = dict(
        hidden_dim=512,
        num_heads=8,
        intermediate_dim=2048,
        max_sequence_length=256,
        position="sinusoidal",
        activation="relu",
        dropout=0.1,
        normalize_first=False,
        layer_norm_epsilon=1e-6,
    )
    backbone_keys = ("encoder", "decoder")
    config_keys = (
        "start_id",
        "end_id",
        "tie_output_embedding",
        "source_tokenizer",
        "target_tokenizer",
        "output_bias",
    )
    tokenizer_keys = ("source_tokenizer", "target_tokenizer")

    @classmethod
    def preset_argument_names(cls):
        shared = [key for key in backbone_argument_names() if key not in _PER_STACK_ARGUMENTS]
        return (
            "source_vocabulary_size",
            "target_vocabulary_size",
            "num_encoder_layers",
            "num_decoder_layers",
            *shared,
        )

    @classmethod
    def split_arguments(cls, arguments):
        """Flat preset arguments -> `encoder` and `decoder` backbones and the rest."""
        shared = {**cls.backbone_defaults}
        for key in backbone_argument_names():
            if key not in _PER_STACK_ARGUMENTS and key in arguments:
                shared[key] = arguments.pop(key)
        source_tokenizer = arguments.get("source_tokenizer")
        target_tokenizer = arguments.get("target_tokenizer") or source_tokenizer
        source_vocabulary_size = _from_tokenizer(
            "source_vocabulary_size",
            arguments.pop("source_vocabulary_size", None),
            source_tokenizer,
            "vocabulary_size",
        )
        target_vocabulary_size = _from_tokenizer(
            "target_vocabulary_size",
            arguments.pop("target_vocabulary_size", None),
            target_tokenizer,
            "vocabulary_size",
            default=source_vocabulary_size,
        )
        check_positive_int("source_vocabulary_size", source_vocabulary_size)
        check_positive_int("target_vocabulary_size", target_vocabulary_size)
        shared["pad_id"] = _from_tokenizer(
            "pad_id", shared.get("pad_id"), target_tokenizer, "pad_id", default=0
        )
        dtype = arguments.get("dtype")
        encoder = Backbone(
            source_vocabulary_size,
            num_layers=arguments.pop("num_encoder_layers", 6),
            stack="encoder",
            dtype=dtype,
            name="encoder",
            **shared,
        )
        decoder = Backbone(
            target_vocabulary_size,
            num_layers=arguments.pop("num_decoder_layers", 6),
            stack="decoder",
            cross_attention=True,
            dtype=dtype,
            name="decoder",
            **shared,
        )
        return {"encoder": encoder, "decoder": decoder, **arguments}

    def __init__(
        self,
        encoder,
        decoder,
        start_id=None,
        end_id=None,
        tie_output_embedding=True,
        source_tokenizer=None,
        target_tokenizer=None,
        output_bias=False,
        **kwargs,
    ):
        encoder = as_backbone(encoder, "encoder")
        decoder = as_backbone(decoder, "decoder")
        kwargs.setdefault("dtype", decoder.dtype_policy)
        super().__init__(**kwargs)
        if encoder.stack != "encoder":
            raise ValueError(
                "`encoder` must be an encoder backbone. "
                f"Received: encoder.stack={encoder.stack!r}"
            )
        if decoder.stack != "decoder" or not decoder.cross_attention:
            raise ValueError(
                "`decoder` must be a decoder backbone with cross-attention. Received: "
                f"decoder.stack={decoder.stack!r}, "
                f"decoder.cross_attention={decoder.cross_attention!r}"
            )
        if encoder.hidden_dim != decoder.hidden_dim or encoder.pad_id != decoder.pad_id:
            raise ValueError(
                "The encoder and the decoder must share `hidden_dim` and `pad_id`. "
                f"Received: encoder.hidden_dim={encoder.hidden_dim}, "
                f"decoder.hidden_dim={decoder.hidden_dim}, encoder.pad_id={encoder.pad_id}, "
                f"decoder.pad_id={decoder.pad_id}"
            )
        if target_tokenizer is None:
            target_tokenizer = source_tokenizer  # a joint vocabulary
        start_id = _from_tokenizer(
            "start_id", start_id, target_tokenizer, "start_id", default=2
        )
        end_id = _from_tokenizer("end_id", end_id, target_tokenizer, "end_id", default=3)
        target_vocabulary_size = decoder.vocabulary_size
        for name, value in (
            ("pad_id", decoder.pad_id),
            ("start_id", start_id),
            ("end_id", end_id),
        ):
            if not 0 <= value < target_vocabulary_size:
                raise ValueError(
                    f"`{name}` must be an id of the target vocabulary "
                    f"(0 .. {target_vocabulary_size - 1}). Received: {name}={value!r}"
                )
        self.encoder = encoder
        self.decoder = decoder
        self.start_id = start_id
        self.end_id = end_id
        self.tie_output_embedding = tie_output_embedding
        self.output_bias = output_bias
        self._attach_tokenizer("source_tokenizer", source_tokenizer)
        self._attach_tokenizer("target_tokenizer", target_tokenizer)
        self._compiled_search = None
        self.output_projection = (
            None
            if tie_output_embedding
            else keras.layers.Dense(
                target_vocabulary_size, dtype=self.dtype_policy, name="output_projection"
            )
        )

    @classmethod
    def from_pretrained(cls, path, dtype=None):
        """A translator with a Marian (opus-mt) checkpoint's weights and tokenizers.

        Args:
            path: a Hugging Face checkpoint folder (`config.json`,
                `model.safetensors` or `pytorch_model.bin`, `source.spm`,
                `target.spm`, `vocab.json`), or `hf://name` (downloaded with
                `huggingface_hub`, when online).
            dtype: the dtype policy, e.g. `"bfloat16"`; float32 by default.

        Returns:
            A built `Transformer` (see `models.huggingface.marian`); fine-tune
            it with `fit`, export it with `export_translator`.

        Example:
        >>> name = "hf://Helsinki-NLP/opus-mt-de-en"
        >>> model = Transformer.from_pretrained(name)  # doctest: +SKIP
        >>> model.translate(["Guten Morgen!"])  # doctest: +SKIP
        """
        from transformer_keras.models.huggingface import load_marian

        return load_marian(path, dtype=dtype)

    @property
    def source_vocabulary_size(self):
        return self.encoder.vocabulary_size

    @property
    def target_vocabulary_size(self):
        return self.decoder.vocabulary_size

    def build(self, inputs_shape=None):
        if self.built:  # a loaded checkpoint, built with its weights
            return
        source_shape = (None, None)
        target_shape = (None, None)
        if isinstance(inputs_shape, dict):
            source_shape = tuple(inputs_shape.get("source_ids", source_shape))
            target_shape = tuple(inputs_shape.get("target_ids", target_shape))
        self.encoder.build(source_shape)
        context_shape = tuple(source_shape) + (self.hidden_dim,)
        self.decoder.build(target_shape, context_shape)
        if self.output_projection is not None:
            self.output_projection.build(tuple(target_shape) + (self.hidden_dim,))
        if self.output_bias and self.output_projection is None:
            self.logits_bias = self.add_weight(
                name="logits_bias",
                shape=(self.target_vocabulary_size,),
                initializer="zeros",
            )
        self.built = True

    # ------------------------------------------------------------- training
    def call(self, inputs, training=None):
        _check_inputs(inputs)
        context, source_padding_mask = self.encode(inputs["source_ids"], training=training)
        return self.decode(
            inputs["target_ids"], context, source_padding_mask, training=training
        )

    # ------------------------------------------------------------ inference
    def encode(self, source_ids, training=None):
        """Runs the encoder once.

        Args:
            source_ids: `(B, S)` int ids padded with `pad_id`.

        Returns:
            `(context, source_padding_mask)`: `(B, S, D)` encoder output and
            the `(B, S)` boolean mask, True at real source tokens.
        """
        source_padding_mask = self.encoder.padding_mask(source_ids)
        context = self.encoder(source_ids, padding_mask=source_padding_mask, training=training)
        masks.consume_implicit_mask(context)  # the explicit mask travels instead
        return context, source_padding_mask

    def decode(self, target_ids, context, source_padding_mask=None, training=None):
        """Next-token logits for all of `target_ids` given the encoded source.

        Args:
            target_ids: `(B, T)` target ids.
            context: `(B, S, D)` from `encode()`.
            source_padding_mask: `(B, S)` from `encode()`.
            training: enables dropout.

        Returns:
            `(B, T, V)` float32 logits.
        """
        hidden = self.decoder(
            target_ids,
            padding_mask=self.target_padding_mask(target_ids),
            context=context,
            context_padding_mask=source_padding_mask,
            training=training,
        )
        return self.logits(hidden)

    def target_padding_mask(self, target_ids, start_index=0):
        """`(B, T)` boolean, True at real target tokens, the start id included.

        The targets are `[start] + y` padded on the right; when the start id
        is the padding id (Marian's), the first position is still real.
        `start_index` is the position of `target_ids[:, 0]` (cached decoding).
        """
        mask = self.decoder.padding_mask(target_ids)
        if self.start_id != self.pad_id:
            return mask
        positions = ops.arange(ops.shape(target_ids)[1]) + start_index  # (T,)
        return ops.logical_or(mask, (positions == 0)[None, :])

    def decode_with_cache(
        self,
        target_ids,
        cache,
        cache_update_index,
        context=None,
        source_padding_mask=None,
        cross_attention_cache=None,
    ):
        """One cached decoding step: logits of the new `target_ids` only.

        Args:
            target_ids: `(B, T)` the new target ids.
            cache: `L` x `(B, 2, K, T_max, H)` self-attention cache from
                `initial_cache()`.
            cache_update_index: scalar int, position of `target_ids[:, 0]`.
            context: `(B, S, D)` from `encode()`; not needed when
                `cross_attention_cache` is given.
            source_padding_mask: `(B, S)` from `encode()`.
            cross_attention_cache: `L` x `(B, 2, K, S, H)` from
                `cross_attention_cache(context)`.

        Returns:
            `(logits (B, T, V) float32, cache)`, the cache updated at
            `cache_update_index ..`.
        """
        hidden, cache = self.decoder.call_with_cache(
            target_ids,
            cache,
            cache_update_index,
            padding_mask=self.target_padding_mask(target_ids, cache_update_index),
            context=context,
            context_padding_mask=source_padding_mask,
            cross_attention_cache=cross_attention_cache,
        )
        return self.logits(hidden), cache

    def logits(self, hidden):
        """`(B, T, D)` decoder states -> `(B, T, V)` float32 logits."""
        if self.output_projection is not None:
            return ops.cast(self.output_projection(hidden), "float32")
        logits = ops.cast(self.decoder.logits(hidden), "float32")
        if self.output_bias:
            logits = logits + ops.cast(self.logits_bias, "float32")
        return logits

    def initial_cache(self, batch_size, max_length=None):
        """Zero self-attention cache of the decoder: `L` x `(B, 2, K, T_max, H)`."""
        return self.decoder.initial_cache(batch_size, max_length)

    def cross_attention_cache(self, context):
        """Cross-attention keys and values of `context`: `L` x `(B, 2, K, S, H)`."""
        return self.decoder.cross_attention_cache(context)

    def cross_attention_scores(self, source_ids, target_ids):
        """Cross-attention probabilities of every decoder layer (for heatmaps).

        Args:
            source_ids: `(B, S)` source ids.
            target_ids: `(B, T)` target ids (`[start] + translation`).

        Returns:
            A list of `num_decoder_layers` float32 tensors `(B, N, T, S)`.
        """
        context, source_padding_mask = self.encode(source_ids)
        scores = self.decoder.attention_scores(
            target_ids,
            padding_mask=self.target_padding_mask(target_ids),
            context=context,
            context_padding_mask=source_padding_mask,
        )
        return [layer_scores["cross_attention"] for layer_scores in scores]

    # -------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        warmup_steps=4000,
        learning_rate_scale=1.0,
        **kwargs,
    ):
        """`Task.compile` with this model's defaults for every `"auto"`.

        The default optimizer is the paper's (section 5.3): Adam (0.9, 0.98,
        1e-9) on `TransformerSchedule(hidden_dim, warmup_steps,
        learning_rate_scale)`; the default loss is cross-entropy with label
        smoothing 0.1 over the real target tokens. A small corpus wants a
        shorter warmup and a lower scale (the translator recipe: 400 and 0.35).
        """
        self._warmup_steps = warmup_steps
        self._learning_rate_scale = learning_rate_scale
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def default_optimizer(self):
        from transformer_keras.optimization import TransformerSchedule, paper_adam

        return paper_adam(
            TransformerSchedule(
                self.hidden_dim,
                getattr(self, "_warmup_steps", 4000),
                getattr(self, "_learning_rate_scale", 1.0),
            )
        )

    def default_loss(self):
        from transformer_keras.optimization import MaskedSparseCategoricalCrossentropy

        return MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, pad_id=self.pad_id)

    def default_metrics(self):
        from transformer_keras.optimization import MaskedAccuracy

        return [MaskedAccuracy(pad_id=self.pad_id)]

    def get_config(self):
        config = super().get_config()
        if self.target_tokenizer is self.source_tokenizer:
            config["target_tokenizer"] = None  # joint vocabulary: stored once
        return config


def _check_inputs(inputs):
    if not isinstance(inputs, dict) or not {"source_ids", "target_ids"} <= set(inputs):
        keys = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            "`Transformer` takes a dict with 'source_ids' and 'target_ids'. "
            f"Received: inputs={keys}"
        )


def _from_tokenizer(name, value, tokenizer, attribute, default=None):
    """`value` if given, else the tokenizer's `attribute`, else `default`."""
    if value is not None:
        return value
    if tokenizer is not None:
        return int(getattr(tokenizer, attribute))
    if default is None:
        raise ValueError(f"Pass `{name}` or a tokenizer to take it from. Received: {name}=None")
    return default
