"""Every docstring Example of transformer_keras.layers runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import keras
import pytest

import transformer_keras.layers

MODULES = sorted(
    module.name for module in pkgutil.iter_modules(transformer_keras.layers.__path__)
)


# The examples are backend-neutral; running them once, on TensorFlow, spares the
# JAX job the compilation of every new shape they use.
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="checked once, on TensorFlow"
)
@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(f"transformer_keras.layers.{module_name}")
    results = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, report=False
    )
    assert results.failed == 0, f"{results.failed} docstring example(s) of {module_name} failed"
