"""`python -m benchmarks` and its runner: progress on stdout, output in logs (no model runs)."""

import subprocess
import sys

from benchmarks import __main__ as bench
from benchmarks.common import PROGRESS, Settings
from benchmarks.runner import run_logged


def test_a_child_writes_everything_to_its_log_and_shows_only_its_progress(tmp_path):
    script = (
        "import sys\n"
        f"print({PROGRESS!r} + 'small float32: 3 s', flush=True)\n"
        "print('a table line')\n"
        "print('a warning', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    shown = []
    log = tmp_path / "child.log"
    status = run_logged([sys.executable, "-c", script], log, "child", echo=shown.append)
    assert status == 3
    assert shown == ["  child: small float32: 3 s"]
    text = log.read_text()
    assert "a table line" in text and "a warning" in text and "small float32" in text


def test_each_module_is_announced_on_stdout_as_it_starts_and_ends(capsys):
    ticks = iter(range(0, 1000, 10))
    processor = iter(range(0, 1000, 4))

    def run(name, settings):
        print(f"running {name}")
        return None if name == "serving" else [name]

    rows, failed, seconds = bench.run_modules(
        ("hardware", "serving"),
        Settings(),
        run=run,
        clock=lambda: next(ticks),
        cpu=lambda: next(processor),
    )
    assert rows == ["hardware"] and failed == ["serving"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/2] hardware: started")
    assert lines[1] == "running hardware"
    assert lines[2].startswith(
        "[1/2] hardware: 1 rows in 10 s, 4 s of processor time (30 s so far)"
    )
    assert lines[3].startswith("[2/2] serving: started")
    assert lines[5].startswith(
        "[2/2] serving: FAILED in 10 s, 4 s of processor time (60 s so far)"
    )
    assert seconds == 70


def test_processor_time_counts_finished_child_processes():
    before = bench.children_cpu_seconds()
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    assert bench.children_cpu_seconds() > before
