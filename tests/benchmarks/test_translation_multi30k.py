"""The Multi30k benchmark trains the translator recipe with the flags it is given,
records each epoch and stops on its time budget (cheap: no translator runs)."""

import dataclasses

import keras
import numpy as np

from benchmarks.translation_multi30k import curve_callback, parse_args, recipe_of
from transformer_keras.recipes import TranslatorRecipe


def test_defaults_are_the_recipe_behind_the_command_line():
    assert recipe_of(parse_args([])) == TranslatorRecipe()


def test_flags_reach_the_recipe():
    args = parse_args(["--preset", "tiny", "--epochs", "2", "--learning-rate-scale", "1.0"])
    assert recipe_of(args) == dataclasses.replace(
        TranslatorRecipe(), preset="tiny", epochs=2, learning_rate_scale=1.0
    )


def _fit(callback, epochs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=epochs, callbacks=[callback])


def test_the_curve_has_a_row_per_epoch(tmp_path):
    curve = curve_callback(tmp_path / "curve.tsv", hours=1.0)
    history = _fit(curve, epochs=3)
    lines = (tmp_path / "curve.tsv").read_text().splitlines()
    assert lines[0] == "seconds\tepoch\tloss\tbleu\tchrf"
    assert [line.split("\t")[1] for line in lines[1:]] == ["1", "2", "3"]
    assert [row[1] for row in curve.rows] == [1, 2, 3]
    np.testing.assert_allclose([row[2] for row in curve.rows], history.history["loss"])


def test_training_stops_after_the_epoch_that_ends_past_the_budget(tmp_path):
    curve = curve_callback(tmp_path / "curve.tsv", hours=0.0)
    history = _fit(curve, epochs=5)
    assert len(history.history["loss"]) == 1 and len(curve.rows) == 1
