"""The `transformer-keras` command line: `--version` and `--help` (no model needed)."""

import subprocess
import sys
from pathlib import Path

from transformer_keras.version import __version__


def _cli(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "transformer_keras.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_prints_the_package_version():
    result = _cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"transformer-keras {__version__}"


def test_help_exits_zero_and_lists_the_commands():
    result = _cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: transformer-keras")
    for command in ("train", "evaluate", "demo"):
        assert command in result.stdout
    assert result.stderr == ""


def test_no_command_prints_help():
    result = _cli()
    assert result.returncode == 0, result.stderr
    assert "usage: transformer-keras" in result.stdout


def test_unknown_command_is_a_usage_error():
    result = _cli("fly")
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_console_script_is_installed_beside_the_interpreter():
    script = Path(sys.executable).parent / "transformer-keras"
    assert script.exists(), "install the package (`pip install -e .`) to get the script"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout
