"""What the three task models share: presets, config and `compile` defaults.

A task is a `keras.Model` subclass that wraps one or two `Backbone`s with a
head. Its constructor arguments are its config (listed once in
`config_keys`), its presets are plain dicts of constructor arguments, and
`compile()` with no arguments gives the training set-up that works well for it.
"""

import keras

BACKBONE_KEYS = (
    "num_layers",
    "hidden_dim",
    "num_heads",
    "intermediate_dim",
    "max_sequence_length",
    "position",
    "pad_id",
    "num_key_value_heads",
    "activation",
    "dropout",
    "attention_dropout",
    "normalize_first",
    "layer_norm_epsilon",
    "use_bias",
)


class Task(keras.Model):
    """Base class of `TransformerClassifier`, `TransformerLM` and `Transformer`.

    Subclasses set:
        presets: `{name: {constructor argument: value}}`.
        config_keys: the constructor arguments, each stored as an attribute of
            the same name; `get_config` returns them all.
        tokenizer_keys: those of them that hold tokenizer layers, serialized
            in the config (vocabularies and SentencePiece models included).
    and implement `default_optimizer()`, `default_loss()` and
    `default_metrics()` for `compile()`.
    """

    presets = {}
    config_keys = ()
    tokenizer_keys = ()

    @classmethod
    def preset_names(cls):
        return sorted(cls.presets)

    @classmethod
    def preset_config(cls, preset, **overrides):
        """The constructor arguments of `preset`, updated with `overrides`."""
        if preset not in cls.presets:
            raise ValueError(
                f"Unknown {cls.__name__} preset; choose one of {cls.preset_names()}. "
                f"Received: preset={preset!r}"
            )
        unknown = sorted(set(overrides) - set(cls.config_keys) - {"name", "dtype"})
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no argument(s) {unknown}. Received: overrides={overrides}"
            )
        return {**cls.presets[preset], **overrides}

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Builds the model of a named preset; any argument can be overridden.

        Example: `TransformerLM.from_preset("nanogpt-cpu", vocabulary_size=65)`.
        """
        return cls(**cls.preset_config(preset, **overrides))

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with this task's defaults for every "auto"."""
        super().compile(
            optimizer=self.default_optimizer() if optimizer == "auto" else optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )

    def compile_from_config(self, config):
        """Re-compiles a reloaded `.keras` model through this `compile` (Keras
        skips custom `compile` methods and warns otherwise)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def default_optimizer(self):
        raise NotImplementedError

    def default_loss(self):
        raise NotImplementedError

    def default_metrics(self):
        return []

    def with_dtype(self, dtype):
        """A copy of this model with its weights cast to `dtype`, for inference.

        Under a mixed policy (`"mixed_bfloat16"`) the variables stay float32,
        so every decoding step still reads four bytes per weight; generating
        one token at a time is bound by that read. A `"bfloat16"` copy reads
        two and holds half the memory; it is faster where bfloat16 products
        are fast (on a CPU whose XLA multiplies bfloat16 at its float32 rate,
        about as fast as float32). Logits stay float32. Export the copy to
        serve it (`export_language_model(model.with_dtype("bfloat16"), path)`).

        Args:
            dtype: a Keras dtype policy name: `"bfloat16"`, `"float16"`,
                `"float32"`, `"mixed_bfloat16"`...

        Returns:
            A new model of the same class and configuration, built, with this
            model's weights (tokenizer included).

        Example:
        >>> import numpy as np
        >>> from transformer_keras.models.language_model import TransformerLM
        >>> model = TransformerLM.from_preset("tiny", vocabulary_size=50)
        >>> model.build()
        >>> fast = model.with_dtype("bfloat16")
        >>> logits = fast(np.array([[4, 5]]))
        >>> {v.dtype for v in fast.weights}, keras.backend.standardize_dtype(logits.dtype)
        ({'bfloat16'}, 'float32')
        """
        if not self.built:
            raise ValueError(
                f"Build the model (call it once or `build()`) before copying it. "
                f"Received: model.built={self.built}"
            )
        copy = type(self).from_config({**self.get_config(), "dtype": dtype})
        copy.build_from_config(self.get_build_config())
        copy.set_weights(self.get_weights())
        return copy

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
        }
        config.update({key: getattr(self, key) for key in self.config_keys})
        for key in self.tokenizer_keys:
            if config.get(key) is not None:
                config[key] = keras.saving.serialize_keras_object(config[key])
        return config

    @classmethod
    def from_config(cls, config):
        # Registers the tokenizer classes, and the optimizers, losses and
        # metrics that `compile_from_config` rebuilds, in a process that
        # imported neither (e.g. `transformer-keras evaluate`).
        import transformer_keras.optimization  # noqa: F401
        import transformer_keras.text  # noqa: F401

        config = dict(config)
        config.pop("trainable", None)
        for key in cls.tokenizer_keys:
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
