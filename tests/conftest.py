"""Shared pytest set-up for the whole suite.

- TensorFlow's native start-up chatter is silenced while Keras loads it.
- Tests marked `tf_only` are skipped when the Keras backend is not TensorFlow.
  `make test-jax` runs the tests marked `jax` (every test of tests/layers and
  tests/generation is marked here; the model tests are marked one by one).
- Every test, and every test module, starts from the same random seed and the
  `float32` dtype policy, and the policy is restored afterwards even if the
  test fails: a test's outcome never depends on which tests ran before it in
  the same worker. (Module-scoped fixtures are set up before the function-scoped
  seed; the module-scoped seed covers them. A fixture that is rebuilt in the
  middle of a module, such as a parametrized one, seeds itself.)
- TensorFlow's op determinism (`set_seed(..., deterministic=True)`) cannot be
  switched off in a process; a test that turns it on fails, so that it cannot
  change the kernels of the tests after it: such tests run in a child process
  (tests/child_processes).
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


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by these markers
def pytest_collection_modifyitems(config, items):
    # `make test-jax` runs the tests marked `jax`: every test of the layers and
    # the decode loop, and the model tests marked one by one.
    for item in items:
        if item.path.parent.name in ("layers", "generation"):
            item.add_marker(pytest.mark.jax)
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"needs the TensorFlow backend (running on {keras.backend.backend()})"
    )
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)


def _op_determinism_enabled():
    from tensorflow.python.framework import config as tf_config  # no public getter

    return bool(tf_config.is_op_determinism_enabled())


@pytest.fixture(autouse=True, scope="module")
def _seeded_float32_module():
    """Same seed and float32 policy for the module-scoped fixtures of every module."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True)
def _seeded_float32_session():
    """Same seed for every test; the global dtype policy always ends as float32;
    op determinism stays off."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    determinism_before = _op_determinism_enabled()
    yield
    keras.config.set_dtype_policy("float32")
    if _op_determinism_enabled() and not determinism_before:
        pytest.fail(
            "The test turned on TensorFlow's op determinism, which stays on for every "
            "later test of this worker; run it in a child process (tests/child_processes)."
        )


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, for test inputs."""
    return np.random.default_rng(0)
