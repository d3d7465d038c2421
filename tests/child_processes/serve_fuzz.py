"""Sends generated untrusted input to exported signatures, as a server would receive it.

    python serve_fuzz.py '{"classifier": PATH, "language_model": PATH,
                           "translator": PATH, "inputs": 1000, "seed": 0}'

Like a deployment, this process imports only TensorFlow and tensorflow-text,
never transformer_keras. For each signature it sends at least `inputs` texts
(random bytes, huge strings, empty batches, unusual Unicode, control
characters, whitespace) in batches of 0 to 16, with valid and, now and then,
invalid numeric settings, and checks every answer: well-formed outputs (shapes,
valid UTF-8, label names, probabilities), nothing NaN, or else an
`InvalidArgumentError` that names the bad setting. Prints one JSON line:

    {SIGNATURE: {"calls": n, "texts": n, "rejected": n, "max_seconds": s,
                 "seconds": s, "problems": [first problems found]}, ...}
"""

import json
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops of exported tokenizers)

UNUSUAL = [
    "\u0000",  # NUL
    "\u200b\u200d\u2060",  # zero-width space, joiner, word joiner
    "\u202e\u05e9\u05dc\u05d5\u05dd",  # right-to-left override, Hebrew
    "e\u0301\u0327\u0308",  # stacked combining marks
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # emoji family (ZWJ sequence)
    "\ufeff\ufffe\uffff",  # byte-order mark and noncharacters
    "\ue000\U000f0000",  # private use
    "\u4e16\u754c\u3053\u3093\u306b\u3061\u306f",  # CJK
    "\U0001d54f\U0001d552\U0001d55d",  # mathematical letters (4-byte UTF-8)
    "\u00e9\u00df\u0130\u0131",  # Latin with case-mapping quirks
]
CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029"


def random_text(rng):
    """One untrusted text as UTF-8 (or not) bytes."""
    kind = rng.integers(8)
    if kind == 0:  # Random bytes: mostly invalid UTF-8.
        return rng.integers(0, 256, size=rng.integers(0, 80)).astype(np.uint8).tobytes()
    if kind == 1 and rng.random() < 0.1:  # Huge: 16 KB to 128 KB.
        return b"the plot \xe4\xb8\x96 " * int(rng.integers(1250, 10000))
    if kind == 2:
        return "".join(rng.choice(UNUSUAL, size=rng.integers(1, 6))).encode("utf-8")
    if kind == 3:
        return "".join(rng.choice(list(CONTROL), size=rng.integers(1, 20))).encode("utf-8")
    if kind == 4:
        return rng.choice([b"", b" ", b"\t\n ", b"\r\n\r\n"])
    if kind == 5:  # A truncated multi-byte character at the end.
        return "good film \u00e9\u4e16".encode()[: -int(rng.integers(1, 3))]
    words = ["good", "bad", "film", "abc", "cab", "hello", "world", "not"]
    return " ".join(rng.choice(words, size=rng.integers(1, 12))).encode("utf-8")


def random_batch(rng):
    size = 0 if rng.random() < 0.05 else int(rng.integers(1, 17))  # Empty batches too.
    return [random_text(rng) for _ in range(size)]


def valid_utf8(values):
    try:
        for value in values:
            value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_classifier(outputs, size, label_names):
    probabilities = outputs["probabilities"].numpy()
    labels = outputs["label"].numpy()
    problems = []
    if probabilities.shape != (size, len(label_names)) or labels.shape != (size,):
        problems.append(f"shapes {probabilities.shape}, {labels.shape} for batch {size}")
    elif not np.all(np.isfinite(probabilities)):
        problems.append("non-finite probabilities")
    elif size and not np.allclose(probabilities.sum(-1), 1.0, atol=1e-4):
        problems.append("probabilities do not sum to 1")
    elif not set(labels) <= set(label_names):
        problems.append(f"unknown labels {set(labels) - set(label_names)}")
    return problems


def check_texts(values, size):
    if values.shape != (size,):
        return [f"shape {values.shape} for batch {size}"]
    return [] if valid_utf8(values) else ["invalid UTF-8 in the output"]


def check_scores(values, size):
    if values.shape != (size,):
        return [f"shape {values.shape} for batch {size}"]
    return [] if np.all(np.isfinite(values)) and np.all(values >= 0) else ["bad scores"]


