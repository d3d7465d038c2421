"""Argument handling for layer methods other than `call`.

`Layer.__call__` converts the arguments of `call` (arrays become tensors,
floating ones take the layer's compute dtype) and builds the layer on their
shapes. The other public methods of the layers (`call_with_cache`,
`attention_scores`, ...) are plain methods: they start with these two
functions to get the same treatment.
"""

import keras

from transformer_keras.layers import masks


def convert_inputs(layer, *values):
    """`values` as `layer.__call__` would pass them to `call`.

    Arrays become tensors, floating ones of `layer`'s compute dtype (integer
    and boolean ones keep their dtype); nests (a tuple of per-layer caches)
    are converted leaf by leaf; `None` stays `None`; Keras masks stay attached.

    Returns:
        The converted values, a tuple as long as `values`.
    """

    def convert(value):
        mask = masks.implicit_mask(value)
        converted = layer.dtype_policy.convert_input(value, layer.autocast, layer.input_dtype)
        if mask is not None and converted is not value:
            masks.set_implicit_mask(converted, mask)
        return converted

    return tuple(keras.tree.map_structure(convert, value) for value in values)


def build_if_needed(layer, *inputs):
    """Builds `layer` on the shapes of `inputs` (positional `build` arguments).

    `None` inputs pass `None` shapes (e.g. no `context`).
    """
    if not layer.built:
        layer.build(*(None if value is None else tuple(value.shape) for value in inputs))
