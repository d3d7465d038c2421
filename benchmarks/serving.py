"""Serving latency of the exported classifier SavedModel, in a fresh process.

    python -m benchmarks.serving [--quick] [--scale N]

Builds the "small" `TransformerClassifier` (2 layers, width 128, 128 tokens)
with a word tokenizer learned from SST-2's training sentences (random model
weights: latency does not depend on them), exports it with
`export_classifier`, then starts a new Python process that imports only
TensorFlow (and tensorflow_text when installed), loads the folder with
`tf.saved_model.load` and sends requests of SST-2 dev sentences to
`serving_default`: p50 and p99 wall time per request at batch 1 and 32.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import runner
from benchmarks.report import Row

BATCHES = (1, 32)


def _sentences(name):
    from transformer_keras.data.paths import shared_data_file

    with open(shared_data_file(f"sst2/{name}.tsv"), newline="") as file:
        reader = csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)  # header: sentence, label
        return [row[0] for row in reader]


def export_small_classifier(path, quick):
    """Exports the classifier to `path`; returns the SST-2 dev sentences."""
    from transformer_keras.export.classifier import export_classifier
    from transformer_keras.models.classifier import TransformerClassifier
    from transformer_keras.text import train_tokenizer

    train = _sentences("train")
    tokenizer = train_tokenizer("word", train[:2000] if quick else train)
    preset = "tiny" if quick else "small"
    model = TransformerClassifier.from_preset(
        preset, num_classes=2, tokenizer=tokenizer, label_names=["negative", "positive"]
    )
    export_classifier(model, path, keras_file=False)
    return _sentences("dev")


def serve_in_fresh_process(path, sentences, requests, batches):
    """Runs `client` in a new interpreter; returns its `{batch: (p50, p99)}`."""
    command = [sys.executable, "-m", "benchmarks.serving", "--client", str(path)]
    command += ["--requests", str(requests), "--batches", ",".join(map(str, batches))]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    finished = subprocess.run(
        command,
        input="\n".join(sentences),
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"The serving client failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def client(path, requests, batches):
    """The fresh process: load, warm up, then time `requests` calls per batch size.

    Reads the sentences from standard input, prints one JSON line.
    """
    import numpy as np
    import tensorflow as tf

    try:
        import tensorflow_text  # noqa: F401  (registers its ops, if the model uses them)
    except ImportError:
        pass
    sentences = sys.stdin.read().splitlines()
    serve = tf.saved_model.load(path).signatures["serving_default"]
    results = {"imports_transformer_keras": "transformer_keras" in sys.modules}
    for batch in batches:
        requests_texts = [
            tf.constant([sentences[(i * batch + j) % len(sentences)] for j in range(batch)])
            for i in range(requests)
        ]
        for texts in requests_texts[:5]:
            serve(text=texts)["probabilities"].numpy()
        seconds = []
        for texts in requests_texts:
            start = time.perf_counter()
            serve(text=texts)["probabilities"].numpy()
            seconds.append(time.perf_counter() - start)
        milliseconds = np.asarray(seconds) * 1000
        results[str(batch)] = [float(np.percentile(milliseconds, q)) for q in (50, 99)]
    print(json.dumps(results))


def run(settings):
    batches = [settings.batch(batch) for batch in BATCHES]
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/classifier"
        sentences = export_small_classifier(path, settings.quick)
        results = serve_in_fresh_process(path, sentences, settings.pick(300, 20), batches)
    if results["imports_transformer_keras"]:
        raise RuntimeError("The serving process imported transformer_keras.")
    return [
        Row(
            "serve",
            f"classifier small b{batch}",
            "transformer_keras",
            figures={"p50_ms": results[str(batch)][0], "p99_ms": results[str(batch)][1]},
            notes="tf.saved_model.load in a fresh process; SST-2 dev sentences",
        )
        for batch in batches
    ]


if __name__ == "__main__":
    if "--client" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--client", required=True)
        parser.add_argument("--requests", type=int, required=True)
        parser.add_argument("--batches", required=True)
        arguments = parser.parse_args()
        client(
            arguments.client, arguments.requests, [int(b) for b in arguments.batches.split(",")]
        )
    else:
        runner.main(run, description=__doc__.split("\n\n")[0])
