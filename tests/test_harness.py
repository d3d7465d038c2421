"""The harness itself: it passes a correct layer and catches each kind of broken one."""

import keras
import numpy as np
import pytest
from keras import ops

from tests.harness import run_layer_test, run_model_test

INPUTS = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")


@keras.saving.register_keras_serializable(package="harness_tests")
class Scale(keras.layers.Layer):
    """`x * kernel * factor`: a correct layer (subclasses below break one thing)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * ops.cast(self.kernel, inputs.dtype) * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="harness_tests")
class ForgetsItsFactor(Scale):
    def get_config(self):
        config = super().get_config()
        del config["factor"]  # reloads with the default factor
        return config


@keras.saving.register_keras_serializable(package="harness_tests")
class UnserializableConfig(Scale):
    def get_config(self):
        return {**super().get_config(), "factor": np.array([self.factor])}


@keras.saving.register_keras_serializable(package="harness_tests")
class WrongSymbolicShape(Scale):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)


@keras.saving.register_keras_serializable(package="harness_tests")
class Frozen(Scale):
    def call(self, inputs):
        return inputs * ops.stop_gradient(ops.cast(self.kernel, inputs.dtype))


@keras.saving.register_keras_serializable(package="harness_tests")
class OverflowsInFloat16(Scale):
    def call(self, inputs):
        return super().call(inputs) * ops.cast(1e5, inputs.dtype)  # > 65504 in float16


@keras.saving.register_keras_serializable(package="harness_tests")
class IgnoresThePolicy(Scale):
    def call(self, inputs):
        return ops.cast(super().call(inputs), "float32")


def test_a_correct_layer_passes(tmp_path):
    layer, outputs = run_layer_test(
        Scale, {"factor": 3.0}, INPUTS, expected_output_shape=(2, 3, 4), tmp_path=tmp_path
    )
    np.testing.assert_allclose(outputs, INPUTS * 3.0, rtol=1e-6)


@pytest.mark.parametrize(
    "layer_class, message",
    [
        (ForgetsItsFactor, "Not equal to tolerance"),  # the .keras round trip
        (UnserializableConfig, "not JSON serializable"),
        (WrongSymbolicShape, "symbolic shape"),
        pytest.param(
            Frozen,
            "changed no trainable weight",
            marks=pytest.mark.filterwarnings("ignore:Gradients do not exist"),
        ),
        pytest.param(
            OverflowsInFloat16,
            "non-finite",
            marks=pytest.mark.filterwarnings("ignore:overflow encountered"),
        ),
        (IgnoresThePolicy, "output dtype float32"),
    ],
)
def test_a_broken_layer_fails(layer_class, message, tmp_path):
    with pytest.raises((AssertionError, TypeError), match=message):
        run_layer_test(layer_class, {"factor": 3.0}, INPUTS, tmp_path=tmp_path)


def test_wrong_expected_shape_fails(tmp_path):
    with pytest.raises(AssertionError):
        run_layer_test(Scale, {}, INPUTS, expected_output_shape=(2, 3, 5), tmp_path=tmp_path)


@keras.saving.register_keras_serializable(package="harness_tests")
class ScaleWithShift(Scale):
    """A layer with a method besides `call` that takes a tensor and a static argument."""

    def shifted(self, inputs, shift, power=1):
        return self(inputs) + ops.cast(shift, self.compute_dtype), shift**power


@keras.saving.register_keras_serializable(package="harness_tests")
class ShiftForgetsItsFactor(ScaleWithShift, ForgetsItsFactor):
    pass


def test_a_method_besides_call_goes_through_every_check(tmp_path):
    shift = np.full((2, 1, 4), 0.5, "float32")
    layer, (outputs, power) = run_layer_test(
        ScaleWithShift,
        {"factor": 3.0},
        INPUTS,
        call_kwargs={"shift": shift, "power": 2},
        expected_output_shape=((2, 3, 4), (2, 1, 4)),
        method="shifted",
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(outputs, INPUTS * 3.0 + 0.5, rtol=1e-6)
    np.testing.assert_allclose(power, shift**2)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):  # .keras round trip
        run_layer_test(
            ShiftForgetsItsFactor,
            {"factor": 3.0},
            INPUTS,
            call_kwargs={"shift": shift},
            method="shifted",
            tmp_path=tmp_path,
        )


def _functional_model(factor=2.0):
    inputs = keras.Input((3, 4), name="features")
    return keras.Model(inputs, keras.layers.Dense(2)(Scale(factor)(inputs)))


def test_run_model_test_on_a_functional_model(tmp_path):
    model, outputs = run_model_test(
        _functional_model, INPUTS, expected_output_shape=(2, 3, 2), tmp_path=tmp_path
    )
    assert model.compiled and outputs.shape == (2, 3, 2)


def test_run_model_test_needs_targets_for_a_compiled_model(tmp_path):
    def compiled():
        model = _functional_model()
        model.compile(optimizer="adam", loss="mse")
        return model

    with pytest.raises(ValueError, match="Received: targets=None"):
        run_model_test(compiled, INPUTS, tmp_path=tmp_path)


def test_dtype_policy_is_float32_again_after_each_test():
    assert keras.config.dtype_policy().name == "float32"
