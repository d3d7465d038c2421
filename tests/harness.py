"""The one test harness that every layer and every model of the zoo goes through.

Layers:

    from tests.harness import run_layer_test

    def test_encoder_layer(tmp_path):
        run_layer_test(
            EncoderLayer,
            {"hidden_dim": 8, "num_heads": 2, "intermediate_dim": 16},
            np.random.rand(2, 5, 8).astype("float32"),
            call_kwargs={"padding_mask": np.array([[1, 1, 1, 0, 0]] * 2, bool)},
            expected_output_shape=(2, 5, 8),
            tmp_path=tmp_path,
        )

Models (a function that builds a fresh model, so that each precision policy
gets its own; compile it in `model_fn` to fit with its own loss):

    run_model_test(
        lambda: TransformerClassifier.from_arguments(**tiny, num_classes=3).compile() or ...,
        {"token_ids": ids, "padding_mask": ids != 0},
        targets=labels,
        tmp_path=tmp_path,
    )

What is checked, each as its own `assert_*` function that tests may call alone:

1. `get_config` -> `from_config` gives identical JSON (`json.dumps(config,
   sort_keys=True)`), before and after the layer is built, and the registered
   name round-trips through `keras.saving.serialize_keras_object`.
2. Eager and symbolic calls: the eager outputs, the outputs of a functional
   `keras.Model` built on `keras.Input`s (batch size unknown) and the symbolic
   output shapes and dtypes all agree.
3. A `.keras` file written to pytest's `tmp_path` reloads (safe mode on) with
   equal outputs and, for a layer, the same config.
4. One `fit` step with finite loss that changes at least one trainable weight
   (a layer gets a `Dense(1)` head on its first output and an MSE loss, and
   trains eagerly unless `run_eagerly=False`; a model trains as compiled).
5. Under `mixed_float16` and `mixed_bfloat16` the outputs are finite and the
   first output has the policy's compute dtype. A layer is constructed with
   `dtype=<policy>` (so a sub-layer that ignores the policy is caught); a model
   is built by `model_fn` while the global policy is set (always restored).

Tensor call arguments (padding masks, a context, a cache) are passed in
`call_kwargs` as NumPy arrays, or tuples/lists/dicts of them (a per-layer
cache): the harness turns every such array into a `keras.Input` of the
functional model and passes every other value (bools, ints) as is. The first
dimension of every array is the batch.

A layer method other than `call` (`call_with_cache`, `attention_scores`) goes
through the same checks with `method="call_with_cache"`: the functional model
and the `.keras` file then hold the layer inside `MethodCall`, a layer whose
`call` is that method.

Why not `keras.src.testing.TestCase.run_layer_test`: it is private API bound to
`unittest`, and it checks neither `.keras` round trips with equal outputs nor
identical JSON configs nor tensor keyword arguments in a functional model.
"""

import contextlib
import json
import warnings

import keras
import numpy as np
from keras import ops

MIXED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16")


# --------------------------------------------------------------------- utilities
def to_numpy(structure):
    """Every tensor of a nested structure as a NumPy array (same structure)."""
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


def assert_outputs_close(actual, expected, atol=1e-6, rtol=0.0):
    """Same nested structure, same shapes, values equal within `atol`."""
    # A functional model returns lists where a layer returns tuples.
    actual = keras.tree.lists_to_tuples(to_numpy(actual))
    expected = keras.tree.lists_to_tuples(to_numpy(expected))
    keras.tree.assert_same_structure(actual, expected)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


