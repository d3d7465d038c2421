"""The tiny-task quality benchmark (`benchmarks/tiny_tasks.py`): its data, its targets
and its flags (cheap: one smoke run of the smallest model)."""

import pytest

from benchmarks import tiny_tasks
from benchmarks.report import Row, format_targets


def _rows(seed, bleu, chrf, loss, accuracy):
    return [
        Row(
            "tiny_tasks",
            f"copy translator seed {seed}",
            "transformer_keras",
            figures={"bleu": bleu, "chrf": chrf},
        ),
        Row(
            "tiny_tasks",
            f"animals lm seed {seed}",
            "transformer_keras",
            figures={"final_loss": loss},
        ),
        Row(
            "tiny_tasks",
            f"keyword classifier seed {seed}",
            "transformer_keras",
            figures={"accuracy": accuracy},
        ),
    ]


def test_each_seed_has_the_thresholds_the_tests_once_asserted():
    rows = _rows(0, 95.0, 96.0, 1.2, 1.0) + _rows(1, 83.16, 85.4, 3.1, 0.9)
    lines = format_targets(rows, tiny_tasks.targets((0, 1))).splitlines()
    assert lines == [
        "[met] copy translator seed 0: BLEU: 95.00 BLEU (target >= 90.00 BLEU)",
        "[met] copy translator seed 0: chrF: 96.00 chrF (target >= 90.00 chrF)",
        "[met] animals lm seed 0: validation loss: 1.2000 loss (target <= 2.9957 loss)",
        "[met] keyword classifier seed 0: accuracy: 1.0000 accuracy "
        "(target >= 0.9500 accuracy)",
        "[MISSED] copy translator seed 1: BLEU: 83.16 BLEU (target >= 90.00 BLEU)",
        "[MISSED] copy translator seed 1: chrF: 85.40 chrF (target >= 90.00 chrF)",
        "[MISSED] animals lm seed 1: validation loss: 3.1000 loss (target <= 2.9957 loss)",
        "[MISSED] keyword classifier seed 1: accuracy: 0.9000 accuracy "
        "(target >= 0.9500 accuracy)",
    ]


def test_the_generated_data_follow_their_rules():
    sources, targets = tiny_tasks.copy_corpus(50, seed=0)
    assert targets == sources and tiny_tasks.copy_corpus(50, seed=0)[0] == sources
    assert all(
        3 <= len(s.split()) <= 6 and set(s.split()) <= set(tiny_tasks.COPY_WORDS)
        for s in sources
    )
    assert tiny_tasks.animal_corpus(2).splitlines() == [
        "the cat sat on the mat.",
        "the dog sat on the hill.",
    ]
    token_ids, labels = tiny_tasks.keyword_examples()
    assert token_ids.shape == (128, 8)
    assert ((token_ids == 5).any(axis=1) == (labels == 1)).all()


def test_seeds_flag_counts_from_zero_and_leaves_the_rest_to_the_runner():
    assert tiny_tasks.seeds_from([]) == ((0, 1, 2), [])
    assert tiny_tasks.seeds_from(["--seeds", "5", "--quick"]) == ((0, 1, 2, 3, 4), ["--quick"])
    with pytest.raises(SystemExit, match="Received: seeds=0"):
        tiny_tasks.seeds_from(["--seeds", "0"])


def test_the_keyword_classifier_smoke_run_reports_an_accuracy():
    assert 0.0 <= tiny_tasks.keyword_classifier(seed=0, quick=True) <= 1.0


@pytest.mark.slow
@pytest.mark.tf_only
def test_the_translator_and_lm_smoke_runs_train_through_the_recipes():
    scores = tiny_tasks.copy_translator(seed=0, quick=True)
    assert set(scores) == {"bleu", "chrf"}
    assert all(0.0 <= value <= 100.0 for value in scores.values())
    loss = tiny_tasks.animals_lm(seed=0, quick=True)
    assert 0.0 < loss < 10.0  # Nats per character, from a 3-step model.
