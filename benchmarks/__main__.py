"""`python -m benchmarks` (= `make bench`): every benchmark, one table.

    python -m benchmarks                 # the full run, under 15 minutes on 2 CPU cores
    python -m benchmarks --quick         # smoke run of every code path (numbers mean nothing)
    python -m benchmarks --scale 8       # batch sizes x8, e.g. on a GPU
    python -m benchmarks --only training_throughput,attention_memory

Each module runs in a fresh Python process (dtype policies, allocator
statistics and thread pools never leak from one to the next), writes its rows
to a temporary JSON file, and its own output to `benchmarks/results/logs/`.
The merged rows are printed as one table with the ratios against their
anchors, followed by the summaries and the targets of the issue, and written
to `benchmarks/results/latest.json` (`--quick` writes
`benchmarks/results/logs/quick.json` instead, beside the logs). A module
that fails is reported with the tail of its log; the others still run, and
the exit status is 1.
"""

import argparse
import sys
import time
from pathlib import Path

from benchmarks import common, report, runner

MODULES = (
    "hardware",
    "training_throughput",
    "generation",
    "serving",
    "attention_memory",
    "mixed_precision",
)
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_arguments(parser)
    parser.add_argument(
        "--only",
        type=_module_list,
        default=MODULES,
        help=f"comma-separated subset of {', '.join(MODULES)}",
    )
    parser.add_argument("--output", default=None, help="JSON file of the rows")
    return parser.parse_args(argv)


def _module_list(text):
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in MODULES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"`--only` takes names from {list(MODULES)}. Received: only={text!r}"
        )
    return names


def run_module(name, settings):
    """The rows of `benchmarks.<name>` run in a fresh process, or `None` if it failed."""
    try:
        return runner.rows_from_fresh_process(name, settings)
    except RuntimeError as error:
        print(f"  {error}", file=sys.stderr)
        return None


def main(argv=None):
    arguments = parse_args(argv)
    settings = common.settings_from(arguments)
    device = settings.device
    rows, failed, started = [], [], time.perf_counter()
    for name in arguments.only:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        module_started = time.perf_counter()
        found = run_module(name, settings)
        print(
            f"  {name}: {time.perf_counter() - module_started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        if found is None:
            failed.append(name)
        else:
            rows += found
    total = time.perf_counter() - started

    import importlib

    modules = [importlib.import_module(f"benchmarks.{name}") for name in arguments.only]
    kind = "quick smoke run (numbers mean nothing)" if arguments.quick else "full run"
    print(f"transformer_keras benchmarks: {kind}, scale {arguments.scale}, {total:.0f} s")
    print(f"device: {device['kind']} x{device['count']}, {device['name']}\n")
    print(report.format_table(rows))
    for module in modules:
        if hasattr(module, "summary"):
            print(module.summary(rows))
    targets = [target for module in modules for target in getattr(module, "TARGETS", ())]
    if targets:
        print("\ntargets:")
        print(report.format_targets(rows, targets))
    output = arguments.output or (
        runner.LOGS / "quick.json" if arguments.quick else RESULTS / "latest.json"
    )
    metadata = {
        "device": device["name"],
        "device_kind": device["kind"],
        "quick": arguments.quick,
    }
    print(f"\nrows written to {report.write_json(rows, output, metadata)}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see {runner.LOGS})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
