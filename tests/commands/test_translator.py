"""Tests of the translator's command line (commands/translator.py) through `cli.main`."""

import io
import random
import re

import pytest

from transformer_keras import cli
from transformer_keras.commands import translator
from transformer_keras.models.seq2seq import Transformer

WORDS = ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu")


def _copy_corpus(count, seed):
    """A copy task: the target repeats the source's 3 to 6 words."""
    generator = random.Random(seed)
    sentences = [
        " ".join(generator.choice(WORDS) for _ in range(generator.randint(3, 6)))
        for _ in range(count)
    ]
    return sentences, list(sentences)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translator")
    sources, targets = _copy_corpus(1200, seed=0)
    pairs = folder / "train.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in zip(sources, targets)))
    test_sources, test_references = _copy_corpus(60, seed=1)
    (folder / "test.src").write_text("\n".join(test_sources) + "\n")
    (folder / "test.ref").write_text("\n".join(test_references) + "\n")
    output = folder / "copy"
    code = cli.main(
        [
            "train",
            "translator",
            "--train-pairs",
            str(pairs),
            "--output",
            str(output),
            "--preset",
            "tiny",
            "--tokenizer",
            "word",
            "--num-layers",
            "2",
            "--hidden-dim",
            "64",
            "--normalize-first",
            "--max-length",
            "8",
            "--epochs",
            "6",
            "--token-budget",
            "256",
            "--warmup-steps",
            "100",
            "--bleu-every",
            "6",
            "--beam-size",
            "2",
        ]  # fmt: skip
    )
    assert code == 0
    return folder, output


@pytest.mark.slow
@pytest.mark.tf_only
def test_train_then_evaluate_reaches_bleu_above_90(trained, capsys):
    folder, output = trained
    assert (output / "saved_model.pb").is_file()
    assert output.with_name("copy.keras").is_file()
    capsys.readouterr()
    code = cli.main(
        [
            "evaluate",
            "translator",
            str(output),
            "--source",
            str(folder / "test.src"),
            "--reference",
            str(folder / "test.ref"),
            "--beam-size",
            "4",
        ]  # fmt: skip
    )
    assert code == 0
    printed = capsys.readouterr().out
    bleu, chrf = map(float, re.search(r"BLEU ([\d.]+)\s+chrF ([\d.]+)", printed).groups())
    assert bleu > 90 and chrf > 90, printed


@pytest.mark.slow
@pytest.mark.tf_only
def test_translate_reads_stdin_lines(trained, capsys, monkeypatch):
    _, output = trained
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("tu so ri\nnu pe ka lo\n"))
    assert cli.main(["translate", str(output), "--beam-size", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["tu so ri", "nu pe ka lo"]


@pytest.mark.tf_only
@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "translator", "--output", "x"], "--train-source and --train-target"),
        (
            ["train", "translator", "--train-source", "a.de", "--output", "x"],
            "needs its target file",
        ),
        (["translate", "nowhere", "hi", "--beam-size", "0"], "beam_size=0"),
        (["translate", "nowhere", "hi", "--beam-size", "17"], "beam_size=17"),
        (["translate", "nowhere", "hi", "--max-length", "0"], "max_length=0"),
        (["translate", "nowhere", "hi"], "No SavedModel at 'nowhere'"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error


def test_preset_names_match_the_model():
    assert translator.PRESETS == tuple(Transformer.presets)


def test_help_lists_the_translator_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "translator", "--help"])
    assert "--train-pairs" in capsys.readouterr().out