def generate_settings(rng):
    """LM sampling settings, one invalid about one call in ten (its name returned)."""
    settings = {
        "max_new_tokens": int(rng.integers(1, 6)),
        "temperature": float(rng.choice([0.0, 0.5, 1.0, 2.0])),
        "top_k": int(rng.choice([0, 1, 5])),
        "top_p": float(rng.choice([1.0, 0.9, 0.1])),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }
    invalid = {
        "max_new_tokens": [0, -3, 5000],
        "temperature": [-1.0, np.nan, np.inf],
        "top_k": [-1],
        "top_p": [0.0, 1.5, np.nan],
    }
    return _maybe_invalid(rng, settings, invalid)


def translate_settings(rng):
    """Beam search settings, one invalid about one call in ten (its name returned)."""
    settings = {"beam_size": int(rng.integers(1, 4)), "max_length": int(rng.integers(1, 20))}
    return _maybe_invalid(rng, settings, {"beam_size": [0, -1, 17], "max_length": [0, -2]})


def _maybe_invalid(rng, settings, invalid):
    if rng.random() >= 0.1:
        return settings, None
    bad = str(rng.choice(sorted(invalid)))
    settings[bad] = type(settings[bad])(rng.choice(invalid[bad]))
    return settings, bad


def fuzz(name, signature, make_call, inputs, rng):
    """Calls `signature` until `inputs` texts were sent; returns the statistics."""
    stats = {"calls": 0, "texts": 0, "rejected": 0, "max_seconds": 0.0, "seconds": 0.0}
    stats["problems"] = []
    specs = signature.structured_input_signature[1]
    while stats["texts"] < inputs:
        texts = random_batch(rng)
        arguments, bad, check = make_call(texts, rng)
        arguments = {
            key: tf.constant(value, specs[key].dtype) for key, value in arguments.items()
        }
        started = time.monotonic()
        try:
            outputs = signature(**arguments)
            problems = check(outputs, len(texts))
            if bad is not None:
                problems.append(f"accepted an invalid {bad}")
        except tf.errors.InvalidArgumentError as error:
            stats["rejected"] += 1
            problems = [] if bad and bad in error.message else [f"error: {error.message[:300]}"]
        except Exception as error:  # Anything else is a problem too.
            problems = [f"{type(error).__name__}: {str(error)[:300]}"]
        seconds = time.monotonic() - started
        stats["max_seconds"] = max(stats["max_seconds"], seconds)
        stats["seconds"] += seconds
        stats["calls"] += 1
        stats["texts"] += len(texts)
        for problem in problems:
            if len(stats["problems"]) < 10:
                preview = [text[:40] for text in texts]
                stats["problems"].append(f"{name}: {problem} (texts {preview!r})")
    return stats


def main(request):
    rng = np.random.default_rng(request["seed"])
    inputs = request["inputs"]
    report = {}

    classifier = tf.saved_model.load(request["classifier"])
    label_names = list(classifier.signatures["label_names"]()["label_names"].numpy())
    report["classifier/serving_default"] = fuzz(
        "classifier",
        classifier.signatures["serving_default"],
        lambda texts, rng: (
            {"text": texts},
            None,
            lambda outputs, size: check_classifier(outputs, size, label_names),
        ),
        inputs,
        rng,
    )

    language_model = tf.saved_model.load(request["language_model"])

    def generate_call(texts, rng):
        settings, bad = generate_settings(rng)
        return (
            {"prompt": texts, **settings},
            bad,
            lambda outputs, size: check_texts(outputs["text"].numpy(), size),
        )

    report["language_model/generate"] = fuzz(
        "generate", language_model.signatures["generate"], generate_call, inputs, rng
    )
    report["language_model/score"] = fuzz(
        "score",
        language_model.signatures["score"],
        lambda texts, rng: (
            {"text": texts},
            None,
            lambda outputs, size: check_scores(outputs["nll"].numpy(), size),
        ),
        inputs,
        rng,
    )

    translator = tf.saved_model.load(request["translator"])

    def translate_call(texts, rng):
        settings, bad = translate_settings(rng)
        return (
            {"text": texts, **settings},
            bad,
            lambda outputs, size: check_texts(outputs["translation"].numpy(), size),
        )

    report["translator/translate"] = fuzz(
        "translate", translator.signatures["translate"], translate_call, inputs, rng
    )
    leaked = sorted(name for name in sys.modules if name.startswith("transformer_keras"))
    report["imported_transformer_keras"] = leaked
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
