"""The SST-2 benchmark trains the classifier recipe with the flags it is given;
early stopping selects on a held-out part of the training file, never on dev.tsv
(cheap: no model runs)."""

import dataclasses
import random

import pytest

from benchmarks import classifier_sst2
from benchmarks.classifier_sst2 import parse_args, recipe_of, sentence_holdout
from transformer_keras.recipes import ClassifierRecipe


def test_defaults_are_the_recipe_behind_the_command_line():
    assert recipe_of(parse_args([])) == ClassifierRecipe()
    args = parse_args([])
    assert args.holdout == 0.05 and args.pretrain_text is None and args.seed == 0


def test_flags_reach_the_recipe():
    recipe = recipe_of(
        parse_args(
            [
                "--ema",
                "0.999",
                "--weight-decay",
                "0.05",
                "--conv-kernel-size",
                "3",
                "--ensemble",
                "3",
                "--token-dropout",
                "0.1",
                "--pretrain-epochs",
                "2",
            ]
        )  # fmt: skip
    )
    assert recipe == dataclasses.replace(
        ClassifierRecipe(),
        ema_momentum=0.999,
        weight_decay=0.05,
        conv_kernel_size=3,
        ensemble=3,
        token_dropout=0.1,
        pretrain=dataclasses.replace(ClassifierRecipe().pretrain, epochs=2),
    )


def test_pretraining_epochs_alone_pretrain_on_the_training_sentences():
    assert parse_args(["--pretrain-epochs", "1"]).pretrain_text == []
    assert parse_args(["--pretrain-text", "a.txt"]).pretrain_text == ["a.txt"]


def test_one_classifier_without_convolution():
    recipe = recipe_of(parse_args(["--conv-kernel-size", "0", "--ensemble", "1"]))
    assert recipe.conv_kernel_size == 0 and recipe.ensemble == 1


# ----------------------------------------------------- the held-out sentences
def _treebank(num_sentences, seed=0):
    """SST-2-like rows: sentences of distinct words plus their sub-phrases (runs of
    whole tokens), shuffled; a few phrases ("the film") occur in many sentences."""
    rng = random.Random(seed)
    rows = []
    for index in range(num_sentences):
        words = [f"w{index}x{k}" for k in range(rng.randint(4, 9))]
        if index % 3 == 0:
            words[1:1] = ["the", "film"]
        rows.append(" ".join(words) + " ")  # GLUE rows end with a space
        for _ in range(4):
            start = rng.randrange(len(words) - 1)
            rows.append(" ".join(words[start : rng.randint(start + 1, len(words) - 1)]))
    rows.append("the film")
    rng.shuffle(rows)
    return rows


def _inside(phrase, sentence):
    return f" {' '.join(phrase.split())} " in f" {' '.join(sentence.split())} "


def test_holdout_is_whole_sentences_disjoint_from_training():
    texts = _treebank(200)
    train, holdout = sentence_holdout(texts, 0.1, seed=0)
    assert train == sorted(train) and holdout == sorted(holdout)
    assert not set(train) & set(holdout)
    held = [texts[i] for i in holdout]
    sentences = [t for t in texts if not any(_inside(t, o) and t != o for o in texts)]
    assert len(sentences) == 200 and len(held) == 20
    assert all(text in sentences for text in held)  # sentences only, as dev.tsv
    train_sentences = [texts[i] for i in train if texts[i] in sentences]
    assert len(train_sentences) == 180
    for i in train:  # within a training sentence, around no held-out one
        assert any(_inside(texts[i], sentence) for sentence in train_sentences)
        assert not any(_inside(text, texts[i]) for text in held)
    dropped = set(range(len(texts))) - set(train) - set(holdout)
    assert dropped  # the sub-phrases of the held-out sentences only
    assert all(any(_inside(texts[i], text) for text in held) for i in dropped)
    assert texts.index("the film") in train  # also inside training sentences


def test_holdout_is_reproducible_and_drawn_with_the_seed():
    texts = _treebank(200)
    first = sentence_holdout(texts, 0.1, seed=0)
    assert sentence_holdout(list(texts), 0.1, seed=0) == first
    assert sentence_holdout(texts, 0.1, seed=1)[1] != first[1]
    assert len(sentence_holdout(texts, 0.05, seed=0)[1]) == 10


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.001])
def test_holdout_fraction_must_leave_both_parts(fraction):
    with pytest.raises(ValueError, match="holdout"):
        sentence_holdout(_treebank(20), fraction)


@pytest.mark.slow
@pytest.mark.tf_only
def test_dev_is_only_used_for_the_reported_accuracy(tmp_path, monkeypatch, capsys):
    """The benchmark trains and selects on parts of train.tsv; dev.tsv reaches the
    evaluation of the exported model only (a tiny real run)."""
    from transformer_keras import recipes

    texts = _treebank(100)
    train_file, dev_file = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    rows = [f"{text}\t{i % 2}\n" for i, text in enumerate(texts)]
    train_file.write_text("sentence\tlabel\n" + "".join(rows), encoding="utf-8")
    dev_file.write_text("sentence\tlabel\nan unseen dev sentence\t1\n", encoding="utf-8")
    files = {"sst2/train.tsv": train_file, "sst2/dev.tsv": dev_file}
    monkeypatch.setattr("transformer_keras.data.paths.shared_data_file", files.__getitem__)
    seen = []
    train_classifier = recipes.train_classifier

    def recording_train_classifier(train, validation, output, recipe, options, pretrain):
        seen.append((train.texts_and_labels(), validation.texts_and_labels(), recipe))
        return train_classifier(train, validation, output, recipe, options, pretrain)

    monkeypatch.setattr(recipes, "train_classifier", recording_train_classifier)
    argv = ["--holdout", "0.1", "--seed", "3", "--preset", "tiny", "--epochs", "1"]
    argv += ["--ensemble", "1", "--vocabulary-size", "300", "--output", str(tmp_path / "m")]
    assert classifier_sst2.main(argv) == 0
    [((fit_texts, fit_labels), (holdout_texts, holdout_labels), recipe)] = seen
    expected_train, expected_holdout = sentence_holdout(texts, 0.1, seed=3)
    assert fit_texts == [texts[i] for i in expected_train]
    assert list(fit_labels) == [i % 2 for i in expected_train]
    assert holdout_texts == [texts[i] for i in expected_holdout]
    assert list(holdout_labels) == [i % 2 for i in expected_holdout]
    assert "an unseen dev sentence" not in fit_texts + holdout_texts
    assert recipe.preset == "tiny" and recipe.ensemble == 1
    printed = capsys.readouterr().out
    accuracy = float(printed.split("dev accuracy ")[1].split()[0])
    assert accuracy in (0.0, 1.0)  # One dev sentence, scored by the exported model.
    assert f"| {accuracy:.4f} |" in printed
