"""Optimizers: AdamW without decay on biases, norms and embeddings; the paper's Adam."""

import keras

from transformer_keras.optimization.replica_clipping import ClipSummedGradients
from transformer_keras.utils.validation import check_rate

# Regular expressions searched in variable names (`Dense`/`EinsumDense` "bias",
# `LayerNormalization` "gamma"/"beta", `Embedding`/position tables "embeddings",
# also matching "reverse_embeddings" of an untied output projection).
NO_WEIGHT_DECAY_NAMES = ("bias", "gamma", "beta", "embeddings")


@keras.saving.register_keras_serializable(package="transformer_keras")
class AdamWExcluding(ClipSummedGradients, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose exclusions from weight decay are part of its config.

    Keras' `exclude_from_weight_decay(var_names=...)` is not saved with the
    optimizer, so a model reloaded from a `.keras` file would decay its
    biases, norms and embeddings; storing the names as a constructor argument
    keeps them.

    Under several `tf.distribute` replicas, `clipnorm` / `global_clipnorm`
    clip the gradients summed over the replicas, as on one device (see
    `replica_clipping.py`).

    Args:
        exclude_from_weight_decay_names: regular expressions; a variable whose
            name matches one gets no weight decay.
        **kwargs: the arguments of `keras.optimizers.AdamW`.
    """

    def __init__(self, exclude_from_weight_decay_names=NO_WEIGHT_DECAY_NAMES, **kwargs):
        super().__init__(**kwargs)
        self.exclude_from_weight_decay_names = list(exclude_from_weight_decay_names)
        self.exclude_from_weight_decay(var_names=self.exclude_from_weight_decay_names)

    def get_config(self):
        return {
            **super().get_config(),
            "exclude_from_weight_decay_names": self.exclude_from_weight_decay_names,
        }


def adamw(
    learning_rate,
    weight_decay=0.01,
    beta_1=0.9,
    beta_2=0.98,
    epsilon=1e-9,
    clipnorm=None,
    exclude_from_weight_decay_names=NO_WEIGHT_DECAY_NAMES,
    **kwargs,
):
    """AdamW with decoupled weight decay on weight matrices only.

    Biases, layer-norm scales and offsets, and embedding tables are excluded
    from weight decay (matched by variable name, see `NO_WEIGHT_DECAY_NAMES`).

    Args:
        learning_rate: a float or a `LearningRateSchedule`.
        weight_decay: the decoupled weight-decay rate.
        beta_1: first-moment decay.
        beta_2: second-moment decay (0.98 as in the paper, steadier than
            Keras' 0.999 for Transformers).
        epsilon: numerical-stability constant.
        clipnorm: clip each gradient to this norm, or None.
        exclude_from_weight_decay_names: regular expressions of variable
            names that get no weight decay.
        **kwargs: more `keras.optimizers.AdamW` arguments (e.g. `global_clipnorm`).

    Returns:
        A `keras.optimizers.AdamW` (an `AdamWExcluding`).

    Example:
    >>> optimizer = adamw(learning_rate=1e-3, weight_decay=0.01, clipnorm=1.0)
    >>> optimizer.beta_2, optimizer.clipnorm
    (0.98, 1.0)
    """
    check_rate("weight_decay", weight_decay)
    return AdamWExcluding(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        clipnorm=clipnorm,
        exclude_from_weight_decay_names=exclude_from_weight_decay_names,
        **kwargs,
    )


def paper_adam(learning_rate):
    """Adam as in the paper (section 5.3): `beta_1=0.9, beta_2=0.98, epsilon=1e-9`.

    Args:
        learning_rate: usually a `TransformerSchedule`.

    Returns:
        A `keras.optimizers.Adam`.

    Example:
    >>> from transformer_keras.optimization.schedules import TransformerSchedule
    >>> optimizer = paper_adam(TransformerSchedule(hidden_dim=512))
    >>> optimizer.beta_1, optimizer.beta_2, optimizer.epsilon
    (0.9, 0.98, 1e-09)
    """
    return keras.optimizers.Adam(
        learning_rate=learning_rate, beta_1=0.9, beta_2=0.98, epsilon=1e-9
    )
