"""Result rows, their JSON schema, the ratio table and the targets.

A row is one measurement: which benchmark, which configuration, which
implementation, at which precision, with or without XLA, and its figures
(`tokens_per_second`, `gflops`, `p50_ms`, ...). A row names its anchors, the
rows of the same run it is compared with (e.g. the KerasHub row of the same
configuration); the table prints each ratio so that above 1 always means
"better than the anchor" (faster, or less memory, or lower latency).
"""

import dataclasses
import json
import math
from pathlib import Path

BENCHMARKS = (
    "peak",
    "train",
    "generate",
    "serve",
    "attention",
    "mixed_precision",
    "tiny_tasks",
)
IMPLEMENTATIONS = ("transformer_keras", "keras_hub", "pytorch", "tensorflow")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
IDENTITY = ("benchmark", "config", "implementation", "precision", "xla")


@dataclasses.dataclass(frozen=True)
class Figure:
    """How a figure is printed and which direction is better."""

    unit: str
    higher_is_better: bool
    decimals: int = 0


FIGURES = {
    "tokens_per_second": Figure("tok/s", True),
    "gflops": Figure("GFLOP/s", True, 1),
    "gbps": Figure("GB/s", True, 1),
    "p50_ms": Figure("ms p50", False, 2),
    "p99_ms": Figure("ms p99", False, 2),
    "time_ms": Figure("ms", False, 1),
    "peak_memory_mb": Figure("MB peak", False, 2),
    "final_loss": Figure("loss", False, 4),
    "loss_difference_percent": Figure("% from float32", False, 2),
    "non_finite_steps": Figure("non-finite steps", False),
    "bleu": Figure("BLEU", True, 2),
    "chrf": Figure("chrF", True, 2),
    "accuracy": Figure("accuracy", True, 4),
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One measurement.

    Attributes:
        benchmark: one of `BENCHMARKS`.
        config: the configuration measured, e.g. `"base"` or `"T=4096 dense"`.
        implementation: one of `IMPLEMENTATIONS` (`"tensorflow"` for the
            hardware ceiling, which is no model).
        precision: one of `PRECISIONS`.
        xla: compiled with XLA (`jit_compile=True`).
        figures: `{name in FIGURES: number}`.
        primary: the figure compared with anchors; defaults to the first one.
        anchors: identity fields that differ in each anchor row, e.g.
            `({"implementation": "keras_hub"},)`; a field set to `None`
            matches any value (e.g. `"xla": None` for "whatever the anchor
            compiles with by default").
        notes: free text shown in the JSON only.
        alone: measured in a turn of its own, not in alternation with its
            anchors or with the rows that anchor on it (e.g. a module run by
            itself): a change in load between the turns shows in the ratio,
            and the table marks it.
    """

    benchmark: str
    config: str
    implementation: str
    precision: str = "float32"
    xla: bool = False
    figures: dict = dataclasses.field(default_factory=dict)
    primary: str | None = None
    anchors: tuple = ()
    notes: str = ""
    alone: bool = False

    def __post_init__(self):
        if self.primary is None and self.figures:
            object.__setattr__(self, "primary", next(iter(self.figures)))
        object.__setattr__(self, "anchors", tuple(dict(anchor) for anchor in self.anchors))
        validate(self.to_json())

    def identity(self, **overrides):
        """`{field: value}` of the identity fields, with `overrides` applied."""
        return {**{name: getattr(self, name) for name in IDENTITY}, **overrides}

    def matches(self, criteria):
        """Whether every identity field in `criteria` that is not `None` is equal."""
        return all(
            value is None or getattr(self, name) == value for name, value in criteria.items()
        )

    def to_json(self):
        """A flat dict: identity fields, figures, then the bookkeeping fields."""
        return {
            **{name: getattr(self, name) for name in IDENTITY},
            **self.figures,
            "primary": self.primary,
            "anchors": [dict(anchor) for anchor in self.anchors],
            "notes": self.notes,
            "alone": self.alone,
        }

    @classmethod
    def from_json(cls, data):
        validate(data)
        return cls(
            **{name: data[name] for name in IDENTITY},
            figures={name: data[name] for name in FIGURES if name in data},
            primary=data.get("primary"),
            anchors=tuple(data.get("anchors", ())),
            notes=data.get("notes", ""),
            alone=data.get("alone", False),
        )


def validate(data):
    """Checks one JSON row; raises a `ValueError` naming the bad field."""

    def fail(field, why):
        raise ValueError(f"Row field `{field}` {why}. Received: {field}={data.get(field)!r}")

    for field, choices in (
        ("benchmark", BENCHMARKS),
        ("implementation", IMPLEMENTATIONS),
        ("precision", PRECISIONS),
    ):
        if data.get(field) not in choices:
            fail(field, f"must be one of {list(choices)}")
    if not isinstance(data.get("config"), str) or not data["config"]:
        fail("config", "must be a non-empty string")
    if not isinstance(data.get("xla"), bool):
        fail("xla", "must be true or false")
    if not isinstance(data.get("alone", False), bool):
        fail("alone", "must be true or false")
    figures = [name for name in FIGURES if name in data]
    if not figures:
        fail("figures", f"must include at least one of {list(FIGURES)}")
    for name in figures:
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(name, "must be a number")
        if not math.isfinite(value) or value < 0:
            fail(name, "must be finite and non-negative")
    primary = data.get("primary")
    if primary is not None and primary not in figures:
        fail("primary", f"must name one of the row's figures {figures}")
    for anchor in data.get("anchors", ()):
        if not isinstance(anchor, dict) or not anchor or set(anchor) - set(IDENTITY):
            fail("anchors", f"must be dicts over the identity fields {list(IDENTITY)}")


# ------------------------------------------------------------------ ratios
def ratio(row, anchor, figure):
    """How many times better `row` is than `anchor` on `figure` (>1 = better)."""
    value, reference = row.figures.get(figure), anchor.figures.get(figure)
    if value is None or reference is None:
        return None
    if FIGURES[figure].higher_is_better:
        return value / reference if reference else None
    return reference / value if value else None


def find_row(rows, criteria):
    """The first row matching `criteria` (see `Row.matches`), or `None`."""
    for row in rows:
        if row.matches(criteria):
            return row
    return None


def anchor_label(overrides):
    """`{"implementation": "pytorch", "xla": False}` -> `"pytorch"` (flags are implied).

    With a `config` override the label is the implementation alone when it
    also changes (e.g. "keras_hub" for a SavedModel row's KerasHub anchor).
    """
    if "implementation" in overrides:
        return str(overrides["implementation"])
    return " ".join(str(v) for v in overrides.values() if not isinstance(v, bool | None))


def anchor_ratios(rows, row):
    """`{anchor label: ratio}` of `row`'s primary figure against each anchor present."""
    return {label: value for label, (value, _) in _ratios_and_anchors(rows, row).items()}


def _ratios_and_anchors(rows, row):
    """`{anchor label: (ratio, anchor row)}` for each anchor of `row` present in `rows`."""
    found = {}
    for overrides in row.anchors:
        anchor = find_row(rows, row.identity(**overrides))
        value = None if anchor is None else ratio(row, anchor, row.primary)
        if value is not None:
            found[anchor_label(overrides)] = (value, anchor)
    return found


NOT_ALTERNATED = "*"
NOT_ALTERNATED_NOTE = (
    f"{NOT_ALTERNATED} not measured in alternation: the two rows ran in separate turns, "
    "so a change in the machine's load between them shows in the ratio"
)


# ------------------------------------------------------------------- table
def format_figure(name, value):
    figure = FIGURES[name]
    return f"{value:,.{figure.decimals}f} {figure.unit}"


def format_table(rows):
    """One text table of every row, with its ratios against its anchors."""
    header = ("benchmark", "config", "implementation", "precision", "xla", "result", "ratio")
    lines, marked = [header], False
    for row in rows:
        ratios = {}
        for label, (value, anchor) in _ratios_and_anchors(rows, row).items():
            alone = row.alone or anchor.alone
            marked = marked or alone
            ratios[label + (NOT_ALTERNATED if alone else "")] = value
        lines.append(
            (
                row.benchmark,
                row.config,
                row.implementation,
                row.precision,
                "yes" if row.xla else "no",
                "  ".join(format_figure(name, value) for name, value in row.figures.items()),
                ", ".join(f"{value:.2f}x vs {label}" for label, value in ratios.items()),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in lines
    ]
    text.insert(1, "-+-".join("-" * width for width in widths))
    if marked:
        text.append(NOT_ALTERNATED_NOTE)
    return "\n".join(line.rstrip() for line in text)


# ----------------------------------------------------------------- targets
@dataclasses.dataclass(frozen=True)
class Target:
    """A ratio the issue asks for: `row` at least `minimum` times better than `anchor`.

    `row` and `anchor` map identity fields to values; a field left out (or
    `None`) matches any value.
    """

    description: str
    row: dict
    anchor: dict
    figure: str
    minimum: float

    def evaluate(self, rows):
        """The measured ratio, or `None` when a row is missing."""
        row, anchor = find_row(rows, self.row), find_row(rows, self.anchor)
        if row is None or anchor is None:
            return None
        return ratio(row, anchor, self.figure)

    def met(self, value):
        return value >= self.minimum

    def show(self, value):
        return f"{value:.2f}x"

    def requirement(self):
        return f">= {self.minimum:.2f}x"


@dataclasses.dataclass(frozen=True)
class Limit:
    """A bound the issue asks for on one figure of one row (e.g. loss difference <= 2%)."""

    description: str
    row: dict
    figure: str
    maximum: float

    def evaluate(self, rows):
        """The row's figure, or `None` when the row is missing."""
        row = find_row(rows, self.row)
        return None if row is None else row.figures.get(self.figure)

    def met(self, value):
        return value <= self.maximum

    def show(self, value):
        return format_figure(self.figure, value)

    def requirement(self):
        return f"<= {format_figure(self.figure, self.maximum)}"


@dataclasses.dataclass(frozen=True)
class Floor:
    """A least value the issue asks for on one figure of one row (e.g. BLEU >= 90)."""

    description: str
    row: dict
    figure: str
    minimum: float

    def evaluate(self, rows):
        """The row's figure, or `None` when the row is missing."""
        row = find_row(rows, self.row)
        return None if row is None else row.figures.get(self.figure)

    def met(self, value):
        return value >= self.minimum

    def show(self, value):
        return format_figure(self.figure, value)

    def requirement(self):
        return f">= {format_figure(self.figure, self.minimum)}"


def format_targets(rows, targets):
    """One line per `Target`, `Limit` or `Floor`: met, MISSED or NOT MEASURED."""
    lines = []
    for target in targets:
        value = target.evaluate(rows)
        if value is None:
            verdict, measured = "NOT MEASURED", "-"
        else:
            verdict = "met" if target.met(value) else "MISSED"
            measured = target.show(value)
        lines.append(
            f"[{verdict}] {target.description}: {measured} (target {target.requirement()})"
        )
    return "\n".join(lines)


# -------------------------------------------------------------------- JSON
def write_json(rows, path, metadata=None):
    """Writes the rows as a JSON list; returns the path.

    Each row gets its `ratios` against its anchors and the `metadata` fields
    (e.g. the device and whether the run was `--quick`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [
        {**row.to_json(), "ratios": anchor_ratios(rows, row), **(metadata or {})}
        for row in rows
    ]
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def read_json(path):
    return [Row.from_json(data) for data in json.loads(Path(path).read_text())]
