"""Shared pytest set-up for the whole suite.

- TensorFlow's native start-up chatter is silenced while Keras loads it.
- Tests marked `tf_only` are skipped when the Keras backend is not TensorFlow
  (`KERAS_BACKEND=jax pytest -m "not tf_only" tests/layers` runs the rest).
- Every test starts from the same random seed and the `float32` dtype policy,
  and the policy is restored afterwards even if the test fails.
"""

import contextlib
import os
import sys

import numpy as np
import pytest


@contextlib.contextmanager
def _native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null for a block.

    TensorFlow's native libraries log start-up notes (oneDNN, CUDA) straight to
    the process's stderr before `TF_CPP_MIN_LOG_LEVEL` applies; every pytest
    worker would print them. Python exceptions are unaffected: they propagate.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with _native_stderr_silenced():
    import keras
    import tensorflow  # noqa: F401  (imported here, silenced, whatever the backend)


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
