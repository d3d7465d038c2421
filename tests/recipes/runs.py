"""Running `transformer-keras` in child processes, and killing them at chosen points.

A resume test starts the same command again and again, SIGKILLs it when the
run reaches a point (`kill_when`), and compares the final export with the
export of a run never killed. The points are read from the run's files: the
newest training state (`progress(run_dir)`) and the export's staging folder
(`exporting(output)`).
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.child_processes import REPOSITORY, child_environment
from transformer_keras.training.backup import PROGRESS_FILE, latest_state


def cli(*arguments):
    """The command line of `transformer-keras ARGUMENTS` in a fresh interpreter."""
    return [sys.executable, "-m", "transformer_keras.cli", *map(str, arguments)]


def run(command, timeout=900, env=None):
    """Runs `command` to the end; returns its stdout. Fails with its stderr."""
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or child_environment(),
        cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return completed.stdout


def progress(run_dir):
    """The newest training state's `progress.json` in `run_dir/backup`, or `None`."""
    try:
        state = latest_state(Path(run_dir) / "backup")
        return json.loads((state / PROGRESS_FILE).read_text()) if state else None
    except (ValueError, OSError):  # Between two writes.
        return None


def exporting(output):
    """Whether the export of `output` is being written (its staging folder exists)."""
    output = Path(output)
    return any(output.parent.glob(f".{output.name}.tmp-*"))


def kill_when(command, condition, timeout=900, env=None):
    """Starts `command` and SIGKILLs it as soon as `condition()` holds.

    Returns:
        The stdout the process printed before it was killed.

    Raises:
        AssertionError: the process ended (or the time ran out) first.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or child_environment(),
        cwd=REPOSITORY,
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            stdout, _ = process.communicate()
            return stdout
        time.sleep(0.01)
    if process.poll() is None:
        process.kill()
    stdout, stderr = process.communicate()
    raise AssertionError(
        f"the run ended (exit {process.returncode}) before the kill point:\n"
        f"{stdout[-3000:]}{stderr[-3000:]}"
    )
