"""`train lm`, `generate`, `evaluate lm` and the demo step, end to end on a tiny corpus."""

import io
import math
import re

import keras
import numpy as np
import pytest

from transformer_keras import cli
from transformer_keras.commands import language_model as commands
from transformer_keras.export import keras_file_path
from transformer_keras.recipes.demo import language_model_demo
from transformer_keras.recipes.language_model import LanguageModelRecipe

pytestmark = pytest.mark.tf_only

FAST = ["--preset", "tiny", "--context", "32", "--batch-size", "8", "--no-xla"]
FAST_ROTARY = [*FAST, "--position", "rotary"]
ANIMALS = ("cat", "dog", "fox", "owl", "hen")
PLACES = ("mat", "log", "box", "hill", "barn")


def tiny_corpus(lines=200, offset=0):
    """Generated sentences: 'the cat sat on the mat.' and variations."""
    return "".join(
        f"the {ANIMALS[(i + offset) % 5]} sat on the {PLACES[(i * 3 + offset) % 5]}.\n"
        for i in range(lines)
    )


def _run(argv, capsys):
    code = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_cli")
    (folder / "train.txt").write_text(tiny_corpus(300), encoding="utf-8")
    (folder / "valid.txt").write_text(tiny_corpus(40, offset=2), encoding="utf-8")
    output = folder / "saved_models" / "animals"
    code = cli.main(
        ["train", "lm", "--train", str(folder / "train.txt"),
         "--validation", str(folder / "valid.txt"), "--max-steps", "30",
         "--sample-prompt", "the ", "--output", str(output), *FAST_ROTARY]
    )  # fmt: skip
    assert code == 0
    return folder, output


def test_train_exports_saved_model_and_keras_file(trained):
    folder, output = trained
    assert (output / "saved_model.pb").is_file()
    model = keras.saving.load_model(keras_file_path(output))
    assert model.max_sequence_length == 32 and model.backbone.num_layers == 2
    assert model.backbone.position == "rotary"
    assert type(model.tokenizer).__name__ == "CharTokenizer"
    assert (folder / "saved_models" / "animals.training" / "logs").is_dir()


@pytest.mark.slow
def test_a_bfloat16_export_without_xla_holds_bfloat16_weights_and_generates(tmp_path, capsys):
    (tmp_path / "train.txt").write_text(tiny_corpus(100), encoding="utf-8")
    output = tmp_path / "animals-bf16"
    code, out, _ = _run(
        ["train", "lm", "--train", tmp_path / "train.txt", "--max-steps", "5",
         "--export-dtype", "bfloat16", "--export-without-xla", "--output", output, *FAST],
        capsys,
    )  # fmt: skip
    assert code == 0, out
    model = keras.saving.load_model(keras_file_path(output))
    assert {weight.dtype for weight in model.weights} == {"bfloat16"}
    assert b"_XlaMustCompile" not in (output / "saved_model.pb").read_bytes()
    code, out, _ = _run(["generate", output, "the ", "--max-new-tokens", "8"], capsys)
    assert code == 0 and out.strip()


def test_generate_prints_each_prompt_and_its_continuation(trained, capsys):
    _, output = trained
    argv = ["generate", output, "the cat", "", "--max-new-tokens", "12", "--seed", "3"]
    code, out, _ = _run(argv, capsys)
    first, second = out.split("-" * 40 + "\n")
    assert code == 0 and first.startswith("the cat")
    assert len("the cat") < len(first) <= len("the cat") + 12 + 1  # stops at 12 or at [END]
    code, again, _ = _run(argv, capsys)
    assert again == out  # the same seed, the same text


def test_generate_reads_prompts_from_stdin(trained, capsys, monkeypatch):
    _, output = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("the dog\nthe owl\n"))
    code, out, _ = _run(
        ["generate", output, "--temperature", "0", "--max-new-tokens", "5"], capsys
    )
    assert code == 0
    assert out.startswith("the dog") and "\n" + "-" * 40 + "\nthe owl" in out


def test_evaluate_prints_loss_and_perplexity(trained, capsys):
    folder, output = trained
    code, out, _ = _run(["evaluate", "lm", output, "--data", folder / "valid.txt"], capsys)
    assert code == 0
    loss, perplexity, tokens = re.match(
        r"loss (\S+) perplexity (\S+) \((\d+) tokens\)", out
    ).groups()
    assert float(perplexity) == pytest.approx(math.exp(float(loss)), rel=1e-3)
    valid_text = (folder / "valid.txt").read_text()
    assert int(tokens) == len(valid_text) + 1  # [start] text [end]: every token after the first
    assert float(loss) == pytest.approx(_mean_next_token_loss(output, valid_text), abs=2e-4)


