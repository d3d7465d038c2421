"""A training run killed with SIGKILL mid-epoch and started again with the same command.

It resumes from the last saved state (same epoch and step, same optimizer
state) and ends with the weights and optimizer variables of an uninterrupted
run. Exports under a kill are tested in `tests/export/test_saved_model.py`
(a SIGKILL mid-export leaves the previous model); broken checkpoints in
`test_backup.py`.
"""

import json
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.child_processes import last_json_line, start_script
from tests.child_processes.killable_training import STEPS_PER_EPOCH, final_variables, train
from transformer_keras.training.backup import PROGRESS_FILE, latest_state

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]


PAUSE_AT_STEP = STEPS_PER_EPOCH + 2  # Epoch 2, step 2: a saved state (saves every 2).


def _command(output_dir):
    # The same command runs both times: the resumed run starts after the pause.
    return ("killable_training", output_dir, "--pause-at-step", PAUSE_AT_STEP)


def _saved_progress(output_dir):
    try:
        return json.loads((latest_state(output_dir / "backup") / PROGRESS_FILE).read_text())
    except (TypeError, FileNotFoundError, ValueError):  # None yet, or just replaced.
        return None


def _kill_in_second_epoch(output_dir, timeout=300):
    """Starts the run and SIGKILLs it once a state inside epoch 2 is saved (the run
    waits there, so the kill lands at that step whatever the machine's load)."""
    process = start_script(
        *_command(output_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        progress = _saved_progress(output_dir)
        if progress and progress["epoch"] == 1 and progress["step"] >= 2:
            process.send_signal(signal.SIGKILL)
            process.communicate()
            return process.returncode
        time.sleep(0.05)
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"the run ended or stalled before epoch 2:\n{stderr[-3000:]}")


def test_a_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    killed_dir = tmp_path / "killed"
    killed_dir.mkdir()
    assert _kill_in_second_epoch(killed_dir) == -signal.SIGKILL
    at_kill = _saved_progress(killed_dir)
    assert at_kill["epoch"] == 1 and 0 < at_kill["step"] < STEPS_PER_EPOCH  # Mid-epoch.
    assert at_kill["iterations"] == PAUSE_AT_STEP

    resumed = start_script(
        *_command(killed_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-3000:]
    report = last_json_line(stdout)
    assert report["state_at_start"] == at_kill
    assert f"epoch 2, step {at_kill['step']} of {STEPS_PER_EPOCH}." in stdout, (
        "the resumed run did not start at the saved epoch and step"
    )
    first_step = int(re.search(r"^step (\d+)$", stdout, re.MULTILINE).group(1))
    assert first_step == at_kill["iterations"] + 1  # Optimizer steps continue, not restart.
    assert report["final_iterations"] == 3 * STEPS_PER_EPOCH
    assert report["op_determinism"] is False  # Like the reference run below.

    # The same code, never killed. (Op determinism picks other kernels, whose
    # rounding differs in the last bits; both runs must use the same setting.)
    model, _ = train(str(tmp_path / "uninterrupted"))
    expected = final_variables(model)
    resumed_variables = np.load(killed_dir / "final.npz")
    assert sorted(resumed_variables.files) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            resumed_variables[name], value, atol=1e-5, rtol=0, err_msg=name
        )
