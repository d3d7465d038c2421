"""The one client of the exported SavedModels: strings in, Python values out.

    from transformer_keras.export.client import load_client

    classifier = load_client("saved_models/sentiment")      # a ClassifierClient
    classifier.classify(["a fine film"])                     # (labels, ids, probabilities)
    lm = load_client("saved_models/shakespeare")             # a LanguageModelClient
    lm.generate(["ROMEO:"], max_new_tokens=100, seed=1)
    translator = load_client("saved_models/de-en")           # a TranslatorClient
    translator.translate(["Ein Hund läuft."])

Each client wraps the signatures of one family's export (`export/classifier.py`,
`export/language_model.py`, `export/translator.py`) and feeds them in batches;
it needs TensorFlow (and tensorflow-text), not the model's Python code. The
command line's `classify`, `generate`, `translate` and `evaluate` commands,
the benchmarks and the tests read exports through it.
"""

import numpy as np

from transformer_keras.export.saved_model import load_saved_model


class ClassifierClient:
    """An exported classifier: `classify(texts)` and its `label_names`."""

    signatures = ("serving_default", "label_names")

    def __init__(self, loaded):
        self._serve = loaded.signatures["serving_default"]
        names = loaded.signatures["label_names"]()["label_names"].numpy()
        self.label_names = [name.decode("utf-8") for name in names]

    def classify(self, texts, batch_size=256):
        """Label names, label ids and probabilities of a list of strings.

        Returns:
            `(labels, label_ids, probabilities)`: a list of `B` names, a `(B,)`
            int64 array and a `(B, C)` float32 array.
        """
        import tensorflow as tf

        texts = list(texts)
        labels, ids, probabilities = [], [], []
        for start in range(0, len(texts), batch_size):
            outputs = self._serve(
                text=tf.constant(texts[start : start + batch_size], tf.string)
            )
            labels += [label.decode("utf-8") for label in outputs["label"].numpy()]
            ids.append(outputs["label_id"].numpy())
            probabilities.append(outputs["probabilities"].numpy())
        if not texts:
            return [], np.zeros((0,), "int64"), np.zeros((0, len(self.label_names)), "float32")
        return labels, np.concatenate(ids), np.concatenate(probabilities)

    def accuracy(self, texts, label_ids, batch_size=256):
        """The fraction of `texts` whose predicted label id is in `label_ids`."""
        _, predicted, _ = self.classify(texts, batch_size)
        return float(np.mean(predicted == np.asarray(label_ids))) if len(texts) else 0.0


class LanguageModelClient:
    """An exported language model: `generate(prompts, ...)` and `score(texts)`."""

    signatures = ("generate", "score")

    def __init__(self, loaded):
        self._generate = loaded.signatures["generate"]
        self._score = loaded.signatures["score"]

    def generate(
        self, prompts, max_new_tokens=200, temperature=0.8, top_k=40, top_p=0.95, seed=0
    ):
        """The continuation of each prompt (without the prompt), a list of strings."""
        import tensorflow as tf

        outputs = self._generate(
            prompt=tf.constant(list(prompts), tf.string),
            max_new_tokens=tf.constant(max_new_tokens, tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            top_k=tf.constant(top_k, tf.int32),
            top_p=tf.constant(top_p, tf.float32),
            seed=tf.constant(seed, tf.int32),
        )
        return [text.decode("utf-8") for text in outputs["text"].numpy()]

    def score(self, texts):
        """Mean negative log-likelihood per token of each text, a list of floats."""
        import tensorflow as tf

        outputs = self._score(text=tf.constant(list(texts), tf.string))
        return [float(value) for value in outputs["nll"].numpy()]


class TranslatorClient:
    """An exported translator: `translate(texts, ...)`."""

    signatures = ("translate",)

    def __init__(self, loaded):
        self._translate = loaded.signatures["translate"]

    def translate(self, texts, beam_size=4, max_length=128, batch_size=64):
        """The translation of each string, a list of strings."""
        import tensorflow as tf

        texts, results = list(texts), []
        for start in range(0, len(texts), batch_size):
            outputs = self._translate(
                text=tf.constant(texts[start : start + batch_size], tf.string),
                beam_size=tf.constant(beam_size, tf.int32),
                max_length=tf.constant(max_length, tf.int32),
            )
            translations = outputs["translation"].numpy()
            results += [text.decode("utf-8", errors="replace") for text in translations]
        return results


CLIENTS = {
    "classifier": ClassifierClient,
    "language model": LanguageModelClient,
    "translator": TranslatorClient,
}


def load_client(path, kind=None):
    """The client of the export at `path`, found from its signatures.

    Args:
        path: a SavedModel folder written by `export_classifier`,
            `export_language_model` or `export_translator`.
        kind: `"classifier"`, `"language model"` or `"translator"` to insist
            on one (a clear error for another model); `None` accepts any.

    Returns:
        A `ClassifierClient`, `LanguageModelClient` or `TranslatorClient`.

    Raises:
        FileNotFoundError, ValueError: no model, a broken one, or one of
            another kind (the message names its signatures).
    """
    loaded = load_saved_model(path)
    available = set(loaded.signatures)
    kinds = [kind] if kind is not None else list(CLIENTS)
    for name in kinds:
        if name not in CLIENTS:
            raise ValueError(f"`kind` must be one of {list(CLIENTS)}. Received: kind={kind!r}")
        if set(CLIENTS[name].signatures) <= available:
            return CLIENTS[name](loaded)
    wanted = f"a {kind} export" if kind else "an export of this package"
    raise ValueError(f"'{path}' is not {wanted}. Received: signatures={sorted(available)}")
