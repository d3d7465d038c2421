"""Options every `train` command shares: --strategy, --seed, --deterministic, --save-every.

They become the recipes' `RunOptions` (`transformer_keras.recipes.pipeline`).
"""

import argparse

import numpy as np
import pytest
import tensorflow as tf

from transformer_keras import cli
from transformer_keras.commands.common import STRATEGIES, add_run_arguments, run_options
from transformer_keras.data.generated_sentiment import LABEL_NAMES, generate_sentiment_examples
from transformer_keras.recipes.pipeline import (
    RunOptions,
    check_global_batch_size,
    start_run,
    strategy_scope,
)
from transformer_keras.training.reproducibility import set_seed

pytestmark = pytest.mark.tf_only

FAMILIES = {
    "classifier": ["--train", "t.tsv", "--output", "out"],
    "lm": ["--train", "t.txt", "--output", "out"],
    "translator": ["--train-pairs", "t.tsv", "--output", "out"],
}


def _parser():
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser


def test_defaults_are_one_device_seed_0_and_epoch_saves():
    args = _parser().parse_args([])
    assert (args.strategy, args.seed, args.deterministic, args.save_every) == (
        "default",
        0,
        False,
        None,
    )
    assert run_options(args) == RunOptions()
    assert RunOptions().save_freq == "epoch"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_train_command_takes_the_options(family):
    argv = ["train", family, *FAMILIES[family]]
    options = ["--strategy", "mirrored", "--seed", "7", "--deterministic", "--save-every", "50"]
    args = cli.build_parser().parse_args(argv + options)
    assert (args.strategy, args.seed, args.deterministic, args.save_every) == (
        "mirrored",
        7,
        True,
        50,
    )
    assert run_options(args) == RunOptions(
        seed=7, deterministic=True, strategy="mirrored", save_every=50
    )
    assert run_options(args).save_freq == 50
    with pytest.raises(SystemExit):  # argparse: not one of the choices.
        cli.build_parser().parse_args(argv + ["--strategy", "gpu"])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_unavailable_strategy_is_a_one_line_error(family, capsys, monkeypatch):
    monkeypatch.setenv("TPU_NAME", "local")
    code = cli.main(["train", family, *FAMILIES[family], "--strategy", "tpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("transformer-keras: error: No TPU found") and err.count("\n") == 1


def test_start_run_seeds_and_returns_the_strategy():
    strategy = start_run(run_options(_parser().parse_args(["--seed", "5"])))
    drawn = np.random.rand()
    set_seed(5)
    assert drawn == np.random.rand()
    assert strategy.num_replicas_in_sync == 1
    with strategy_scope(strategy):
        assert tf.distribute.get_strategy() is strategy
    with strategy_scope(None):
        pass


@pytest.mark.parametrize("value", [0, -5])
def test_save_every_must_be_positive(value):
    with pytest.raises(ValueError, match=f"Received: save_every={value}"):
        run_options(_parser().parse_args(["--save-every", str(value)]))


def test_any_batch_size_splits_over_one_replica():
    check_global_batch_size("batch_size", 7, tf.distribute.get_strategy())
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        check_global_batch_size("batch_size", 0, tf.distribute.get_strategy())


def test_strategy_choices_are_the_library_names():
    from transformer_keras.recipes.pipeline import STRATEGIES as RECIPE_NAMES
    from transformer_keras.training.distribute import STRATEGIES as LIBRARY_NAMES

    assert STRATEGIES == LIBRARY_NAMES == RECIPE_NAMES


@pytest.mark.slow
def test_train_classifier_runs_under_mirrored_and_exports(tmp_path):
    """The options reach training: a mirrored run with step saves ends exported."""
    texts, labels = generate_sentiment_examples(48, seed=0)
    rows = [f"{text}\t{LABEL_NAMES[label]}" for text, label in zip(texts, labels)]
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    output = tmp_path / "model"
    argv = ["train", "classifier", "--train", str(tmp_path / "train.tsv"), "--output"]
    argv += [str(output), "--preset", "tiny", "--epochs", "1", "--vocabulary-size", "100"]
    argv += ["--batch-size", "8", "--strategy", "mirrored", "--save-every", "2", "--seed", "3"]
    argv += ["--ensemble", "1"]
    assert cli.main(argv) == 0
    assert (output / "saved_model.pb").is_file()
    # The run finished, so its training state is gone: the same command starts anew.
    assert not (tmp_path / "model.training" / "backup" / "state").exists()