def assert_finite(structure):
    """Every floating tensor of a nested structure is free of NaN and inf."""
    for value in keras.tree.flatten(to_numpy(structure)):
        if np.issubdtype(value.dtype, np.floating) or value.dtype.name == "bfloat16":
            values = value.astype("float32")
            assert np.isfinite(values).all(), f"non-finite values in {value.shape} output"


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global Keras dtype policy for a block; always restores float32."""
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def _config_json(obj):
    return json.dumps(obj.get_config(), sort_keys=True)


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def _is_array_nest(value):
    """A NumPy array, or a non-empty tuple/list/dict whose leaves all are."""
    if isinstance(value, np.ndarray):
        return True
    if not isinstance(value, (tuple, list, dict)):
        return False
    leaves = keras.tree.flatten(value)
    return bool(leaves) and all(isinstance(leaf, np.ndarray) for leaf in leaves)


def _symbolic_inputs(data):
    """`keras.Input`s (batch size unknown) mirroring a nested structure of arrays."""
    symbolic = [
        keras.Input(
            shape=array.shape[1:],
            dtype=array.dtype.name,
            name="_".join(str(p) for p in path) or "inputs",
        )
        for path, array in keras.tree.flatten_with_path(data)
    ]
    return keras.tree.pack_sequence_as(data, symbolic)


@keras.saving.register_keras_serializable(package="transformer_keras_tests")
class MethodCall(keras.layers.Layer):
    """A layer whose `call` is `getattr(layer, method)`: puts a layer method
    other than `call` into functional models and `.keras` files.

    Args:
        layer: the wrapped layer (serialized with this one).
        method: name of the method of `layer` that `call` runs.
        static_arguments: dict of the method's non-tensor arguments (bools,
            ints); part of the config.

    Call arguments:
        inputs: the method's first argument.
        arguments: dict of its tensor arguments (nests of tensors allowed).
    """

    def __init__(self, layer, method, static_arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer
        self.method = method
        self.static_arguments = dict(static_arguments or {})

    def build(self, inputs_shape):
        if not self.layer.built:
            self.layer.build(inputs_shape)
        self.built = True

    def call(self, inputs, arguments=None):
        method = getattr(self.layer, self.method)
        return method(inputs, **(arguments or {}), **self.static_arguments)

    def get_config(self):
        return {
            **super().get_config(),
            "layer": keras.saving.serialize_keras_object(self.layer),
            "method": self.method,
            "static_arguments": self.static_arguments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


# ------------------------------------------------------------------ the checks
def assert_config_round_trip(obj):
    """`from_config(get_config())` rebuilds an object with identical JSON config.

    Also checks that the registered name survives `serialize_keras_object`, so
    that `.keras` files find the class again.
    """
    config_json = _config_json(obj)
    restored = type(obj).from_config(obj.get_config())
    assert _config_json(restored) == config_json
    serialized = keras.saving.serialize_keras_object(obj)
    json.dumps(serialized)  # plain JSON all the way down
    assert type(keras.saving.deserialize_keras_object(serialized)) is type(obj)
    return restored


def assert_symbolic_matches_eager(model, data, eager_outputs, atol=1e-6):
    """Symbolic shapes and dtypes, and functional outputs, agree with eager ones.

    Returns the functional model built on `keras.Input`s.
    """
    symbolic_inputs = _symbolic_inputs(data)
    symbolic_outputs = model(symbolic_inputs)
    keras.tree.assert_same_structure(
        keras.tree.lists_to_tuples(symbolic_outputs), keras.tree.lists_to_tuples(eager_outputs)
    )
    for symbolic, eager in zip(
        keras.tree.flatten(symbolic_outputs), keras.tree.flatten(eager_outputs)
    ):
        assert tuple(symbolic.shape[1:]) == tuple(eager.shape[1:]), (
            f"symbolic shape {symbolic.shape} does not match eager shape {eager.shape}"
        )
        assert symbolic.dtype == _dtype(eager), f"{symbolic.dtype} != {_dtype(eager)}"
    functional = keras.Model(symbolic_inputs, symbolic_outputs)
    assert_outputs_close(functional(data), eager_outputs, atol=atol)
    return functional


def assert_keras_file_round_trip(model, data, path, atol=1e-6):
    """Saves `model` to the `.keras` file `path`, reloads it, compares outputs."""
    expected = model(data)
    model.save(path)
    with warnings.catch_warnings():
        # A compiled model saved before its first step has no optimizer state yet.
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        loaded = keras.saving.load_model(path)
    assert_outputs_close(loaded(data), expected, atol=atol)
    return loaded


def assert_fit_step(model, data, targets, watched_weights=None):
    """One compiled `fit` step: finite loss, and some watched weight moves.

    `watched_weights` defaults to all the model's trainable weights; pass a
    layer's to check that the gradient reaches that layer.
    """
    trainable = model.trainable_weights if watched_weights is None else watched_weights
    assert trainable, "the model has no trainable weights to fit"
    before = [ops.convert_to_numpy(w) for w in trainable]
    batch_size = len(keras.tree.flatten(data)[0])
    history = model.fit(data, targets, batch_size=batch_size, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1]), history.history
    moved = [not np.array_equal(b, ops.convert_to_numpy(w)) for b, w in zip(before, trainable)]
    assert any(moved), "one fit step changed no trainable weight"


def assert_precision_policy(outputs, policy, output_dtype=None):
    """Finite outputs; the first output has `output_dtype`.

    `output_dtype` defaults to the policy's compute dtype; pass `"float32"` for
    outputs that are deliberately float32 (logits for a float32 loss).
    """
    assert_finite(outputs)
    first = keras.tree.flatten(outputs)[0]
    output_dtype = output_dtype or keras.DTypePolicy(policy).compute_dtype
    assert _dtype(first) == output_dtype, f"{policy}: output dtype {_dtype(first)}"


# ------------------------------------------------------------------ entry points
def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    *,
    tmp_path,
    call_kwargs=None,
    expected_output_shape=None,
    run_training=True,
    run_mixed_precision=True,
    run_saving=True,
    mixed_output_dtype=None,
    run_eagerly=True,
    method="call",
    atol=1e-6,
):
    """Runs every harness check on `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments (without `dtype`).
        input_data: NumPy array, the first positional call argument.
        tmp_path: pytest's `tmp_path`, where the `.keras` file goes.
        call_kwargs: other call arguments; NumPy arrays (and nests of them)
            become model inputs.
        expected_output_shape: shape of the first output, or of every output as
            a nested structure of tuples.
        run_training: run the `fit` step.
        run_mixed_precision: run the `mixed_float16` / `mixed_bfloat16` checks.
        run_saving: run the `.keras` round trip.
        mixed_output_dtype: dtype of the first output under the mixed policies;
            defaults to their compute dtype (`"float32"` for float32 logits).
        run_eagerly: run the `fit` step eagerly. Tracing a train step costs
            seconds per layer on CPU, and the symbolic call already traces the
            layer; pass False to trace it as `fit` does by default.
        method: the layer method under test, `"call"` (through `__call__`)
            or another public method such as `"call_with_cache"` or
            `"attention_scores"`.
        atol: tolerance of the output comparisons.

    Returns:
        The built float32 layer and its eager outputs, for further assertions.
    """
    call_kwargs = dict(call_kwargs or {})
    tensor_kwargs = {k: v for k, v in call_kwargs.items() if _is_array_nest(v)}
    static_kwargs = {k: v for k, v in call_kwargs.items() if k not in tensor_kwargs}
    data = {"inputs": input_data, **tensor_kwargs}

    def layer_method(layer):
        return layer if method == "call" else getattr(layer, method)

    layer = layer_cls(**init_kwargs)
    config_json = _config_json(layer)
    assert_config_round_trip(layer)

    eager_outputs = layer_method(layer)(input_data, **call_kwargs)
    assert_finite(eager_outputs)
    if expected_output_shape is not None:
        _assert_shapes(eager_outputs, expected_output_shape)
    assert _config_json(layer) == config_json, "building the layer changed its config"

    def call_layer(inputs):
        tensors = {k: inputs[k] for k in tensor_kwargs}
        if method == "call":
            return layer(inputs["inputs"], **tensors, **static_kwargs)
        return node(inputs["inputs"], arguments=tensors)

    node = layer
    if method != "call":
        node = MethodCall(layer, method, static_kwargs, name=f"{method}_call")

    symbolic_inputs = _symbolic_inputs(data)
    model = keras.Model(symbolic_inputs, call_layer(symbolic_inputs))
    assert_symbolic_matches_eager(model, data, eager_outputs, atol=atol)

    if run_saving:
        loaded = assert_keras_file_round_trip(model, data, tmp_path / "layer.keras", atol)
        loaded_layer = loaded.get_layer(node.name)
        if method != "call":
            loaded_layer = loaded_layer.layer
        assert _config_json(loaded_layer) == config_json

    if run_training:
        first_output = keras.tree.flatten(model.outputs)[0]
        head = keras.layers.Dense(1, name="harness_head")(first_output)
        trainer = keras.Model(model.inputs, head)
        trainer.compile(
            optimizer=keras.optimizers.Adam(1e-2), loss="mse", run_eagerly=run_eagerly
        )
        targets = np.zeros(_first_shape(eager_outputs)[:-1] + (1,), "float32")
        with warnings.catch_warnings():
            if method != "call":  # e.g. attention scores: no gradient to the values
                warnings.filterwarnings("ignore", "Gradients do not exist for variables")
            assert_fit_step(trainer, data, targets, layer.trainable_weights or None)

    if run_mixed_precision:
        for policy in MIXED_PRECISION_POLICIES:
            mixed = layer_cls(**{**init_kwargs, "dtype": policy})
            outputs = layer_method(mixed)(input_data, **call_kwargs)
            assert_precision_policy(outputs, policy, mixed_output_dtype)
    return layer, eager_outputs


def run_model_test(
    model_fn,
    input_data,
    *,
    tmp_path,
    targets=None,
    expected_output_shape=None,
    run_training=True,
    run_mixed_precision=True,
    run_saving=True,
    mixed_output_dtype=None,
    atol=1e-6,
):
    """Runs every harness check on the model returned by `model_fn()`.

    Args:
        model_fn: builds a fresh `keras.Model` (functional or subclassed). If it
            returns a compiled model, `fit` uses its loss and `targets` is
            required; otherwise the harness compiles with Adam and MSE against
            zeros shaped like the first output.
        input_data: NumPy array or nested dict/list of arrays (batch first).
        tmp_path: pytest's `tmp_path`, where the `.keras` file goes.
        targets: `y` for the `fit` step of a compiled model.
        expected_output_shape: shape of the first output, or a nested
            structure of shapes.
        run_training, run_mixed_precision, run_saving, mixed_output_dtype, atol:
            as in `run_layer_test`.

    Returns:
        The float32 model (after its fit step) and its eager outputs.
    """
    model = model_fn()
    eager_outputs = model(input_data)
    assert_finite(eager_outputs)
    if expected_output_shape is not None:
        _assert_shapes(eager_outputs, expected_output_shape)
    assert_config_round_trip(model)
    assert_symbolic_matches_eager(model, input_data, eager_outputs, atol=atol)
    if run_saving:
        assert_keras_file_round_trip(model, input_data, tmp_path / "model.keras", atol)
    if run_training:
        if not model.compiled:
            model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
            if targets is None:
                targets = np.zeros(_first_shape(eager_outputs), "float32")
        elif targets is None:
            raise ValueError(
                "`model_fn` returned a compiled model: pass the `targets` its loss "
                "expects. Received: targets=None"
            )
        assert_fit_step(model, input_data, targets)
    if run_mixed_precision:
        for policy in MIXED_PRECISION_POLICIES:
            with dtype_policy(policy):
                mixed = model_fn()
                assert_precision_policy(mixed(input_data), policy, mixed_output_dtype)
    return model, eager_outputs


def _first_shape(outputs):
    """Shape of the first tensor of a nested output structure, as a tuple."""
    return tuple(keras.tree.flatten(outputs)[0].shape)


def _assert_shapes(outputs, expected):
    if isinstance(expected, tuple) and all(isinstance(d, int) for d in expected):
        assert _first_shape(outputs) == expected
        return
    shapes = keras.tree.map_structure(lambda x: tuple(x.shape), outputs)
    keras.tree.assert_same_structure(shapes, expected)
    assert keras.tree.flatten(shapes) == keras.tree.flatten(expected)
