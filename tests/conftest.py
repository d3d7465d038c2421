"""Shared pytest set-up for the whole suite.

- TensorFlow's C++ start-up chatter is silenced before Keras loads it.
- Tests marked `tf_only` are skipped when the Keras backend is not TensorFlow
  (`KERAS_BACKEND=jax pytest -m "not tf_only" tests/layers` runs the rest).
- Every test starts from the same random seed and the `float32` dtype policy,
  and the policy is restored afterwards even if the test fails.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"needs the TensorFlow backend (running on {keras.backend.backend()})"
    )
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded_float32_session():
    """Same seed for every test; the global dtype policy always ends as float32."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, for test inputs."""
    return np.random.default_rng(0)
