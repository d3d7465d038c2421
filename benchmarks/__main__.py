"""`python -m benchmarks` (= `make bench`): every benchmark, one table.

    python -m benchmarks                 # the full run (see benchmarks/README.md for its time)
    python -m benchmarks --quick         # smoke run of every code path (numbers mean nothing)
    python -m benchmarks --scale 8       # batch sizes x8, e.g. on a GPU
    python -m benchmarks --only training_throughput,attention_memory

Each module runs in a fresh Python process (dtype policies, allocator
statistics and thread pools never leak from one to the next), writes its rows
to a temporary JSON file, and its own output to `benchmarks/results/logs/`;
a line on stdout tells when each module starts and ends, with its time, and
long modules add progress lines of their own.
The merged rows are printed as one table with the ratios against their
anchors, followed by the summaries and the targets of the issue, and written
to `benchmarks/results/latest.json` (`--quick` writes
`benchmarks/results/logs/quick.json` instead, beside the logs). A module
that fails is reported with the tail of its log; the others still run, and
the exit status is 1.
"""

import argparse
import importlib
import resource
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
        print(f"  {error}", flush=True)
        return None


def run_modules(names, settings, run=run_module, clock=time.perf_counter, cpu=None):
    """Runs each module in turn; returns `(rows, failed names, seconds)`.

    Prints a line on stdout, at once, as each module starts and as it ends,
    with its wall time, the processor time its processes used (`cpu`, by
    default `children_cpu_seconds`: on a machine shared with other work, a
    measure of its cost that the load does not stretch) and the load average
    of the machine, so a long run shows where it is.
    """
    cpu = cpu or children_cpu_seconds
    rows, failed, started = [], [], clock()
    for index, name in enumerate(names, 1):
        _say(f"[{index}/{len(names)}] {name}: started{_load()}")
        module_started, cpu_started = clock(), cpu()
        found = run(name, settings)
        seconds, cpu_seconds = clock() - module_started, cpu() - cpu_started
        verdict = "FAILED" if found is None else f"{len(found)} rows"
        _say(
            f"[{index}/{len(names)}] {name}: {verdict} in {seconds:.0f} s, "
            f"{cpu_seconds:.0f} s of processor time ({clock() - started:.0f} s so far){_load()}"
        )
        if found is None:
            failed.append(name)
        else:
            rows += found
    return rows, failed, clock() - started


def children_cpu_seconds():
    """User + system seconds of the finished child processes of this one (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _say(line):
    print(line, flush=True)


def _load():
    load = common.load_average()
    return "" if load is None else f", load average {load[0]:.2f}"


def main(argv=None):
    arguments = parse_args(argv)
    settings = common.settings_from(arguments)
    device = settings.device
    _say(
        f"transformer_keras benchmarks: {', '.join(arguments.only)}; "
        f"{settings.threads} threads per framework; logs in {runner.LOGS}"
    )
    load_before, cpu_before = common.load_average(), children_cpu_seconds()
    rows, failed, total = run_modules(arguments.only, settings)
    load_after, cpu_total = common.load_average(), children_cpu_seconds() - cpu_before

    modules = [importlib.import_module(f"benchmarks.{name}") for name in arguments.only]
    kind = "quick smoke run (numbers mean nothing)" if arguments.quick else "full run"
    print(
        f"\ntransformer_keras benchmarks: {kind}, scale {arguments.scale}, {total:.0f} s "
        f"({cpu_total:.0f} s of processor time)"
    )
    print(f"device: {device['kind']} x{device['count']}, {device['name']}")
    print(
        f"threads: {settings.threads} intra-op and {settings.threads} inter-op, "
        "TensorFlow and PyTorch alike"
    )
    print(
        f"load average (1 min) at the start: {_average(load_before)}, at the end: "
        f"{_average(load_after)}\n"
    )
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
        "threads": settings.threads,
        "seconds": round(total, 1),
        "processor_seconds": round(cpu_total, 1),
        "load_average_start": load_before,
        "load_average_end": load_after,
    }
    print(f"\nrows written to {report.write_json(rows, output, metadata)}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see {runner.LOGS})")
    return 1 if failed else 0


def _average(load):
    return "unknown" if load is None else f"{load[0]:.2f}"


if __name__ == "__main__":
    sys.exit(main())
