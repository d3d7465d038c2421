"""The classifier's serving signature: text in, label name out.

`serving_default(text: tf.string [None])` returns
`label: tf.string [None]` (the label names), `label_id: tf.int64 [None]` and
`probabilities: tf.float32 [None, C]`; a second signature, `label_names()`,
takes no input and returns `label_names: tf.string [C]` (for evaluation
tools). The tokenizer and the label names are inside the graph, so a client
needs only TensorFlow (and `import tensorflow_text` first when the tokenizer
is a `SubwordTokenizer`).

Behaviour on bad input, in the graph: empty or whitespace-only texts have no
tokens and get the prediction of an empty text (finite probabilities);
invalid UTF-8 bytes are replaced by U+FFFD; texts longer than the model's
`max_sequence_length` tokens are truncated; an empty batch returns empty
outputs of the right shapes `(0,)` and `(0, C)`.

Legend: B batch, T length, C classes.
"""

import tensorflow as tf

from transformer_keras.export.saved_model import export_saved_model


def classifier_endpoints(model):
    """The `serving_default` and `label_names` signatures of a classifier.

    Args:
        model: a built `TransformerClassifier` that has a `tokenizer`.

    Returns:
        The endpoints for `export_saved_model`.
    """
    if model.tokenizer is None:
        raise ValueError(
            "Only a classifier with a tokenizer can be exported with a text signature. "
            "Received: tokenizer=None"
        )
    label_names = tf.constant(model.label_names, tf.string)  # (C,)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(text):
        token_ids = model.preprocess(text)  # (B, T)
        logits = model(token_ids, training=False)  # (B, C)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)  # (B, C)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)  # (B,)
        return {
            "label": tf.gather(label_names, label_id),  # (B,)
            "label_id": label_id,
            "probabilities": probabilities,
        }

    @tf.function(input_signature=[])
    def names():
        return {"label_names": label_names}

    return {"serving_default": serve, "label_names": names}


def export_classifier(model, path, keras_file=True):
    """Writes `model` as a text-in, label-out SavedModel at `path`, atomically.

    The `.keras` file (model, tokenizer and label names) goes beside it, at
    `path + ".keras"`.

    Args:
        model: a built `TransformerClassifier` with a tokenizer.
        path: the SavedModel folder, e.g. `saved_models/sst2`.
        keras_file: also write the `.keras` file.

    Returns:
        The `pathlib.Path` of the SavedModel folder.

    Example:
    >>> import tempfile
    >>> from transformer_keras.models.classifier import TransformerClassifier
    >>> from transformer_keras.text import ByteTokenizer
    >>> model = TransformerClassifier.from_preset(
    ...     "tiny", num_classes=2, tokenizer=ByteTokenizer(), label_names=["no", "yes"])
    >>> path = export_classifier(model, tempfile.mkdtemp() + "/demo")
    >>> served = tf.saved_model.load(str(path)).signatures["serving_default"]
    >>> served(text=tf.constant(["hello"]))["probabilities"].shape
    TensorShape([1, 2])
    """
    if not model.built:
        model.preprocess(["built"])  # validates the tokenizer
        model.build((None, model.max_sequence_length))
    return export_saved_model(
        path,
        model,
        classifier_endpoints(model),
        track=(model.tokenizer,),
        keras_file=keras_file,
    )
