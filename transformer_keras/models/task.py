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
    and implement `default_optimizer()`, `default_loss()` and
    `default_metrics()` for `compile()`.
    """

    presets = {}
    config_keys = ()

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

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self.config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        return cls(**config)
