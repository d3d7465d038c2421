"""Tests of the translator's command line (commands/translator.py) through `cli.main`."""

import io
import random
import re

import pytest
import sacrebleu

from transformer_keras import cli
from transformer_keras.commands import translator
from transformer_keras.export.client import load_client
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
    """A copy-task translator trained for 2 epochs (validation BLEU at the last one).

    The tests check what the commands do with it, never how well it translates:
    that depends on the seed and the machine (`python -m benchmarks.tiny_tasks`
    measures it).
    """
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
            "2",
            "--token-budget",
            "256",
            "--warmup-steps",
            "100",
            "--bleu-every",
            "2",
            "--beam-size",
            "2",
        ]  # fmt: skip
    )
    assert code == 0
    return folder, output


@pytest.fixture(scope="module")
def served(trained):
    """The exported `translate` signature, loaded once: `served(texts, beam_size)`."""
    client = load_client(str(trained[1]), "translator")
    return lambda texts, beam_size: client.translate(texts, beam_size)


@pytest.mark.slow
@pytest.mark.tf_only
def test_train_exports_then_evaluate_prints_sacrebleu_of_the_served_translations(
    trained, served, capsys
):
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
    assert "(60 sentences, beam size 4," in printed
    sources = (folder / "test.src").read_text().splitlines()
    references = (folder / "test.ref").read_text().splitlines()
    hypotheses = served(sources, beam_size=4)
    expected_bleu = sacrebleu.corpus_bleu(hypotheses, [references]).score
    expected_chrf = sacrebleu.corpus_chrf(hypotheses, [references]).score
    assert (bleu, chrf) == pytest.approx((expected_bleu, expected_chrf), abs=0.006), printed
    assert 0 <= bleu <= 100 and 0 <= chrf <= 100, printed


@pytest.mark.slow
@pytest.mark.tf_only
def test_translate_reads_stdin_lines(trained, served, capsys, monkeypatch):
    _, output = trained
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("tu so ri\nnu pe ka lo\n"))
    assert cli.main(["translate", str(output), "--beam-size", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == served(["tu so ri", "nu pe ka lo"], beam_size=1)


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
