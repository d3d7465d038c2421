"""The command line of one benchmark module: `python -m benchmarks.<module>`.

Every module ends with `runner.main(run, TARGETS)`: it parses `--quick` and
`--scale`, runs the module, prints its table (and its `summary(rows)` lines
and targets, when it has them), and with
`--rows-out FILE` writes its rows as JSON for `python -m benchmarks`, which
runs each module in a process of its own and merges the rows.
"""

import argparse
import sys

from benchmarks import common, report


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
