"""Rows, their JSON schema, the ratio table and the targets (pure Python)."""

import json

import pytest

from benchmarks.report import (
    Limit,
    Row,
    Target,
    anchor_ratios,
    format_table,
    format_targets,
    read_json,
    validate,
    write_json,
)


def _train_rows():
    """transformer_keras twice as fast as KerasHub, KerasHub twice as fast as PyTorch."""
    torch = {"implementation": "pytorch", "xla": False}
    return [
        Row(
            "train",
            "base",
            "transformer_keras",
            xla=True,
            figures={"tokens_per_second": 4000.0, "gflops": 300.0},
            anchors=({"implementation": "keras_hub"}, torch),
        ),
        Row(
            "train",
            "base",
            "keras_hub",
            xla=True,
            figures={"tokens_per_second": 2000.0},
            anchors=(torch,),
        ),
        Row("train", "base", "pytorch", figures={"tokens_per_second": 1000.0}),
    ]


def _valid_json():
    return Row("serve", "batch 1", "transformer_keras", figures={"p50_ms": 2.0}).to_json()


def test_ratios_are_against_the_anchor_rows_of_the_same_run():
    rows = _train_rows()
    assert anchor_ratios(rows, rows[0]) == {"keras_hub": 2.0, "pytorch": 4.0}
    assert anchor_ratios(rows, rows[1]) == {"pytorch": 2.0}
    assert anchor_ratios(rows, rows[2]) == {}


def test_lower_is_better_figures_invert_the_ratio():
    dense = Row(
        "attention", "T=4096 dense", "transformer_keras", figures={"peak_memory_mb": 800}
    )
    chunked = Row(
        "attention",
        "T=4096 chunked",
        "transformer_keras",
        figures={"peak_memory_mb": 200},
        anchors=({"config": "T=4096 dense"},),
    )
    assert anchor_ratios([dense, chunked], chunked) == {"T=4096 dense": 4.0}


def test_a_missing_anchor_gives_no_ratio():
    rows = _train_rows()
    assert anchor_ratios(rows[:1], rows[0]) == {}


def test_table_has_a_header_a_rule_and_one_aligned_line_per_row():
    lines = format_table(_train_rows()).splitlines()
    assert len(lines) == 2 + 3
    header = [cell.strip() for cell in lines[0].split("|")]
    assert header == [
        "benchmark",
        "config",
        "implementation",
        "precision",
        "xla",
        "result",
        "ratio",
    ]
    assert set(lines[1]) <= {"-", "+"}
    assert "4,000 tok/s" in lines[2] and "300.0 GFLOP/s" in lines[2]
    assert "2.00x vs keras_hub, 4.00x vs pytorch" in lines[2]
    # Columns line up: every separator sits at the same offset on every line.
    separators = [[i for i, c in enumerate(line) if c == "|"] for line in lines if "|" in line]
    assert all(found[:5] == separators[0][:5] for found in separators)


def test_ratios_with_a_row_measured_alone_are_marked_and_explained():
    rows = _train_rows()
    torch = rows[2]
    rows[2] = Row(
        torch.benchmark,
        torch.config,
        torch.implementation,
        figures=torch.figures,
        alone=True,
    )
    lines = format_table(rows).splitlines()
    assert "2.00x vs keras_hub, 4.00x vs pytorch*" in lines[2]
    assert "2.00x vs pytorch*" in lines[3]
    assert lines[-1].startswith("* not measured in alternation")
    assert len(lines) == 2 + 3 + 1


def test_a_table_of_alternated_rows_has_no_mark():
    text = format_table(_train_rows())
    assert "*" not in text and "not measured in alternation" not in text


def test_targets_report_met_missed_and_not_measured():
    rows = _train_rows()

    def identity(implementation, xla=True):
        return {
            "benchmark": "train",
            "config": "base",
            "implementation": implementation,
            "precision": "float32",
            "xla": xla,
        }

    targets = [
        Target(
            "vs hub",
            identity("transformer_keras"),
            identity("keras_hub"),
            "tokens_per_second",
            1.0,
        ),
        Target(
            "vs hub x3",
            identity("transformer_keras"),
            identity("keras_hub"),
            "tokens_per_second",
            3.0,
        ),
        Target(
            "no xla",
            identity("transformer_keras", False),
            identity("keras_hub"),
            "tokens_per_second",
            1.0,
        ),
    ]
    assert targets[0].evaluate(rows) == 2.0
    lines = format_targets(rows, targets).splitlines()
    assert lines[0] == "[met] vs hub: 2.00x (target >= 1.00x)"
    assert lines[1] == "[MISSED] vs hub x3: 2.00x (target >= 3.00x)"
    assert lines[2] == "[NOT MEASURED] no xla: - (target >= 1.00x)"


