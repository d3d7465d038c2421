"""The translator's serving signature: source text in, translation out.

`translate(text: tf.string [None], beam_size: tf.int32 [], max_length: tf.int32 [])`
returns `translation: tf.string [None]`; `serving_default` is the same
function. Tokenization, the encoder, the batched beam search (length penalty
alpha = 0.6) and detokenization all run in the graph, so a client needs only
TensorFlow and tensorflow-text.

Behaviour on bad input, in the graph (the same as `Transformer.translate`):
an empty source gives an empty translation; a source longer than the model's
`max_sequence_length` tokens is truncated to its first tokens; characters the
tokenizer never saw become its unknown token; `beam_size` outside
`[1, MAX_BEAM_SIZE]` (16) or `max_length <= 0` fail with an
`InvalidArgumentError` naming the argument; `max_length` above
`max_sequence_length` is clamped to it; an empty batch gives an empty batch.

Legend: B batch.
"""

import tensorflow as tf

from transformer_keras.export.saved_model import export_saved_model

# GNMT's length-penalty exponent, used by the exported signature.
EXPORT_ALPHA = 0.6


def translator_endpoints(model, alpha=EXPORT_ALPHA):
    """The `translate` and `serving_default` signatures of a `Transformer`.

    Args:
        model: a `Transformer` with a source and a target tokenizer.
        alpha: the length-penalty exponent baked into the signature.

    Returns:
        The endpoints for `export_saved_model`.
    """
    for name in ("source_tokenizer", "target_tokenizer"):
        if getattr(model, name) is None:
            raise ValueError(
                "Only a Transformer with tokenizers can be exported with a text signature. "
                f"Received: {name}=None"
            )

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([], tf.int32, name="beam_size"),
            tf.TensorSpec([], tf.int32, name="max_length"),
        ],
        autograph=False,
    )
    def translate(text, beam_size, max_length):
        return {"translation": model.translate(text, beam_size, max_length, alpha)}  # (B,)

    return {"translate": translate, "serving_default": translate}


def export_translator(model, path, keras_file=True):
    """Writes `model` as a text-in, text-out SavedModel at `path`, atomically.

    The `.keras` file (model and tokenizers) goes beside it, at `path + ".keras"`.

    Args:
        model: a `Transformer` with tokenizers.
        path: the SavedModel folder, e.g. `saved_models/translator`.
        keras_file: also write the `.keras` file.

    Returns:
        The `pathlib.Path` of the SavedModel folder.

    Example:
    >>> import tempfile
    >>> from transformer_keras.models.seq2seq import Transformer
    >>> from transformer_keras.text import ByteTokenizer
    >>> model = Transformer.from_preset("tiny", source_tokenizer=ByteTokenizer())
    >>> path = export_translator(model, tempfile.mkdtemp() + "/demo")
    >>> translate = tf.saved_model.load(str(path)).signatures["translate"]
    >>> translate(text=tf.constant(["hola"]), beam_size=tf.constant(2),
    ...           max_length=tf.constant(5))["translation"].shape
    TensorShape([1])
    """
    if not model.built:
        model.build()
    tokenizers = {id(t): t for t in (model.source_tokenizer, model.target_tokenizer) if t}
    return export_saved_model(
        path,
        model,
        translator_endpoints(model),
        track=tuple(tokenizers.values()),
        keras_file=keras_file,
    )