def _mean_next_token_loss(output, text):
    """Cross-entropy (nats) of the exported `.keras` model on `[start] text [end]`, in
    float64: windows of the model's context, each predicting the ids after its own."""
    model = keras.saving.load_model(keras_file_path(output))
    tokenizer = model.tokenizer
    ids = np.concatenate(
        [[tokenizer.start_id], np.asarray(tokenizer.tokenize(text)), [tokenizer.end_id]]
    ).astype("int32")
    context = model.max_sequence_length
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, context):
        window = ids[start : start + context + 1]  # (T + 1,)
        logits = np.asarray(model(window[None, :-1]), "float64")[0]  # (T, V)
        logits -= logits.max(-1, keepdims=True)
        log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total -= log_probabilities[np.arange(len(window) - 1), window[1:]].sum()
        count += len(window) - 1
    return total / count


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "lm", "--train", "{tmp}/absent.txt", "--output", "{tmp}/m"], "No text file"),
        (["train", "lm", "--train", "{tmp}/short.txt", "--output", "{tmp}/m", *FAST],
         "needs more than the context"),
        (["train", "lm", "--train", "{tmp}/short.txt", "--max-steps", "0",
          "--output", "{tmp}/m"], "max_steps=0"),
        (["generate", "{tmp}/absent_model", "hi"], "No SavedModel"),
        (["generate", "{model}", "hi", "--max-new-tokens", "0"], "max_new_tokens=0"),
        (["generate", "{model}", "hi", "--temperature", "-1"], "temperature=-1"),
        (["generate", "{model}", "hi", "--top-p", "1.5"], "top_p=1.5"),
        (["generate", "{model}", "hi", "--top-k", "-2"], "top_k=-2"),
        (["evaluate", "lm", "{tmp}/absent_model", "--data", "{tmp}/short.txt"],
         "No SavedModel"),
        (["evaluate", "lm", "{model}", "--data", "{tmp}/absent.txt"], "No text file"),
    ],
)  # fmt: skip
def test_user_errors_exit_2_with_one_line(trained, tmp_path, capsys, argv, message):
    (tmp_path / "short.txt").write_text("too short\n")
    _, output = trained
    argv = [arg.format(tmp=tmp_path, model=output) for arg in argv]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_a_classifier_folder_is_not_a_language_model(tmp_path, capsys):
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x}, input_signature=[tf.TensorSpec([None])])
    tf.saved_model.save(
        module, str(tmp_path / "other"), signatures={"serving_default": module.f}
    )
    code, _, err = _run(["generate", tmp_path / "other", "hi"], capsys)
    assert code == 2 and "not a language model" in err


def test_the_budget_turns_steps_into_equal_epochs():
    def budget(num_ids, context, batch_size, **steps_or_epochs):
        recipe = LanguageModelRecipe(batch_size=batch_size, **steps_or_epochs)
        return recipe.budget(num_ids, context)

    assert budget(10_000, 64, 12, max_steps=2000) == (250, 8, True)
    assert budget(10_000, 64, 12, max_steps=30) == (30, 1, True)
    assert budget(10_000, 64, 12, max_steps=1001) == (201, 5, True)
    assert budget(6401, 64, 12, epochs=3, max_steps=None) == (9, 3, False)  # 100 windows


def test_parser_lists_what_the_model_offers():
    from transformer_keras.models.language_model import TransformerLM

    assert sorted(commands.PRESETS) == TransformerLM.preset_names()


def test_demo_with_a_data_file_in_fast_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRANSFORMER_KERAS_FAST", "1")
    data = tmp_path / "story.txt"
    data.write_text(tiny_corpus(150), encoding="utf-8")
    code = language_model_demo(str(tmp_path), str(data))
    out = capsys.readouterr().out
    assert code is None
    assert (tmp_path / "lm-demo" / "saved_model.pb").is_file()
    assert "reloaded" in out and "'the cat sat on the " in out


def test_evaluate_in_a_new_process_finds_the_tokenizer_class(trained):
    import subprocess
    import sys

    folder, output = trained
    completed = subprocess.run(
        [sys.executable, "-m", "transformer_keras.cli", "evaluate", "lm", str(output),
         "--data", str(folder / "valid.txt")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.startswith("loss ")
