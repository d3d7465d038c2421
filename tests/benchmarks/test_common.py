"""Settings, flags, timing and device detection of the benchmarks (cheap: no model runs)."""

import argparse

import pytest

from benchmarks.common import (
    PROGRESS,
    Settings,
    Timing,
    add_arguments,
    arguments_of,
    available_cores,
    describe_threads,
    detect_device,
    load_average,
    progress,
    set_tensorflow_threads,
    settings_from,
    time_calls,
)


def _parse(*argv):
    return add_arguments(argparse.ArgumentParser()).parse_args(list(argv))


def test_flags_default_to_a_full_run_at_scale_one():
    arguments = _parse()
    assert (arguments.quick, arguments.scale) == (False, 1)
    arguments = _parse("--quick", "--scale", "8")
    assert (arguments.quick, arguments.scale) == (True, 8)


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_scale_must_be_a_positive_integer(bad, capsys):
    with pytest.raises(SystemExit):
        _parse("--scale", bad)
    assert f"Received: scale='{bad}'" in capsys.readouterr().err


def test_a_child_process_gets_the_same_settings_and_device_kind():
    parent = Settings(
        quick=True, scale=4, device={"kind": "gpu", "name": "A100", "count": 2}, threads=3
    )
    child = settings_from(_parse(*arguments_of(parent)))
    assert (child.quick, child.scale, child.device["kind"]) == (True, 4, "gpu")
    assert child.threads == 3


def test_threads_default_to_the_cores_this_process_may_use():
    assert Settings().threads == available_cores() >= 1
    assert settings_from(_parse("--device-kind", "cpu")).threads == available_cores()
    assert settings_from(_parse("--device-kind", "cpu", "--threads", "1")).threads == 1


@pytest.mark.parametrize("bad", ["0", "many"])
def test_threads_must_be_a_positive_integer(bad, capsys):
    with pytest.raises(SystemExit):
        _parse("--threads", bad)
    assert f"Received: threads='{bad}'" in capsys.readouterr().err


def test_thread_counts_are_described_with_tensorflow_default_named():
    assert describe_threads(2, 2) == "threads 2 intra-op / 2 inter-op"
    assert describe_threads(0, 4) == "threads default intra-op / 4 inter-op"


@pytest.mark.tf_only
def test_tensorflow_threads_report_the_pools_in_force():
    # In a test session TensorFlow has started, so its pools keep their sizes;
    # what is returned is what TensorFlow reports, not what was asked for.
    import tensorflow as tf

    in_force = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    assert set_tensorflow_threads(1) == in_force


def test_progress_lines_carry_the_marker_and_reach_stdout_at_once(capsys):
    progress("small float32: 12 s")
    assert capsys.readouterr().out == f"{PROGRESS}small float32: 12 s\n"


def test_load_average_is_three_non_negative_numbers_where_linux_gives_it():
    load = load_average()
    assert load is None or (len(load) == 3 and min(load) >= 0)


def test_settings_scale_batches_and_pick_quick_sizes():
    assert Settings(scale=8).batch(12) == 96
    assert Settings().pick(full=256, quick=4) == 256
    assert Settings(quick=True).pick(full=256, quick=4) == 4


def test_time_calls_warms_up_then_times_each_repeat():
    calls = []
    timing = time_calls(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5
    assert len(timing.seconds) == 3 and all(s >= 0 for s in timing.seconds)


def test_time_calls_needs_a_repeat():
    with pytest.raises(ValueError, match="Received: repeats=0"):
        time_calls(lambda: None, repeats=0)


def test_timing_median_and_percentiles_in_milliseconds():
    timing = Timing((0.001, 0.002, 0.003, 0.010))
    assert timing.median == pytest.approx(0.0025)
    assert timing.percentile_ms(50) == pytest.approx(2.5)
    assert timing.percentile_ms(100) == pytest.approx(10.0)


@pytest.mark.tf_only
def test_detect_device_names_the_device_tensorflow_uses():
    device = detect_device()
    assert device["kind"] in ("cpu", "gpu")
    assert device["name"] and device["count"] >= 1
