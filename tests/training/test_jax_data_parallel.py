"""Keras' distribution API on the JAX backend: `DataParallel` over two CPU devices.

Runs in a child process with `KERAS_BACKEND=jax` and
`XLA_FLAGS=--xla_force_host_platform_device_count=2`, whatever the backend of
the test process.
"""

import numpy as np
import pytest

from tests.child_processes import child_environment, run_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report():
    return run_script(
        "jax_data_parallel",
        env=child_environment(
            KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
        ),
    )


def test_the_batch_is_split_over_two_devices_and_weights_are_replicated(report):
    assert report["devices"] == 2
    assert report["data_layout"] == ["batch", None]
    assert "Mesh('batch': 2" in report["weight_sharding"]
    assert "P(None, None)" in report["weight_sharding"]  # Replicated.


@pytest.mark.parametrize("model", ["layers", "classifier"])
def test_data_parallel_gives_the_one_device_loss_curve(report, model):
    one, two = np.array(report[model]["one"]), np.array(report[model]["two"])
    assert one.shape == two.shape == (20,)
    assert np.all(np.isfinite(one))
    np.testing.assert_allclose(two, one, atol=1e-4, rtol=0)
