"""Masked language model (BERT-style pre-training) on the encoder `Backbone`.

`Backbone(stack="encoder")` -> hidden states at the masked positions -> dense
(GELU) -> layer norm -> output projection tied to the token embedding, plus a
bias. Training is `model.fit` on the batches of
`transformer_keras.data.masked_language_modeling.masked_lm_batches`, which
mask 15% of the tokens with BERT's 80/10/10 rule; the loss and accuracy count
the masked positions only. The pretrained `backbone` then starts a
`TransformerClassifier` (`TransformerClassifier.from_pretrained` or
`classifier.load_pretrained`).

The mask token gets its own id, one past the tokenizer's ids: with a
tokenizer of `V - 1` ids the model's `vocabulary_size` is `V` and
`mask_token_id` is `V - 1`. A classifier fine-tuned from it keeps
`vocabulary_size = V` (the tokenizer never produces the mask id).

Legend: B batch, T length, P masked positions per row, D width, V vocabulary.
"""

import keras
from keras import ops

from transformer_keras.models.backbone import as_backbone
from transformer_keras.models.classifier import TransformerClassifier
from transformer_keras.models.task import Task
from transformer_keras.text.masking import (
    check_masking_rates,
    mask_tokens,
    num_masked_positions,
)
from transformer_keras.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="transformer_keras")
class MaskedLanguageModel(Task):
    """Transformer encoder trained to predict masked tokens (self-supervised).

    Args:
        backbone: an encoder `Backbone` (or its config dict) whose
            `vocabulary_size` `V` includes the mask id; `from_preset` builds
            one, with `V = tokenizer.vocabulary_size + 1` by default. Give the
            classifier to be fine-tuned the same architecture.
        mask_token_id: the id of the mask token. Defaults to
            `vocabulary_size - 1`; must not be an id of the tokenizer.
        mask_rate: fraction of the real tokens of each text that are masked
            (BERT: 0.15).
        mask_token_rate: fraction of the masked tokens replaced by the mask id
            (BERT: 0.8).
        random_token_rate: fraction replaced by a random token (BERT: 0.1);
            the rest keep their id.
        max_selections: `P`, the most masked tokens per text. Defaults to
            `ceil(max_sequence_length * mask_rate)` (never a limit).
        tokenizer: optional tokenizer layer of `transformer_keras.text`; it is
            saved with the model and used by `encode` / `preprocess`.

    Call arguments:
        inputs: a dict `{"token_ids": (B, T), "mask_positions": (B, P)}` and
            optionally `"padding_mask": (B, T)` boolean (default: `token_ids
            != pad_id`), as `mask_tokens` makes them.
        training: enables dropout.

    Returns:
        `(B, P, V)` logits at the masked positions, float32 under every dtype
        policy.

    Example:
    >>> import numpy as np
    >>> from transformer_keras.models import Backbone
    >>> backbone = Backbone(30, num_layers=1, hidden_dim=8, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=8)
    >>> model = MaskedLanguageModel(backbone)
    >>> logits = model({"token_ids": np.array([[4, 29, 6, 0]]),
    ...                 "mask_positions": np.array([[1]])})
    >>> tuple(logits.shape)
    (1, 1, 30)
    """

    # The classifier's presets (without its head's dropout): a backbone
    # pretrained with a preset fits the classifier of the same preset.
    presets = {
        name: {key: value for key, value in preset.items() if key != "classifier_dropout"}
        for name, preset in TransformerClassifier.presets.items()
    }
    backbone_defaults = TransformerClassifier.backbone_defaults
    config_keys = (
        "mask_token_id",
        "mask_rate",
        "mask_token_rate",
        "random_token_rate",
        "max_selections",
        "tokenizer",
    )
    tokenizer_keys = ("tokenizer",)

    @classmethod
    def default_vocabulary_size(cls, arguments):
        """The tokenizer's ids plus one for the mask token."""
        return super().default_vocabulary_size(arguments) + 1

    def __init__(
        self,
        backbone,
        mask_token_id=None,
        mask_rate=0.15,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        max_selections=None,
        tokenizer=None,
        **kwargs,
    ):
        backbone = as_backbone(backbone, "backbone")
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(**kwargs)
        if backbone.stack != "encoder":
            raise ValueError(
                "A masked language model needs an encoder backbone. "
                f"Received: backbone.stack={backbone.stack!r}"
            )
        vocabulary_size = backbone.vocabulary_size
        pad_id = backbone.pad_id
        if mask_token_id is None:
            mask_token_id = vocabulary_size - 1
        if isinstance(mask_token_id, bool) or not isinstance(mask_token_id, int):
            raise ValueError(
                f"`mask_token_id` must be an integer. Received: mask_token_id={mask_token_id!r}"
            )
        if not 0 <= mask_token_id < vocabulary_size or mask_token_id == pad_id:
            raise ValueError(
                f"`mask_token_id` must be an id in [0, vocabulary_size={vocabulary_size}) "
                f"other than pad_id={pad_id}. Received: mask_token_id={mask_token_id}"
            )
        if tokenizer is not None and mask_token_id < tokenizer.vocabulary_size:
            raise ValueError(
                "`mask_token_id` must not be one of the tokenizer's "
                f"{tokenizer.vocabulary_size} ids (the default, vocabulary_size - 1 with "
                f"vocabulary_size = tokenizer.vocabulary_size + 1, is free). "
                f"Received: mask_token_id={mask_token_id}"
            )
        check_masking_rates(mask_rate, mask_token_rate, random_token_rate)
        if max_selections is None:
            max_selections = num_masked_positions(backbone.max_sequence_length, mask_rate)
        check_positive_int("max_selections", max_selections)
        self.backbone = backbone
        self.mask_token_id = mask_token_id
        self.mask_rate = mask_rate
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.max_selections = max_selections
        self._attach_tokenizer("tokenizer", tokenizer)
        # BERT's prediction head: transform, normalize, tied projection + bias.
        self.head_dense = keras.layers.Dense(
            backbone.hidden_dim, activation="gelu", dtype=self.dtype_policy, name="head_dense"
        )
        self.head_norm = keras.layers.LayerNormalization(
            epsilon=backbone.layer_norm_epsilon, dtype="float32", name="head_norm"
        )

    # ------------------------------------------------------------------ graph
    def build(self, inputs_shape):
        token_ids_shape = tuple(inputs_shape["token_ids"])
        self.backbone.build(token_ids_shape)
        self.head_dense.build((None, None, self.hidden_dim))
        self.head_norm.build((None, None, self.hidden_dim))
        self.output_bias = self.add_weight(
            shape=(self.vocabulary_size,), initializer="zeros", name="output_bias"
        )
        self.built = True

    def call(self, inputs, training=None):
        token_ids = inputs["token_ids"]
        padding_mask = inputs.get("padding_mask")
        if padding_mask is None:
            padding_mask = self.backbone.padding_mask(token_ids)
        padding_mask = ops.cast(padding_mask, "bool")
        hidden = self.backbone(token_ids, padding_mask=padding_mask, training=training)
        positions = ops.cast(inputs["mask_positions"], "int32")[:, :, None]  # (B, P, 1)
        hidden = ops.take_along_axis(hidden, positions, axis=1)  # (B, P, D)
        hidden = self.head_norm(self.head_dense(hidden))  # float32 (B, P, D)
        logits = self.backbone.logits(ops.cast(hidden, self.compute_dtype))  # (B, P, V)
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, inputs_shape):
        positions = inputs_shape["mask_positions"]
        return (positions[0], positions[1], self.vocabulary_size)

    # ----------------------------------------------------------- text to batches
    def encode(self, texts):
        """Strings `(B,)` -> `(B, max_sequence_length)` int32 ids (padded, truncated)."""
        from transformer_keras.text.utf8 import valid_utf8

        if self.tokenizer is None:
            raise ValueError(
                "This model has no tokenizer; pass token ids, or build it with "
                "`tokenizer=`. Received: tokenizer=None"
            )
        texts = valid_utf8(texts)
        return self.tokenizer.encode(texts, sequence_length=self.max_sequence_length)

    def mask(self, token_ids):
        """`(B, T)` ids -> `(features, labels)` masked by this model's rule
        (`transformer_keras.data.masked_language_modeling.mask_tokens`)."""
        special = [self.pad_id]
        if self.tokenizer is not None:
            special = [
                self.tokenizer.pad_id,
                self.tokenizer.unknown_id,
                self.tokenizer.start_id,
                self.tokenizer.end_id,
            ]
        return mask_tokens(
            token_ids,
            mask_token_id=self.mask_token_id,
            # Random replacements come from the tokenizer's ids, never the mask id.
            vocabulary_size=self.mask_token_id
            if self.tokenizer is None
            else (self.tokenizer.vocabulary_size),
            max_selections=self.max_selections,
            mask_rate=self.mask_rate,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
            pad_id=self.pad_id,
            unselectable_ids=special,
        )

    def preprocess(self, texts):
        """Strings `(B,)` -> masked `(features, labels)`: `encode`, then `mask`."""
        return self.mask(self.encode(texts))

    # ------------------------------------------------------------- training
    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        total_steps=None,
        learning_rate=5e-4,
        weight_decay=0.01,
        jit_compile=False,
        **kwargs,
    ):
        """`Task.compile` with this model's defaults for every `"auto"`.

        The default optimizer is AdamW (`weight_decay`, clipnorm 1) with a
        linear warmup over the first 10% of `total_steps` (10,000 if not
        given) to `learning_rate`, then cosine decay to 0. The default loss
        and accuracy count the masked positions only (label `pad_id` marks an
        unused slot). XLA is off by default, as for the classifier."""
        self._default_total_steps = total_steps
        self._default_learning_rate = learning_rate
        self._default_weight_decay = weight_decay
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile, **kwargs
        )

    def default_optimizer(self):
        from transformer_keras.optimization import adamw, warmup_cosine

        # At least 2 steps: a warmup step and a decay step (tiny corpora).
        total_steps = max(self._default_total_steps or 10_000, 2)
        schedule = warmup_cosine(
            self._default_learning_rate,
            warmup_steps=max(1, total_steps // 10),
            total_steps=total_steps,
        )
        return adamw(schedule, weight_decay=self._default_weight_decay, clipnorm=1.0)

    def default_loss(self):
        from transformer_keras.optimization.losses import MaskedSparseCategoricalCrossentropy

        return MaskedSparseCategoricalCrossentropy(pad_id=self.pad_id)

    def default_metrics(self):
        from transformer_keras.optimization.metrics import MaskedAccuracy

        return [MaskedAccuracy(pad_id=self.pad_id, name="accuracy")]
