"""What the task models share: backbones, presets, config and `compile` defaults.

A task is a `keras.Model` subclass that wraps one or two `Backbone`s with a
head, as KerasHub's tasks do: its constructor takes the backbone(s) and its
own head arguments only. A preset is one flat dict of backbone and head
arguments; `from_preset` (and `from_arguments`) sorts them out, builds the
backbone(s) and then the task. `compile()` with no arguments gives the
training set-up that works well for the task.
"""

import warnings

import keras

from transformer_keras.models.backbone import Backbone, backbone_argument_names


class Task(keras.Model):
    """Base class of `TransformerClassifier`, `TransformerLM` and `Transformer`.

    Subclasses set:
        presets: `{name: {backbone or head argument: value}}`.
        backbone_defaults: the backbone arguments a preset starts from (the
            stack, and defaults such as the activation).
        backbone_keys: the constructor arguments that hold `Backbone`s, each
            stored as an attribute of the same name.
        config_keys: the other constructor arguments, each stored as an
            attribute of the same name; `get_config` returns them all.
        tokenizer_keys: those of them that hold tokenizer layers, serialized
            in the config (vocabularies and SentencePiece models included).
    and implement `default_optimizer()`, `default_loss()` and
    `default_metrics()` for `compile()`. A task with one backbone whose
    vocabulary comes from its tokenizer needs nothing more for `from_preset`;
    the translator overrides `split_arguments`.
    """

    presets = {}
    backbone_defaults = {}
    backbone_keys = ("backbone",)
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
        known = {*cls.config_keys, *cls.preset_argument_names(), "name", "dtype"}
        unknown = sorted(set(overrides) - known)
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
        return cls.from_arguments(**cls.preset_config(preset, **overrides))

    @classmethod
    def from_arguments(cls, **arguments):
        """Builds the task from one flat dict of backbone and head arguments.

        This is the form of a preset (and of the configs of `.keras` files
        written before tasks took a backbone). Backbone arguments not given
        take `backbone_defaults`, then `Backbone`'s defaults; `dtype` applies
        to the backbone(s) and the head.
        """
        return cls(**cls.split_arguments(dict(arguments)))

    @classmethod
    def preset_argument_names(cls):
        """The backbone argument names a preset or `from_arguments` accepts."""
        return backbone_argument_names()

    @classmethod
    def split_arguments(cls, arguments):
        """Flat arguments -> this task's constructor arguments, `backbone` built.

        `vocabulary_size` defaults to `default_vocabulary_size(arguments)`.
        """
        backbone_arguments = {**cls.backbone_defaults}
        for key in backbone_argument_names():
            if key in arguments:
                backbone_arguments[key] = arguments.pop(key)
        if backbone_arguments.get("vocabulary_size") is None:
            backbone_arguments["vocabulary_size"] = cls.default_vocabulary_size(arguments)
        backbone = Backbone(**backbone_arguments, dtype=arguments.get("dtype"), name="backbone")
        return {"backbone": backbone, **arguments}

    @classmethod
    def default_vocabulary_size(cls, arguments):
        """The vocabulary of a task built without `vocabulary_size`: its tokenizer's."""
        tokenizer = arguments.get("tokenizer")
        if tokenizer is None:
            raise ValueError(
                "Pass `vocabulary_size` or a `tokenizer` to take it from. "
                "Received: vocabulary_size=None"
            )
        return int(tokenizer.vocabulary_size)

    # The output backbone's sizes and padding id (the decoder's, for the
    # translator), read by the recipes, the data pipelines and the exports.
    @property
    def vocabulary_size(self):
        return getattr(self, self.backbone_keys[-1]).vocabulary_size

    @property
    def max_sequence_length(self):
        return getattr(self, self.backbone_keys[-1]).max_sequence_length

    @property
    def pad_id(self):
        return getattr(self, self.backbone_keys[-1]).pad_id

    @property
    def hidden_dim(self):
        return getattr(self, self.backbone_keys[-1]).hidden_dim

    def _attach_tokenizer(self, key, tokenizer):
        """Stores a tokenizer layer as `self.<key>`, not as a tracked sub-layer:
        Keras turns `jit_compile` off for a model holding a layer of string
        ops. It is saved through the config (`tokenizer_keys`) and exported
        through `track=`."""
        object.__setattr__(self, key, tokenizer)

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
        config = {"dtype": dtype}
        for key in self.backbone_keys:
            backbone = getattr(self, key)
            config[key] = Backbone.from_config({**backbone.get_config(), "dtype": dtype})
        return self._copy(config)

    def with_tokenizers(self, **tokenizers):
        """A copy of this model, with its weights, holding `tokenizers`.

        For a model trained from token ids where no TensorFlow was at hand
        (on the JAX backend, say): reloaded under TensorFlow, it gets the
        tokenizer that made its ids, and then takes and returns text
        (`generate(strings)`, `classify`, `translate`, the exports).

        Args:
            **tokenizers: tokenizer layers by argument name: `tokenizer=` for
                the classifier, the language models; `source_tokenizer=` and
                `target_tokenizer=` for the translator.

        Returns:
            A new built model of the same class and configuration.

        Example:
        >>> import numpy as np
        >>> from transformer_keras.models.language_model import TransformerLM
        >>> from transformer_keras.text import ByteTokenizer
        >>> model = TransformerLM.from_preset("tiny", vocabulary_size=260)
        >>> model.build()
        >>> with_text = model.with_tokenizers(tokenizer=ByteTokenizer())
        >>> len(with_text.generate(["Hi"], max_new_tokens=4, temperature=0.0)) == 1
        True
        """
        unknown = sorted(set(tokenizers) - set(self.tokenizer_keys))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} takes tokenizers named {list(self.tokenizer_keys)}. "
                f"Received: tokenizers={unknown}"
            )
        return self._copy(tokenizers)

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Keras' `Model.quantize`, recorded in the config for `.keras` files.

        `model.quantize("int8")` stores the weights of every dense, einsum and
        embedding layer in int8 with per-channel scales (Keras' own); the
        exports take the quantized model as any other. The quantization
        config (and `filters`, unless a callable) go into the model's config,
        so a `.keras` file reloads quantized.

        Example:
        >>> import numpy as np
        >>> from transformer_keras.models.language_model import TransformerLM
        >>> model = TransformerLM.from_preset("tiny", vocabulary_size=50)
        >>> model.build()
        >>> model.quantize("int8")
        >>> sorted({v.dtype for v in model.weights})
        ['float32', 'int8']
        """
        with warnings.catch_warnings():  # one per layer without weights to quantize
            warnings.filterwarnings("ignore", message=r"Layer .* does not have a `quantize`")
            super().quantize(mode, config=config, filters=filters, **kwargs)
        if filters is None or isinstance(filters, (str, list, tuple)):
            # Keras resolves `mode` into a serializable `QuantizationConfig`.
            self._quantization = {
                "config": keras.saving.serialize_keras_object(config),
                "filters": filters,
            }

    def build_from_config(self, config):
        super().build_from_config(config)
        quantization = getattr(self, "_quantization", None)
        if quantization is not None and not self._has_quantized_layers():
            # Before the weights of a quantized file are loaded into it.
            config = keras.saving.deserialize_keras_object(quantization["config"])
            self.quantize(config.mode, config=config, filters=quantization["filters"])

    def _has_quantized_layers(self):
        return any(
            layer.quantization_mode for layer in self._flatten_layers(include_self=False)
        )

    def with_merged_lora(self):
        """A copy without LoRA adapters whose kernels hold them: `W + A B * alpha / r`.

        For export and serving: the same outputs as this model, and the same
        weights and speed as a model that never had adapters.

        Returns:
            A new built model of the same class; `backbone.lora_rank` is None.

        Example:
        >>> import numpy as np
        >>> from transformer_keras.models.language_model import TransformerLM
        >>> model = TransformerLM.from_preset("tiny", vocabulary_size=50)
        >>> model.build()
        >>> model.backbone.enable_lora(4)
        >>> merged = model.with_merged_lora()
        >>> merged.backbone.lora_rank is None
        True
        """
        merged_kernels = {}
        for key in self.backbone_keys:
            for layer in getattr(self, key).lora_layers():
                # With LoRA on, Keras' `kernel` property is the merged kernel.
                variable = next(w for w in layer.weights if w.name == "kernel")
                merged_kernels[_relative_path(variable)] = layer.kernel
        config = {}
        for key in self.backbone_keys:
            backbone = getattr(self, key)
            config[key] = Backbone.from_config({**backbone.get_config(), "lora_rank": None})
        copy = self._copy(config, copy_weights=False)
        values = {
            _relative_path(variable): variable
            for variable in self.weights
            if variable.name not in ("lora_kernel_a", "lora_kernel_b")
        }
        for variable in copy.weights:
            path = _relative_path(variable)
            variable.assign(merged_kernels.get(path, values[path]))
        return copy

    def _copy(self, config_updates, copy_weights=True):
        """A built copy of this model, with `config_updates` (and its weights)."""
        if not self.built:
            raise ValueError(
                f"Build the model (call it once or `build()`) before copying it. "
                f"Received: model.built={self.built}"
            )
        config = self.get_config()
        for key in self.tokenizer_keys:  # the layers themselves, not their configs
            config[key] = getattr(self, key)
        for key in self.backbone_keys:
            config[key] = getattr(self, key).get_config()
        config.update(config_updates)
        copy = type(self).from_config(config)
        copy.build_from_config(self.get_build_config())
        if copy_weights:
            copy.set_weights(self.get_weights())
        return copy

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
        }
        for key in self.backbone_keys:
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        config.update({key: getattr(self, key) for key in self.config_keys})
        if getattr(self, "_quantization", None) is not None:
            config["quantization"] = self._quantization
        for key in self.tokenizer_keys:
            if config.get(key) is not None:
                config[key] = keras.saving.serialize_keras_object(config[key])
        return config

    @classmethod
    def from_config(cls, config):
        # Registers the optimizers, losses and metrics that
        # `compile_from_config` rebuilds, and the tokenizer classes of a
        # config that holds one (they need TensorFlow), in a process that
        # imported none of them (e.g. `transformer-keras evaluate`).
        import transformer_keras.optimization  # noqa: F401

        config = dict(config)
        config.pop("trainable", None)
        quantization = config.pop("quantization", None)
        for key in cls.tokenizer_keys:
            if isinstance(config.get(key), dict):
                from transformer_keras.text import register_tokenizers

                register_tokenizers()
                config[key] = keras.saving.deserialize_keras_object(config[key])
        if cls.backbone_keys and not set(cls.backbone_keys) & set(config):
            # A flat config, from before tasks took a backbone.
            model = cls.from_arguments(**config)
        else:
            model = cls(**config)
        model._quantization = quantization  # applied by `build_from_config`
        return model


def _relative_path(variable):
    """A variable's path without its model's name: the same in a copy."""
    return variable.path.split("/", 1)[1]
