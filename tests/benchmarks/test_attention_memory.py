"""The crossover and summary of the attention benchmark (pure Python, no model runs)."""

from benchmarks.attention_memory import crossover, dense_fits, summary
from benchmarks.report import Row


def _rows(measurements):
    """`{(length, path): (memory MB, time ms)}` -> attention rows of the train pass."""
    return [
        Row(
            "attention",
            f"T={length} {path} train",
            "transformer_keras",
            figures={"peak_memory_mb": memory, "time_ms": time},
        )
        for (length, path), (memory, time) in measurements.items()
    ]


def test_crossover_is_where_chunked_stays_at_least_as_good_up_to_the_longest_length():
    rows = _rows(
        {
            (512, "dense"): (10, 5),
            (512, "chunked"): (10, 6),
            (1024, "dense"): (40, 20),
            (1024, "chunked"): (20, 19),
            (2048, "dense"): (160, 80),
            (2048, "chunked"): (40, 70),
        }
    )
    assert crossover(rows, "train", "time_ms") == 1024
    assert crossover(rows, "train", "peak_memory_mb") == 512


def test_no_crossover_when_chunked_loses_at_the_longest_length():
    rows = _rows(
        {
            (512, "dense"): (10, 5),
            (512, "chunked"): (5, 4),  # better here, but not at the end
            (1024, "dense"): (40, 20),
            (1024, "chunked"): (20, 25),
        }
    )
    assert crossover(rows, "train", "time_ms") is None
    assert "train: chunked at least matches dense on time at no length measured" in summary(
        rows
    )


def test_summary_names_lengths_where_dense_was_skipped():
    rows = _rows(
        {(512, "dense"): (10, 5), (512, "chunked"): (5, 4), (8192, "chunked"): (60, 900)}
    )
    assert summary(rows).splitlines()[0] == (
        "attention: dense path not run at T=8192 train "
        "(estimated peak above half the free memory)"
    )
    assert crossover(rows, "train", "peak_memory_mb") == 512


def test_dense_always_fits_on_a_gpu_and_not_beyond_the_machine_on_a_cpu():
    assert dense_fits(10**6, 1, "train", {"kind": "gpu"})
    assert not dense_fits(10**6, 1, "train", {"kind": "cpu"})  # 16 TB of scores
    assert dense_fits(64, 1, "train", {"kind": "cpu"})
