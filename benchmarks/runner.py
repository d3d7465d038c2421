"""The command line of one benchmark module: `python -m benchmarks.<module>`.

Every module ends with `runner.main(run, TARGETS)`: it parses `--quick` and
`--scale`, runs the module, prints its table (and its `summary(rows)` lines
and targets, when it has them), and with
`--rows-out FILE` writes its rows as JSON for `python -m benchmarks`, which
runs each module in a process of its own and merges the rows.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import common, report

LOGS = Path(__file__).resolve().parent / "results" / "logs"


def main(run, targets=(), summary=None, argv=None, description=None):
    parser = common.add_arguments(argparse.ArgumentParser(description=description))
    parser.add_argument("--rows-out", default=None, help="write the rows to this JSON file")
    arguments = parser.parse_args(argv)
    settings = common.settings_from(arguments)
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


def rows_from_fresh_process(module, settings):
    """Runs `python -m benchmarks.<module>` in a new interpreter; returns its rows.

    Its output goes to `benchmarks/results/logs/<module>.log`. Raises a
    `RuntimeError` with the end of that log when the module fails.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{module}.log"
    with tempfile.TemporaryDirectory() as scratch:
        rows_path = Path(scratch) / "rows.json"
        command = [sys.executable, "-m", f"benchmarks.{module}", "--rows-out", str(rows_path)]
        command += common.arguments_of(settings)
        with open(log_path, "w") as log:
            status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
        if status == 0 and rows_path.exists():
            return report.read_json(rows_path)
    tail = "\n".join(log_path.read_text().splitlines()[-20:])
    raise RuntimeError(
        f"benchmarks.{module} failed (exit {status}); end of {log_path}:\n{tail}"
    )
