"""Encoder-only text classifier: token ids -> class logits.

Over 400 lines: the classifier, its ensemble and their text entry points
share one config and one export contract.

`Backbone(stack="encoder")` (optionally with an n-gram convolution between its
embedding and its stack) -> pooling over real tokens -> dropout -> dense head.
`ClassifierEnsemble` averages the probabilities of several classifiers. The
tokenizer that made the ids and the label names travel with the model (its
config and its `.keras` file), so `classify(texts)` and the exported SavedModel
go from text to label name.

Legend: B batch, T length, D width, C classes, N heads, L layers.
"""

import os

import keras
from keras import ops

from transformer_keras.models.backbone import Backbone, as_backbone
from transformer_keras.models.task import Task
from transformer_keras.utils.validation import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
    check_rate,
)

POOLINGS = ("mean", "max", "cls")


@keras.saving.register_keras_serializable(package="transformer_keras")
class TransformerClassifier(Task):
    """Transformer encoder with a classification head.

    Args:
        backbone: an encoder `Backbone` (or its config dict).
            `backbone.max_sequence_length` is also where `preprocess`
            truncates texts. `from_preset` builds one from a preset.
        num_classes: `C`, at least 2.
        pooling: `"mean"` averages the hidden states of the real (non-padding)
            tokens, `"max"` takes their element-wise maximum; `"cls"` takes
            the state of the first token, which `preprocess` makes the
            tokenizer's start token.
        pooler: a dense layer of width `D` with tanh on the pooled vector
            (BERT's pooler) before the head.
        add_end_token: `preprocess` ends every text with the tokenizer's end
            token (BERT's `[SEP]`).
        classifier_dropout: dropout on the pooled vector before the head.
        token_dropout: in training, each real token is hidden from attention
            and pooling with this probability (word dropout, a regularizer
            for small data sets).
        conv_kernel_size: `0` (default) for none; `k > 0` adds a local n-gram
            bias before the encoder stack: a 1-D convolution of width `k`
            (`D` filters, ReLU, "same" padding) over the token embeddings of
            the real tokens, added to them residually (`embeddings +
            dropout(conv(embeddings))`). Padding and dropped tokens are zeroed
            first, so padding does not change the result.
        tokenizer: optional tokenizer layer of `transformer_keras.text`; it
            is saved with the model and used by `preprocess` / `classify`.
        label_names: optional list of `C` class names; defaults to
            `["0", "1", ...]`.

    Call arguments:
        inputs: `(B, T)` token ids (padding derived from `pad_id`), or a dict
            `{"token_ids": (B, T), "padding_mask": (B, T) boolean}`.
        training: enables dropout.

    Returns:
        `(B, C)` logits, float32 under every dtype policy.

    Example:
    >>> import numpy as np
    >>> model = TransformerClassifier.from_preset(
    ...     "tiny", num_classes=3, vocabulary_size=50)
    >>> tuple(model(np.array([[4, 5, 6, 0]])).shape)
    (1, 3)
    >>> from transformer_keras.models import Backbone
    >>> backbone = Backbone(50, num_layers=1, hidden_dim=8, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=10)
    >>> tuple(TransformerClassifier(backbone, num_classes=2)(np.array([[4, 5]])).shape)
    (1, 2)
    """

    presets = {
        "tiny": dict(
            num_layers=1,
            hidden_dim=32,
            num_heads=2,
            intermediate_dim=64,
            max_sequence_length=64,
            dropout=0.1,
        ),
        "small": dict(
            num_layers=2,
            hidden_dim=128,
            num_heads=4,
            intermediate_dim=256,
            max_sequence_length=128,
            dropout=0.1,
            classifier_dropout=0.2,
        ),
        "base": dict(
            num_layers=6,
            hidden_dim=512,
            num_heads=8,
            intermediate_dim=2048,
            max_sequence_length=512,
            dropout=0.1,
            classifier_dropout=0.1,
        ),
    }
    # Encoder arguments a preset starts from (`Backbone`'s defaults otherwise).
    backbone_defaults = dict(
        stack="encoder",
        num_layers=2,
        hidden_dim=128,
        num_heads=4,
        intermediate_dim=256,
        max_sequence_length=128,
        dropout=0.1,
    )
    config_keys = (
        "num_classes",
        "pooling",
        "classifier_dropout",
        "token_dropout",
        "conv_kernel_size",
        "tokenizer",
        "label_names",
        "pooler",
        "add_end_token",
    )
    tokenizer_keys = ("tokenizer",)

    def __init__(
        self,
        backbone,
        num_classes,
        pooling="mean",
        classifier_dropout=0.0,
        token_dropout=0.0,
        conv_kernel_size=0,
        tokenizer=None,
        label_names=None,
        pooler=False,
        add_end_token=False,
        **kwargs,
    ):
        backbone = as_backbone(backbone, "backbone")
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(**kwargs)
        if backbone.stack != "encoder":
            raise ValueError(
                "A classifier needs an encoder backbone. "
                f"Received: backbone.stack={backbone.stack!r}"
            )
        check_positive_int("num_classes", num_classes)
        if num_classes < 2:
            raise ValueError(
                f"A classifier needs at least 2 classes. Received: num_classes={num_classes}"
            )
        check_choice("pooling", pooling, POOLINGS)
        check_rate("classifier_dropout", classifier_dropout)
        check_rate("token_dropout", token_dropout)
        check_non_negative_int("conv_kernel_size", conv_kernel_size)
        if label_names is None:
            label_names = [str(i) for i in range(num_classes)]
        label_names = [str(name) for name in label_names]
        if len(label_names) != num_classes:
            raise ValueError(
                f"`label_names` must have num_classes={num_classes} entries. "
                f"Received: label_names={label_names}"
            )
        self.backbone = backbone
        self.num_classes = num_classes
        self.pooling = pooling
        self.classifier_dropout = classifier_dropout
        self.token_dropout = token_dropout
        self.conv_kernel_size = conv_kernel_size
        self._attach_tokenizer("tokenizer", tokenizer)
        self.label_names = label_names
        self.pooler = pooler
        self.add_end_token = add_end_token

        self.conv = self.conv_dropout = None
        if conv_kernel_size:
            self.conv = keras.layers.Conv1D(
                backbone.hidden_dim,
                conv_kernel_size,
                padding="same",
                activation="relu",
                dtype=self.dtype_policy,
                name="conv",
            )
            self.conv_dropout = keras.layers.Dropout(
                backbone.dropout, dtype=self.dtype_policy, name="conv_dropout"
            )
        self.pooler_dense = (
            keras.layers.Dense(
                backbone.hidden_dim, activation="tanh", dtype="float32", name="pooler"
            )
            if pooler
            else None
        )
        self.head_dropout = keras.layers.Dropout(
            classifier_dropout, dtype=self.dtype_policy, name="head_dropout"
        )
        # float32 logits (and softmax/loss) under mixed precision.
        self.head = keras.layers.Dense(num_classes, dtype="float32", name="head")
        self.token_dropout_seed = keras.random.SeedGenerator(0) if token_dropout else None

    # ------------------------------------------------------------------ graph
    def build(self, inputs_shape):
        if isinstance(inputs_shape, dict):
            inputs_shape = inputs_shape["token_ids"]
        self.backbone.build(tuple(inputs_shape))
        if self.conv is not None:
            self.conv.build(tuple(inputs_shape) + (self.hidden_dim,))
        if self.pooler_dense is not None:
            self.pooler_dense.build((None, self.hidden_dim))
        self.head.build((None, self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask = self._ids_and_mask(inputs)
        if training and self.token_dropout > 0:
            padding_mask = self._drop_tokens(padding_mask)
        hidden = self._encode(token_ids, padding_mask, training=training)
        pooled = self._pool(hidden, padding_mask)  # (B, D)
        if self.pooler_dense is not None:
            pooled = self.pooler_dense(pooled)  # (B, D)
        pooled = self.head_dropout(pooled, training=training)
        return self.head(pooled)  # (B, C)

    def _encode(self, token_ids, padding_mask, training=None):
        """`(B, T)` ids -> `(B, T, D)` states: the backbone, with the n-gram
        convolution between its embedding and its stack if any."""
        if self.conv is None:
            return self.backbone(token_ids, padding_mask=padding_mask, training=training)
        hidden = self._convolved_embeddings(token_ids, padding_mask, training=training)
        return self.backbone.transformer(hidden, padding_mask=padding_mask, training=training)

    def _convolved_embeddings(self, token_ids, padding_mask, training=None):
        """`(B, T)` ids -> `(B, T, D)` embeddings plus their n-gram convolution."""
        embeddings = self.backbone.embedding(token_ids, training=training)  # (B, T, D)
        real = ops.cast(padding_mask, embeddings.dtype)[:, :, None]  # (B, T, 1)
        embeddings = embeddings * real
        local = self.conv_dropout(self.conv(embeddings), training=training)  # (B, T, D)
        return embeddings + local

    def _ids_and_mask(self, inputs):
        """`(B, T)` token ids and `(B, T)` boolean padding mask of the inputs."""
        if isinstance(inputs, dict):
            token_ids, mask = inputs["token_ids"], inputs.get("padding_mask")
            if mask is not None:
                return token_ids, ops.cast(mask, "bool")
            return token_ids, self.backbone.padding_mask(token_ids)
        return inputs, self.backbone.padding_mask(inputs)

    def _drop_tokens(self, padding_mask):
        """Word dropout: hides each real token from attention and pooling with
        probability `token_dropout` (never the first token under cls pooling)."""
        noise = keras.random.uniform(ops.shape(padding_mask), seed=self.token_dropout_seed)
        keep = noise >= self.token_dropout  # (B, T)
        if self.pooling == "cls":
            first = ops.arange(ops.shape(padding_mask)[1]) == 0  # (T,)
            keep = ops.logical_or(keep, first[None, :])
        return ops.logical_and(padding_mask, keep)

    def _pool(self, hidden, padding_mask):
        """`(B, T, D)` hidden states -> `(B, D)`, in float32."""
        hidden = ops.cast(hidden, "float32")
        if self.pooling == "cls":
            return hidden[:, 0, :]  # (B, D)
        real = ops.cast(padding_mask, "bool")[:, :, None]  # (B, T, 1)
        if self.pooling == "max":
            # An all-padding row (an empty text) pools to zeros, not -inf.
            has_tokens = ops.any(real, axis=1)  # (B, 1)
            largest = ops.max(ops.where(real, hidden, -3.0e38), axis=1)  # (B, D)
            return ops.where(has_tokens, largest, 0.0)
        weights = ops.cast(real, "float32")  # (B, T, 1)
        total = ops.sum(hidden * weights, axis=1)  # (B, D)
        # An all-padding row (an empty text) pools to zeros, not NaN.
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # (B, 1)
        return total / count

    def compute_output_shape(self, inputs_shape):
        if isinstance(inputs_shape, dict):
            inputs_shape = inputs_shape["token_ids"]
        return (inputs_shape[0], self.num_classes)

    # ------------------------------------------------------------ pretraining
    @classmethod
    def from_pretrained(cls, pretrained, num_classes, label_names=None, **overrides):
        """A classifier whose encoder starts from pretrained weights.

        Two sources, one name:

        - our own pre-trained encoder (a `MaskedLanguageModel`): its
          backbone's architecture, `vocabulary_size` and tokenizer are taken,
          its weights copied (`load_pretrained`), and the head starts from
          scratch;
        - a BERT checkpoint in the Hugging Face layout (a folder, or
          `hf://name` when online): its encoder, pooler and WordPiece
          tokenizer, with `pooling="cls"` and `[SEP]` ending every text as
          BERT reads them (`models.huggingface.bert`); a
          `BertForSequenceClassification` checkpoint with `num_classes`
          labels also gives the head.

        Args:
            pretrained: a `MaskedLanguageModel` (any model with an encoder
                `backbone` and a `get_config`), or the path of a Hugging Face
                checkpoint folder (`str` or `Path`) or an `hf://` name.
            num_classes: `C`.
            label_names: optional list of `C` class names.
            **overrides: further constructor arguments (`pooling`, `dropout`,
                `classifier_dropout`, `token_dropout`, `dtype` ...).
                Arguments that change weight shapes make loading fail.

        Returns:
            A built `TransformerClassifier`.

        Example:
        >>> import numpy as np
        >>> from transformer_keras.models import MaskedLanguageModel
        >>> encoder = MaskedLanguageModel.from_preset("tiny", vocabulary_size=50)
        >>> _ = encoder({"token_ids": np.array([[4, 49, 6]]),  # (pre-training goes here)
        ...              "mask_positions": np.array([[1]])})
        >>> classifier = TransformerClassifier.from_pretrained(encoder, num_classes=2)
        >>> classifier.vocabulary_size
        50
        >>> bert = TransformerClassifier.from_pretrained(  # doctest: +SKIP
        ...     "hf://bert-base-uncased", num_classes=2)
        """
        if isinstance(pretrained, str | os.PathLike):
            from transformer_keras.models.huggingface import load_bert

            return load_bert(pretrained, num_classes, label_names=label_names, **overrides)
        architecture = pretrained.backbone.get_config()
        for key in ("name", "trainable", "dtype"):
            architecture.pop(key, None)
        tokenizer = getattr(pretrained, "tokenizer", None)
        model = cls.from_arguments(
            **{
                **architecture,
                "num_classes": num_classes,
                "tokenizer": tokenizer,
                "label_names": label_names,
                **overrides,
            }
        )
        model.load_pretrained(pretrained)
        return model

    def load_pretrained(self, pretrained):
        """Copies a pretrained encoder's weights into this classifier's backbone.

        The token and position embeddings and every encoder layer are copied;
        the classification head keeps its own weights.

        Args:
            pretrained: a built encoder `Backbone`, or a model holding one as
                `backbone` (a `MaskedLanguageModel`, another classifier).

        Raises:
            ValueError: `pretrained` has no built encoder backbone, or its
                weights do not have this backbone's shapes (another width,
                depth, vocabulary or `max_sequence_length`).
        """
        source = getattr(pretrained, "backbone", pretrained)
        if not isinstance(source, Backbone) or source.stack != "encoder" or not source.built:
            raise ValueError(
                "`pretrained` must be a built encoder Backbone or a model with one as "
                f"`backbone`. Received: pretrained={pretrained!r}"
            )
        if not self.built:
            self.build((None, None))
        source_shapes = [tuple(weight.shape) for weight in source.weights]
        target_shapes = [tuple(weight.shape) for weight in self.backbone.weights]
        if source_shapes != target_shapes:
            mismatched = [
                f"{target.path}: {tuple(target.shape)} vs {tuple(weight.shape)}"
                for target, weight in zip(self.backbone.weights, source.weights)
                if tuple(target.shape) != tuple(weight.shape)
            ] or [f"{len(target_shapes)} vs {len(source_shapes)} weights"]
            raise ValueError(
                "The pretrained backbone's weights do not fit this classifier's "
                f"({mismatched[0]}; same num_layers, hidden_dim, intermediate_dim, "
                "vocabulary_size, max_sequence_length needed). "
                f"Received: pretrained={pretrained.name!r}"
            )
        for target, weight in zip(self.backbone.weights, source.weights):
            target.assign(weight)

    # -------------------------------------------------------------- inference
    def attention_scores(self, inputs):
        """Per-layer attention probabilities, a list of `L` arrays `(B, N, T, T)`.

        Args:
            inputs: token ids `(B, T)` or the dict accepted by `call`.
        """
        token_ids, padding_mask = self._ids_and_mask(inputs)
        if self.conv is None:
            return self.backbone.attention_scores(token_ids, padding_mask=padding_mask)
        hidden = self._convolved_embeddings(token_ids, padding_mask, training=False)
        return self.backbone.transformer.attention_scores(hidden, padding_mask=padding_mask)

    def preprocess(self, texts):
        """Strings `(B,)` -> `(B, max_sequence_length)` int32 token ids.

        Invalid UTF-8 bytes are replaced (U+FFFD) before tokenizing; texts
        longer than `max_sequence_length` tokens are truncated. With
        `pooling="cls"` each sequence starts with the start token, with
        `add_end_token` it ends with the end token. Runs inside
        `tf.data` and inside exported graphs (TensorFlow ops).
        """
        from transformer_keras.text.utf8 import valid_utf8

        if self.tokenizer is None:
            raise ValueError(
                "This classifier has no tokenizer; pass token ids, or build it with "
                "`tokenizer=`. Received: tokenizer=None"
            )
        if self.tokenizer.vocabulary_size > self.vocabulary_size:
            raise ValueError(
                f"The tokenizer has more ids than the model's vocabulary_size="
                f"{self.vocabulary_size}. Received: tokenizer.vocabulary_size="
                f"{self.tokenizer.vocabulary_size}"
            )
        texts = valid_utf8(texts)
        return self.tokenizer.encode(
            texts,
            sequence_length=self.max_sequence_length,
            add_start=self.pooling == "cls",
            add_end=self.add_end_token,
        )

    def classify(self, texts, batch_size=64):
        """Label names, label ids and probabilities of a list of strings.

        Returns:
            `(labels, label_ids, probabilities)`: a list of `B` names, a `(B,)`
            int64 NumPy array and a `(B, C)` float32 NumPy array.
        """
        import numpy as np

        token_ids = self.preprocess(list(texts))
        logits = self.predict(token_ids, batch_size=batch_size, verbose=0)
        probabilities = ops.convert_to_numpy(ops.softmax(logits, axis=-1))
        label_ids = np.argmax(probabilities, axis=-1).astype("int64")
        return [self.label_names[i] for i in label_ids], label_ids, probabilities

    # ------------------------------------------------------------- training
    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        total_steps=None,
        learning_rate=5e-4,
        weight_decay=0.01,
        ema_momentum=None,
        jit_compile=False,
        **kwargs,
    ):
        """`Task.compile` with this model's defaults for every `"auto"`.

        The default optimizer is AdamW (`weight_decay`, clipnorm 1) with a
        linear warmup over the first 10% of `total_steps` (epochs x steps per
        epoch; 10,000 if not given) to `learning_rate`, then cosine decay to 0.
        With `ema_momentum` (e.g. 0.999) it also keeps an exponential moving
        average of the weights, which `fit` leaves in the model at the end; add
        `keras.callbacks.SwapEMAWeights(swap_on_epoch=True)` first in the
        callbacks to validate and checkpoint the averaged weights.

        XLA is off by default: length-bucketed batches have many shapes, and
        XLA compiles once per shape, which on a CPU costs more than it gains.
        Pass `jit_compile=True` (or `"auto"`) on a GPU."""
        self._default_total_steps = total_steps
        self._default_learning_rate = learning_rate
        self._default_weight_decay = weight_decay
        self._default_ema_momentum = ema_momentum
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile, **kwargs
        )

    def default_optimizer(self):
        from transformer_keras.optimization import adamw, warmup_cosine

        # At least one warmup step and one of decay (a run of one batch).
        total_steps = max(self._default_total_steps or 10_000, 2)
        schedule = warmup_cosine(
            self._default_learning_rate,
            warmup_steps=max(1, total_steps // 10),
            total_steps=total_steps,
        )
        ema = self._default_ema_momentum
        return adamw(
            schedule,
            weight_decay=self._default_weight_decay,
            clipnorm=1.0,
            use_ema=ema is not None,
            ema_momentum=0.99 if ema is None else ema,
        )

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


@keras.saving.register_keras_serializable(package="transformer_keras")
class ClassifierEnsemble(Task):
    """Several `TransformerClassifier`s that vote: their probabilities averaged.

    The members are trained independently (other seeds) on the same
    tokenizer, labels and preprocessing; the ensemble reads texts like its
    first member (`preprocess`, `tokenizer`, `label_names`), so `classify`
    and `export_classifier` take it in place of one classifier.

    Args:
        members: a list of at least 2 `TransformerClassifier`s with the same
            `num_classes`, `label_names`, `max_sequence_length`, tokenizer
            vocabulary and start- and end-token rules (cls pooling,
            `add_end_token`).

    Call arguments:
        inputs, training: as `TransformerClassifier`.

    Returns:
        `(B, C)` float32 logits: the log of the members' mean probabilities,
        so their softmax is that mean.

    Example:
    >>> import numpy as np
    >>> members = [TransformerClassifier.from_preset(
    ...     "tiny", num_classes=2, vocabulary_size=50) for _ in range(2)]
    >>> ensemble = ClassifierEnsemble(members)
    >>> tuple(ensemble(np.array([[4, 5, 6, 0]])).shape)
    (1, 2)
    """

    backbone_keys = ()
    config_keys = ("members",)

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if len(members) < 2 or not all(
            isinstance(member, TransformerClassifier) for member in members
        ):
            raise ValueError(
                "An ensemble needs at least 2 TransformerClassifiers. "
                f"Received: members={members!r}"
            )
        first = members[0]
        for member in members[1:]:
            same = (
                member.num_classes == first.num_classes
                and member.label_names == first.label_names
                and member.max_sequence_length == first.max_sequence_length
                and (member.pooling == "cls") == (first.pooling == "cls")
                and member.add_end_token == first.add_end_token
                and _vocabulary(member.tokenizer) == _vocabulary(first.tokenizer)
            )
            if not same:
                raise ValueError(
                    "The members must share classes, label names, max_sequence_length, "
                    "tokenizer and start- and end-token rules. "
                    f"Received: members={[m.name for m in members]}"
                )
        self.members = members

    # Everything a caller of one classifier reads, from the first member.
    num_classes = property(lambda self: self.members[0].num_classes)
    label_names = property(lambda self: self.members[0].label_names)
    max_sequence_length = property(lambda self: self.members[0].max_sequence_length)
    tokenizer = property(lambda self: self.members[0].tokenizer)

    def build(self, inputs_shape):
        for member in self.members:
            if not member.built:  # Reloaded members come built.
                member.build(inputs_shape)
        self.built = True

    def call(self, inputs, training=None):
        probabilities = [
            ops.softmax(member(inputs, training=training), axis=-1) for member in self.members
        ]
        mean = ops.mean(ops.stack(probabilities, axis=0), axis=0)  # (B, C)
        return ops.log(ops.maximum(mean, 1e-30))

    def compute_output_shape(self, inputs_shape):
        return self.members[0].compute_output_shape(inputs_shape)

    def preprocess(self, texts):
        """`TransformerClassifier.preprocess` of the first member."""
        return self.members[0].preprocess(texts)

    classify = TransformerClassifier.classify

    def get_config(self):
        config = super().get_config()
        config["members"] = [keras.saving.serialize_keras_object(m) for m in self.members]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [
            keras.saving.deserialize_keras_object(m) for m in config["members"]
        ]
        return super().from_config(config)

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """For `evaluate`: the loss and accuracy of `TransformerClassifier`.
        (The members are trained one by one, each with its own `compile`.)"""
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a reloaded ensemble for `evaluate`; its optimizer is
        never used, so it is not built."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def _vocabulary(tokenizer):
    """What decides a tokenizer's ids: its class and config (vocabulary included)
    but the Keras layer keys, or None."""
    if tokenizer is None:
        return None
    layer_keys = ("name", "trainable", "dtype")
    config = tokenizer.get_config()
    return type(tokenizer), {key: config[key] for key in config if key not in layer_keys}
