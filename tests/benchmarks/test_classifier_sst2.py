"""The SST-2 benchmark's flags reach `train classifier` (cheap: no model runs)."""

from benchmarks.classifier_sst2 import parse_args, train_argv


def _options(argv):
    """`train classifier` arguments of the benchmark run `argv`, as a dict."""
    words = train_argv(parse_args(argv), "train.tsv", "dev.tsv", "out")[2:]
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
    assert options["--ensemble"] == "3"
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
