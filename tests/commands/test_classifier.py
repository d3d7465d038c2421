"""`train classifier`, `classify`, `evaluate classifier` and the demo step, end to end.

The recipe behind them (`recipes/classifier.py`) is tested here through the
command line and through `train_classifier`.
"""

import dataclasses
import io
import re

import keras
import numpy as np
import pytest

from transformer_keras import cli
from transformer_keras.commands import classifier as commands
from transformer_keras.data.classification import from_texts
from transformer_keras.data.generated_sentiment import LABEL_NAMES, generate_sentiment_examples
from transformer_keras.export.client import load_client
from transformer_keras.recipes import classifier as recipes
from transformer_keras.recipes.demo import classifier_demo
from transformer_keras.recipes.pipeline import RunOptions

pytestmark = pytest.mark.tf_only

FAST = ["--preset", "tiny", "--epochs", "2", "--vocabulary-size", "200", "--ensemble", "1"]
FAST += ["--max-length", "32", "--conv-kernel-size", "0"]
TINY = recipes.ClassifierRecipe(
    preset="tiny", vocabulary_size=100, max_length=32, conv_kernel_size=0, ensemble=1
)
QUIET = RunOptions(verbose=0)


def _write_tsv(path, num_examples, seed, label_as_name=True, header="review\tsentiment"):
    texts, labels = generate_sentiment_examples(num_examples, seed)
    rows = [f"{t}\t{LABEL_NAMES[y] if label_as_name else y}" for t, y in zip(texts, labels)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier_cli")
    train = _write_tsv(folder / "train.tsv", 300, seed=0)
    dev = _write_tsv(folder / "dev.tsv", 60, seed=1, label_as_name=False)
    output = folder / "saved_models" / "sentiment"
    code = cli.main(
        ["train", "classifier", "--train", str(train), "--validation", str(dev),
         "--text-column", "review", "--label-column", "sentiment", "--output", str(output),
         *FAST]
    )  # fmt: skip
    assert code == 0
    return folder, output


@pytest.mark.slow  # trains a model
def test_train_exports_saved_model_and_keras_file(trained):
    folder, output = trained
    assert (output / "saved_model.pb").is_file()
    model = keras.saving.load_model(f"{output}.keras")
    assert model.label_names == list(LABEL_NAMES) and model.backbone.num_layers == 1
    assert (folder / "saved_models" / "sentiment.training" / "logs").is_dir()


@pytest.mark.slow  # trains a model
def test_classify_arguments_and_stdin(trained, capsys, monkeypatch):
    _, output = trained
    texts = ["the cast was superb", "", "i hated the ending"]
    code, out, _ = _run(["classify", str(output), *texts], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    for line, text in zip(lines, texts):
        label, probability, echoed = line.split("\t")
        assert label in LABEL_NAMES and 0.5 <= float(probability) <= 1.0 and echoed == text
    monkeypatch.setattr("sys.stdin", io.StringIO("the cast was superb\ni hated the ending\n"))
    code, out, _ = _run(["classify", str(output)], capsys)
    assert code == 0 and out.splitlines() == [lines[0], lines[2]]


@pytest.mark.slow  # trains a model
def test_evaluate_prints_accuracy(trained, capsys):
    folder, output = trained
    code, out, _ = _run(
        ["evaluate", "classifier", str(output), "--data", str(folder / "dev.tsv"),
         "--text-column", "review", "--label-column", "sentiment"],
        capsys,
    )  # fmt: skip
    assert code == 0
    accuracy, correct, total = re.match(r"accuracy (\S+) \((\d+)/(\d+)\)", out).groups()
    assert int(total) == 60 and float(accuracy) == pytest.approx(int(correct) / 60, abs=1e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "classifier", "--train", "{tmp}/absent.tsv", "--output", "{tmp}/m"],
         "No such data file"),
        (["train", "classifier", "--train", "{tmp}/train.tsv", "--text-column", "body",
          "--output", "{tmp}/m"], "no column 'body'"),
        (["train", "classifier", "--train", "{tmp}/one_class.tsv", "--output", "{tmp}/m"],
         "at least 2"),
        (["train", "classifier", "--train", "{tmp}/train.tsv", "--epochs", "0",
          "--output", "{tmp}/m"], "epochs=0"),
        (["classify", "{tmp}/absent_model", "some text"], "No SavedModel"),
        (["evaluate", "classifier", "{tmp}/absent_model", "--data", "{tmp}/train.tsv"],
         "No SavedModel"),
    ],
)  # fmt: skip
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "train.tsv").write_text("sentence\tlabel\nfine\t1\nbad\t0\n")
    (tmp_path / "one_class.tsv").write_text("sentence\tlabel\nfine\t1\ngood\t1\n")
    code, _, err = _run([arg.format(tmp=tmp_path) for arg in argv], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.slow  # trains a model
def test_evaluate_with_unknown_labels_is_a_user_error(trained, tmp_path, capsys):
    _, output = trained
    (tmp_path / "other.tsv").write_text("sentence\tlabel\nfine\tneutral\n")
    code, _, err = _run(
        ["evaluate", "classifier", str(output), "--data", str(tmp_path / "other.tsv")], capsys
    )
    assert code == 2 and "Received: label='neutral'" in err


def test_parser_lists_what_the_model_offers():
    from transformer_keras.models.classifier import TransformerClassifier
    from transformer_keras.text import TOKENIZER_CLASSES

    assert sorted(commands.PRESETS) == TransformerClassifier.preset_names()
    assert sorted(commands.TOKENIZERS) == sorted(TOKENIZER_CLASSES)


@pytest.mark.slow  # trains a model
def test_demo_with_a_data_file(tmp_path, capsys):
    data = _write_tsv(tmp_path / "reviews.tsv", 120, seed=3, header="sentence\tlabel")
    # Only this family's step (`transformer-keras demo` runs every family's).
    classifier_demo(str(tmp_path), str(data))
    out = capsys.readouterr().out
    assert (tmp_path / "classifier-demo" / "saved_model.pb").is_file()
    predictions = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(predictions) == 4
    assert all(line.split()[0] in LABEL_NAMES for line in predictions)


@pytest.mark.slow  # trains a model
def test_conv_kernel_size_reaches_the_exported_model(tmp_path):
    train = _write_tsv(tmp_path / "train.tsv", 64, seed=0, header="sentence\tlabel")
    output = tmp_path / "conv"
    code = cli.main(
        ["train", "classifier", "--train", str(train), "--output", str(output),
         *FAST, "--conv-kernel-size", "3", "--epochs", "1"]
    )  # fmt: skip
    assert code == 0
    model = keras.saving.load_model(f"{output}.keras")
    assert model.conv_kernel_size == 3 and tuple(model.conv.kernel.shape)[0] == 3


@pytest.mark.slow  # trains two models
def test_an_ensemble_killed_during_export_keeps_its_members_and_exports_their_average(
    tmp_path, capsys, monkeypatch
):
    """Members get seeds seed*N+i; a run started again after a crash in the export
    finds the members' final weights instead of training; the export serves
    the ensemble's average."""
    from transformer_keras.models.classifier import ClassifierEnsemble

    train = _write_tsv(tmp_path / "train.tsv", 64, seed=0, header="sentence\tlabel")
    output = tmp_path / "ensemble"
    argv = ["train", "classifier", "--train", str(train), "--output", str(output),
            *FAST, "--ensemble", "2", "--seed", "3", "--epochs", "1"]  # fmt: skip

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    with monkeypatch.context() as patch:
        patch.setattr(recipes, "export_run", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            cli.main(argv)
    out = capsys.readouterr().out
    assert "ensemble member 1 of 2 (seed 6)" in out  # seed * 2 + index: others share none
    assert "ensemble member 2 of 2 (seed 7)" in out
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.count("trained weights found") == 2
    model = keras.saving.load_model(f"{output}.keras")
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 2
    first, second = (member.get_weights()[0] for member in model.members)
    assert not np.allclose(first, second)  # other seeds
    _, _, served = load_client(str(output), "classifier").classify(["ok"])
    _, _, probabilities = model.classify(["ok"])
    np.testing.assert_allclose(served, probabilities, atol=1e-5)


@pytest.mark.slow  # trains a model
def test_weight_averaging_leaves_the_average_in_the_model(tmp_path):
    texts, labels = generate_sentiment_examples(64, seed=0)
    data = from_texts(texts, labels, LABEL_NAMES)
    recipe = dataclasses.replace(TINY, epochs=2, ema_momentum=0.5, patience=None)
    model = recipes.train_classifier(data, data, tmp_path / "model", recipe, QUIET).model
    averages = model.optimizer._model_variables_moving_average
    for variable, average in zip(model.trainable_variables, averages):
        np.testing.assert_allclose(variable.numpy(), average.numpy(), atol=1e-6)


@pytest.mark.slow  # pre-trains a model
def test_fit_classifier_fine_tunes_the_pretrained_backbone(tmp_path, monkeypatch):
    """The classifier that `fit` receives holds the pretrained backbone's weights (and a
    run started again loads the saved pretrained model instead of pre-training)."""
    import transformer_keras.training.resumable_fit as resumable_fit
    from transformer_keras.models.classifier import TransformerClassifier

    texts, labels = generate_sentiment_examples(32, seed=0)
    data = from_texts(texts, labels, LABEL_NAMES)
    from transformer_keras.recipes.masked_lm import pretrain_encoder

    texts_to_pretrain = [*data.texts_and_labels()[0], "an unlabelled text"]
    recipe = dataclasses.replace(TINY, max_length=16, batch_size=8, epochs=1)
    pretrain_recipe = dataclasses.replace(
        recipe.pretrain, preset="tiny", vocabulary_size=100, epochs=1, batch_size=16
    )
    recipe = dataclasses.replace(recipe, pretrain=pretrain_recipe)
    output = tmp_path / "model"
    pretrained = pretrain_encoder(
        texts_to_pretrain, tmp_path / "model.training" / "pretrained", pretrain_recipe, QUIET,
        model_arguments=recipe.model_arguments(),
    )  # fmt: skip
    started = {}

    def record(model, *args, **kwargs):
        started["weights"] = [weight.numpy().copy() for weight in model.backbone.weights]

    monkeypatch.setattr(resumable_fit, "fit_resumable", record)
    model = recipes.train_classifier(
        data, data, output, recipe, QUIET, pretrain=["an unlabelled text"]
    ).model
    assert isinstance(model, TransformerClassifier)
    assert len(started["weights"]) == len(pretrained.backbone.weights)
    for weight, original in zip(started["weights"], pretrained.backbone.weights):
        np.testing.assert_array_equal(weight, original.numpy())
