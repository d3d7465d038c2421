"""The op-statistics summary of `benchmarks/profile_training.py` (no model runs)."""

import pytest

from benchmarks.profile_training import part_of, summarize, table

EVENTS = [
    ("model/layer_0/self_attention_block/attention/query/MatMul", "_MklBatchMatMulV2", 2.0),
    ("model/layer_0/feedforward_block/intermediate/MatMul", "_MklMatMul", 3.0),
    ("model/layer_0/feedforward_block/norm/mul", "Mul", 1.0),
    ("AdamW/update/mul", "Mul", 0.5),
    ("model/layer_1/self_attention_block/attention/key/MatMul", "_MklBatchMatMulV2", 2.0),
]


@pytest.mark.parametrize(
    "node, part",
    [
        ("StatefulPartitionedCall/adam_w/Mul", "optimizer"),
        ("m/decoder/layer_3/self_attention_block/norm/Neg", "attention"),
        ("m/decoder/layer_3/feedforward_block/norm/Neg", "feed-forward"),
        ("m/final_norm/mul", "norm"),
        ("m/token_and_position_embedding/GatherV2", "embedding"),
        ("m/compile_loss/sparse_categorical_crossentropy/Sum", "loss"),
        ("m/Equal", "other"),
    ],
)
def test_part_of_reads_the_name_scope(node, part):
    assert part_of(node) == part


def test_summarize_counts_and_sums_per_step():
    by_type, by_part = summarize(EVENTS, steps=2)
    assert by_type["_MklBatchMatMulV2"] == (1.0, 2.0)  # 2 ops, 4 ms over 2 steps
    assert by_type["Mul"] == (1.0, 0.75)
    assert by_part["attention"] == (1.0, 2.0)
    assert by_part["feed-forward"] == (1.0, 2.0)
    assert by_part["optimizer"] == (0.5, 0.25)


def test_table_sorts_by_the_larger_time_and_totals_both_sides():
    ours = {"Mul": (10, 1.0), "MatMul": (2, 5.0)}
    theirs = {"Mul": (10, 7.0), "Cast": (4, 0.5)}
    lines = table("op type", ours, theirs, top=10).splitlines()
    assert [line.split("|")[0].strip() for line in lines[2:5]] == ["Mul", "MatMul", "Cast"]
    assert lines[-1].split() == ["total", "|", "12", "6.00", "|", "14", "7.50"]
