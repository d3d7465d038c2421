"""Strategies by name, logical CPU devices, per-replica batches, chief-only writes,
and one device vs `MirroredStrategy` over two logical CPUs (in a child process,
because the CPU must be split before TensorFlow starts)."""

import doctest
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.child_processes import run_script
from transformer_keras.training import distribute
from transformer_keras.training.distribute import (
    STRATEGIES,
    chief_writes,
    distribute_dataset,
    get_strategy,
    is_chief,
    is_multi_worker,
    multi_worker_fit,
    num_replicas,
    replica_batch_size,
    split_cpu_devices,
)

pytestmark = pytest.mark.tf_only


def test_default_is_the_one_device_strategy():
    strategy = get_strategy("default")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1


def test_a_strategy_object_is_returned_as_is():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert get_strategy(strategy) is strategy


def test_mirrored_mirrors_over_the_local_devices():
    strategy = get_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))
    with strategy.scope():
        variable = tf.Variable(1.0)
    assert "Mirrored" in type(variable).__name__


@pytest.mark.parametrize("name", ["gpu", "Mirrored", "", None, 2])
def test_unknown_strategies_are_rejected(name):
    with pytest.raises(ValueError, match=r"`strategy` must be .* Received: strategy="):
        get_strategy(name)


def test_the_names_are_the_command_line_choices():
    from transformer_keras.commands.common import STRATEGIES as COMMAND_CHOICES

    assert STRATEGIES == COMMAND_CHOICES


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TPU_NAME", "local")
    with pytest.raises(ValueError, match=r"No TPU found .* Received: strategy='tpu'"):
        get_strategy("tpu")


@pytest.mark.parametrize(
    "tf_config",
    [
        "not json",
        json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}}),  # No task.
        json.dumps({"task": {"type": "worker", "index": 0}}),  # No cluster.
    ],
)
def test_multi_worker_rejects_a_malformed_tf_config(monkeypatch, tf_config):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=r"`TF_CONFIG` must be JSON .* Received: TF_CONFIG="):
        get_strategy("multi-worker")


def test_split_cpu_devices_after_start_up_explains_what_to_do():
    count = len(tf.config.list_logical_devices("CPU"))
    assert len(split_cpu_devices(count)) == count  # The current split: nothing to do.
    with pytest.raises(RuntimeError, match="before any TensorFlow op runs"):
        split_cpu_devices(count + 1)


@pytest.mark.parametrize("count", [0, -1, 1.0, True])
def test_split_cpu_devices_rejects_bad_counts(count):
    with pytest.raises(ValueError, match="Received: count="):
        split_cpu_devices(count)


def test_replica_batch_size_on_one_replica():
    assert num_replicas() == 1
    assert replica_batch_size(6) == 6


@pytest.mark.parametrize("size", [0, -4, 2.0, True])
def test_replica_batch_size_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="Received: global_batch_size="):
        replica_batch_size(size)


def test_distribute_dataset_gives_replica_batches():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    distributed = distribute_dataset(tf.data.Dataset.range(8).batch(4), strategy)
    assert [list(batch.numpy()) for batch in distributed] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="Received: dataset=list"):
        distribute_dataset([1, 2, 3])


def test_a_single_process_is_the_chief_and_writes_in_place(tmp_path):
    assert is_chief()
    with chief_writes(tmp_path / "export") as target:
        assert target == str(tmp_path / "export")


def test_multi_worker_fit_leaves_other_strategies_alone():
    strategy = tf.distribute.get_strategy()
    assert not is_multi_worker(strategy) and not is_multi_worker(None)
    with multi_worker_fit(None, strategy, make_sample_batch=None):
        pass  # Neither the model nor the sample batch is touched.


def test_docstring_examples_run():
    assert doctest.testmod(distribute).failed == 0


# ------------------------------------------------------- two logical CPUs
@pytest.fixture(scope="module")
def mirrored_report():
    return run_script("mirrored_training")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["classifier", "language_model"])
def test_two_replicas_give_the_one_device_loss_curve(mirrored_report, model):
    """Same global batches, dropout off, default compile (clipping, warmup): 20 steps.

    Both runs train: each moves its weights (the largest change of one weight), so
    the equal curves are those of two trainings, not of two frozen models. (Whether
    the loss falls within 20 steps depends on the seed and the data, so it is not
    asserted.)
    """
    one = np.array(mirrored_report[model]["one"])
    two = np.array(mirrored_report[model]["two"])
    assert one.shape == two.shape == (20,)
    assert np.all(np.isfinite(one))
    assert all(moved > 0 for moved in mirrored_report[model]["weights_moved"])
    np.testing.assert_allclose(two, one, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_set_seed_deterministic_turns_on_op_determinism(mirrored_report):
    assert mirrored_report["op_determinism"] is True


@pytest.mark.slow
def test_each_replica_gets_an_equal_share_of_the_global_batch(mirrored_report):
    assert mirrored_report["replica_batch_size"] == 4
    assert mirrored_report["replica_shapes"] == [[4, 16], [4, 16]]
    assert "multiple of the number of replicas (2)" in mirrored_report["uneven_error"]
    assert mirrored_report["uneven_error"].endswith("Received: global_batch_size=7")


@pytest.mark.slow
def test_export_and_generation_work_after_two_replica_training(mirrored_report):
    probabilities = np.array(mirrored_report["served_probabilities"])
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    assert mirrored_report["generated_length"] == 3
