"""The command line of one benchmark module: `python -m benchmarks.<module>`.

Every module ends with `runner.main(run, TARGETS)`: it parses `--quick`,
`--scale` and `--threads`, sizes TensorFlow's thread pools, runs the module,
prints its table (and its `summary(rows)` lines and targets, when it has
them), and with `--rows-out FILE` writes its rows as JSON for
`python -m benchmarks`, which runs each module in a process of its own and
merges the rows.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import common, report

LOGS = Path(__file__).resolve().parent / "results" / "logs"


def main(run, targets=(), summary=None, argv=None, description=None, tensorflow=True):
    """Runs one module from the command line; returns its rows.

    `tensorflow=False` leaves TensorFlow unimported (the PyTorch module sizes
    its own threads).
    """
    parser = common.add_arguments(argparse.ArgumentParser(description=description))
    parser.add_argument("--rows-out", default=None, help="write the rows to this JSON file")
    arguments = parser.parse_args(argv)
    settings = common.settings_from(arguments)
    if tensorflow:
        common.set_tensorflow_threads(settings.threads)
    rows = run(settings)
    print(report.format_table(rows))
    if summary is not None:
        print(summary(rows))
    if targets:
        print(report.format_targets(rows, targets))
    if arguments.rows_out:
        report.write_json(rows, arguments.rows_out)
    sys.stdout.flush()
    return rows


def run_logged(command, log_path, name, echo=None):
    """Runs `command`, its stdout and stderr into `log_path`; returns its exit status.

    Each line the command prints with `common.progress` is also shown at once
    on this process's stdout as `"  <name>: <message>"` (through `echo`, for
    tests), so a long module shows where it is while its output stays in
    the log.
    """
    echo = echo or (lambda line: print(line, flush=True))
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        for line in process.stdout:
            log.write(line)
            log.flush()
            if line.startswith(common.PROGRESS):
                echo(f"  {name}: {line[len(common.PROGRESS) :].rstrip()}")
        return process.wait()


def rows_from_fresh_process(module, settings):
    """Runs `python -m benchmarks.<module>` in a new interpreter; returns its rows.

    Its output goes to `benchmarks/results/logs/<module>.log`, and its progress
    lines to this process's stdout. Raises a `RuntimeError` with the end of
    that log when the module fails.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{module}.log"
    with tempfile.TemporaryDirectory() as scratch:
        rows_path = Path(scratch) / "rows.json"
        command = [sys.executable, "-m", f"benchmarks.{module}", "--rows-out", str(rows_path)]
        command += common.arguments_of(settings)
        status = run_logged(command, log_path, module)
        if status == 0 and rows_path.exists():
            return report.read_json(rows_path)
    tail = "\n".join(log_path.read_text().splitlines()[-20:])
    raise RuntimeError(
        f"benchmarks.{module} failed (exit {status}); end of {log_path}:\n{tail}"
    )