def test_json_round_trip_keeps_rows_and_adds_ratios(tmp_path):
    rows = _train_rows()
    path = write_json(rows, tmp_path / "results" / "latest.json")
    data = json.loads(path.read_text())
    assert isinstance(data, list) and len(data) == 3
    first = data[0]
    for field in ("benchmark", "config", "implementation", "precision", "xla"):
        assert field in first
    assert first["tokens_per_second"] == 4000.0 and first["gflops"] == 300.0
    assert first["ratios"] == {"keras_hub": 2.0, "pytorch": 4.0}
    assert first["alone"] is False
    assert read_json(path) == rows


def test_json_round_trip_keeps_a_row_measured_alone(tmp_path):
    row = Row("train", "base", "pytorch", figures={"tokens_per_second": 1.0}, alone=True)
    assert read_json(write_json([row], tmp_path / "rows.json")) == [row]


def test_json_rows_written_before_the_alone_field_read_as_alternated():
    data = {k: v for k, v in _valid_json().items() if k != "alone"}
    assert Row.from_json(data).alone is False


@pytest.mark.parametrize(
    "field, value",
    [
        ("benchmark", "speed"),
        ("implementation", "jax"),
        ("precision", "float64"),
        ("config", ""),
        ("xla", "yes"),
        ("p50_ms", -1.0),
        ("p50_ms", float("nan")),
        ("p50_ms", True),
        ("primary", "gflops"),
        ("anchors", [{"colour": "red"}]),
        ("alone", "no"),
    ],
)
def test_schema_rejects_each_bad_field_by_name(field, value):
    data = {**_valid_json(), field: value}
    with pytest.raises(ValueError, match=f"Received: {field}="):
        validate(data)


def test_schema_needs_at_least_one_figure():
    data = {k: v for k, v in _valid_json().items() if k != "p50_ms"}
    data["primary"] = None
    with pytest.raises(ValueError, match="at least one of"):
        validate(data)


def test_a_row_is_validated_when_built():
    with pytest.raises(ValueError, match="Received: benchmark='speed'"):
        Row("speed", "base", "transformer_keras", figures={"gflops": 1.0})


def test_an_anchor_field_set_to_none_matches_any_value():
    hub = Row("generate", "b1", "keras_hub", xla=True, figures={"tokens_per_second": 100.0})
    ours = Row(
        "generate",
        "b1",
        "transformer_keras",
        figures={"tokens_per_second": 150.0},
        anchors=({"implementation": "keras_hub", "xla": None},),
    )
    assert anchor_ratios([ours, hub], ours) == {"keras_hub": 1.5}
    partial = Target(
        "any xla",
        {"implementation": "transformer_keras"},
        {"implementation": "keras_hub"},
        "tokens_per_second",
        1.5,
    )
    assert partial.evaluate([ours, hub]) == 1.5


def test_a_limit_bounds_one_figure_of_one_row():
    row = Row(
        "mixed_precision",
        "language_model",
        "transformer_keras",
        "mixed_float16",
        figures={"loss_difference_percent": 1.5, "non_finite_steps": 0},
    )
    criteria = {"benchmark": "mixed_precision", "precision": "mixed_float16"}
    within = Limit("loss", criteria, "loss_difference_percent", 2.0)
    too_strict = Limit("loss", criteria, "loss_difference_percent", 1.0)
    assert within.evaluate([row]) == 1.5
    lines = format_targets([row], [within, too_strict]).splitlines()
    assert lines[0] == "[met] loss: 1.50 % from float32 (target <= 2.00 % from float32)"
    assert lines[1].startswith("[MISSED] loss: 1.50 % from float32")
    assert format_targets([], [within]).startswith("[NOT MEASURED]")
