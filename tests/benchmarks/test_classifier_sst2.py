"""The SST-2 benchmark's flags reach `train classifier`; early stopping selects on a
held-out part of the training file, never on dev.tsv (cheap: no model runs)."""

import random

import pytest

from benchmarks import classifier_sst2
from benchmarks.classifier_sst2 import parse_args, sentence_holdout, train_argv


def _options(argv):
    """`train classifier` arguments of the benchmark run `argv`, as a dict."""
    words = train_argv(parse_args(argv), "train.tsv", "holdout.tsv", "out")[2:]
    options, key = {}, None
    for word in words:
        if word.startswith("--"):
            key = word
            options[key] = []
        else:
            options[key].append(word)
    return {key: " ".join(values) for key, values in options.items()}


def test_defaults_are_the_recorded_configuration():
    options = _options([])
    assert options["--preset"] == "small" and options["--vocabulary-size"] == "16000"
    assert options["--conv-kernel-size"] == "5"
    assert options["--ensemble"] == "5"
    assert parse_args([]).holdout == 0.05
    for unset in ("--ema", "--weight-decay", "--dropout", "--token-dropout", "--pretrain-text"):
        assert unset not in options


def test_flags_reach_train_classifier():
    options = _options(
        ["--ema", "0.999", "--weight-decay", "0.05", "--conv-kernel-size", "3",
         "--ensemble", "3", "--token-dropout", "0.1", "--seed", "1"]
    )  # fmt: skip
    assert options["--ema"] == "0.999" and options["--weight-decay"] == "0.05"
    assert options["--conv-kernel-size"] == "3" and options["--ensemble"] == "3"
    assert options["--token-dropout"] == "0.1" and options["--seed"] == "1"


def test_the_old_default_is_one_classifier_without_convolution():
    options = _options(["--conv-kernel-size", "0", "--ensemble", "1"])
    assert options["--conv-kernel-size"] == "0" and options["--ensemble"] == "1"


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


def test_dev_is_only_used_for_the_reported_accuracy(tmp_path, monkeypatch, capsys):
    """The benchmark trains and selects on parts of train.tsv; dev.tsv reaches the
    evaluation of the exported model only."""
    texts = _treebank(100)
    train_file, dev_file = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    rows = [f"{text}\t{i % 2}\n" for i, text in enumerate(texts)]
    train_file.write_text("sentence\tlabel\n" + "".join(rows), encoding="utf-8")
    dev_file.write_text("sentence\tlabel\nan unseen dev sentence\t1\n", encoding="utf-8")
    files = {"sst2/train.tsv": train_file, "sst2/dev.tsv": dev_file}
    monkeypatch.setattr("transformer_keras.data.paths.shared_data_file", files.__getitem__)
    calls = []

    def fake_cli(argv):
        contents = {}
        for flag in ("--train", "--validation", "--data"):
            if flag in argv:
                path = argv[argv.index(flag) + 1]
                contents[flag] = (path, open(path, encoding="utf-8").read().splitlines())
        calls.append((argv, contents))
        if argv[0] == "evaluate":
            print("accuracy 0.5000 (1/2) on dev")
        return 0

    monkeypatch.setattr("transformer_keras.cli.main", fake_cli)
    assert classifier_sst2.main(["--holdout", "0.1", "--seed", "3"]) == 0
    (train_argv_, train_files), (evaluate_argv, evaluate_files) = calls
    assert train_argv_[:2] == ["train", "classifier"]
    assert evaluate_argv[:2] == ["evaluate", "classifier"]
    assert str(dev_file) not in train_argv_ and evaluate_files["--data"][0] == str(dev_file)
    fit_rows, holdout_rows = train_files["--train"][1], train_files["--validation"][1]
    expected_train, expected_holdout = sentence_holdout(texts, 0.1, seed=3)
    assert fit_rows == ["sentence\tlabel"] + [f"{texts[i]}\t{i % 2}" for i in expected_train]
    assert holdout_rows == ["sentence\tlabel"] + [
        f"{texts[i]}\t{i % 2}" for i in expected_holdout
    ]
    assert "| 0.5000 |" in capsys.readouterr().out
