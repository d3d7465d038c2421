"""Scripts that tests run in fresh Python processes, and the helpers to run them.

Some behaviours can only be tested outside the pytest process: splitting the
CPU into logical devices (before TensorFlow starts), multi-worker training
(one process per worker), the JAX backend next to a TensorFlow test process,
a real SIGKILL, and serving untrusted input to a SavedModel. Each script in
this folder does one such job and prints its findings as one JSON line, the
last line of its standard output; `run_script` returns that line parsed.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).parent
REPOSITORY = FOLDER.parent.parent


def script_path(name):
    """The path of a script of this folder, e.g. `script_path("mirrored_training")`."""
    return FOLDER / f"{name}.py"


def child_environment(**overrides):
    """The environment of a child: this one, quiet TensorFlow, the repository importable."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPOSITORY), environment.get("PYTHONPATH")])
    )
    environment.update({key: str(value) for key, value in overrides.items()})
    return environment


def start_script(name, *args, env=None, **popen_kwargs):
    """Starts a script of this folder; returns the `subprocess.Popen`."""
    return subprocess.Popen(
        [sys.executable, str(script_path(name)), *map(str, args)],
        env=env or child_environment(),
        cwd=REPOSITORY,
        text=True,
        **popen_kwargs,
    )


def last_json_line(stdout):
    """The JSON object on the last line of `stdout` that holds one."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"the child printed no JSON report:\n{stdout[-2000:]}")


def run_script(name, *args, env=None, timeout=600):
    """Runs a script of this folder to the end and returns its JSON report.

    Raises:
        AssertionError: the script failed; the message ends with its stderr.
    """
    process = start_script(name, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"{name} timed out after {timeout} s:\n{stderr[-3000:]}") from None
    if process.returncode != 0:
        raise AssertionError(f"{name} exited with {process.returncode}:\n{stderr[-5000:]}")
    return last_json_line(stdout)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
