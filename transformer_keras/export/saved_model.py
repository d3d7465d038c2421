"""The one export mechanism: string-in, string-out SavedModels, written atomically.

Each model family declares its serving functions (`export/classifier.py`,
`export/language_model.py`, `export/translator.py`) and hands them to
`export_saved_model`, which writes, atomically renames and can be checked by
`load_saved_model` or, in a clean interpreter, `verify_in_fresh_process`.

Why `keras.export.ExportArchive` and not a hand-made `tf.Module`: it is the
exporter Keras itself uses for `model.export()`. It turns Keras variables into
tracked TensorFlow variables, saves only the variables the endpoints use,
finds the lookup tables and other resources of tracked objects (tokenizers)
and always registers a `serving_default` signature for TF Serving. A
`tf.Module` would save the whole Keras object graph of the model as well, and
each family would repeat the tracking code. Every endpoint is a
`tf.function` with an `input_signature` (or a `(function, input_signature)`
pair); the archive keeps that function's own AutoGraph setting, so endpoints
may use Python control flow over tensors.
"""

import zipfile
from pathlib import Path

import keras

from transformer_keras.utils.atomic import atomic_directory, atomic_file


def keras_file_path(path):
    """Where `export_saved_model(path, ..., keras_file=True)` writes the `.keras` file.

    `saved_models/NAME` -> `saved_models/NAME.keras`.
    """
    path = Path(path)
    return path.with_name(path.name + ".keras")


def _check_tensorflow_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "SavedModel export needs the TensorFlow backend (set KERAS_BACKEND=tensorflow). "
            f"Received: backend={keras.backend.backend()!r}"
        )


def _endpoint_function_and_signature(name, endpoint):
    if isinstance(endpoint, tuple) and len(endpoint) == 2:
        function, input_signature = endpoint
    else:
        function, input_signature = endpoint, getattr(endpoint, "input_signature", None)
    if not callable(function) or input_signature is None:
        raise ValueError(
            f"Endpoint `{name}` must be a tf.function with an `input_signature` or a "
            f"`(function, input_signature)` pair. Received: endpoints[{name!r}]={endpoint!r}"
        )
    return function, input_signature


def build_export_archive(model, endpoints, track=()):
    """A `keras.export.ExportArchive` tracking `model` and `track`, with `endpoints`.

    Args:
        model: the built Keras model the endpoints call.
        endpoints: `{name: tf.function with input_signature}` or
            `{name: (function, input_signature)}`. The first one is also
            `serving_default` unless that name is given.
        track: more objects whose variables or resources the endpoints use
            (tokenizer layers, `tf.Module` tokenizers, lookup tables).

    Returns:
        The archive, ready for `write_out`.
    """
    _check_tensorflow_backend()
    if not endpoints:
        raise ValueError(
            f"`endpoints` must name at least one function. Received: endpoints={endpoints!r}"
        )
    archive = keras.export.ExportArchive()
    for resource in (model, *track):
        archive.track(resource)
    for name, endpoint in endpoints.items():
        function, input_signature = _endpoint_function_and_signature(name, endpoint)
        archive.add_endpoint(name, function, input_signature=input_signature)
    return archive


def export_saved_model(path, model, endpoints, track=(), keras_file=True):
    """Writes `model`'s serving `endpoints` as a SavedModel at `path`, atomically.

    The SavedModel folder (and, with `keras_file`, `path + ".keras"`, the model
    itself for fine-tuning in Keras) are first written to hidden temporary
    siblings and then moved into place, so a crash never leaves a partial
    model under `path` (see `utils/atomic.py`). Both are staged before either
    is moved.

    Args:
        path: the SavedModel folder, e.g. `saved_models/translator`.
        model: the built Keras model the endpoints call.
        endpoints: `{name: tf.function with input_signature}` or
            `{name: (function, input_signature)}`; each becomes a signature.
            The first is also `serving_default` unless that name is given.
        track: more objects the endpoints use (tokenizers, lookup tables).
        keras_file: also write `model.save(path + ".keras")`.

    Returns:
        The `pathlib.Path` of the SavedModel folder.

    Example:
    >>> import tempfile, keras, numpy as np, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
    ... def serve(x):
    ...     return {"y": model(x)}
    >>> path = export_saved_model(tempfile.mkdtemp() + "/dense", model, {"serve": serve})
    >>> sorted(load_saved_model(path).signatures)
    ['serve', 'serving_default']
    """
    archive = build_export_archive(model, endpoints, track)
    path = Path(path).absolute()
    with atomic_directory(path) as staging_directory:
        if not keras_file:
            archive.write_out(str(staging_directory), verbose=False)
        else:
            with atomic_file(keras_file_path(path)) as staging_file:
                archive.write_out(str(staging_directory), verbose=False)
                model.save(staging_file)
    return path


def load_saved_model(path):
    """`tf.saved_model.load(path)`, with one clear error for a missing or broken model.

    Also registers the tensorflow-text ops that exported tokenizers use.

    Args:
        path: a SavedModel folder.

    Returns:
        The loaded object; its signatures are in `.signatures`.

    Raises:
        FileNotFoundError: nothing exists at `path`.
        ValueError: `path` is not a SavedModel folder, or it is corrupt or
            incomplete (e.g. a truncated `saved_model.pb` or missing variables).
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops of exported tokenizers)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No SavedModel at '{path}': the path does not exist.")
    if not path.is_dir() or not tf.saved_model.contains_saved_model(str(path)):
        raise ValueError(f"'{path}' is not a SavedModel folder: it has no saved_model.pb.")
    try:
        return tf.saved_model.load(str(path))
    except Exception as error:  # TF raises OSError, OpError, IndexError, ... for broken files.
        raise ValueError(
            f"The SavedModel at '{path}' cannot be loaded; it may be corrupt or incomplete, "
            f"export it again ({type(error).__name__}: {_first_line(error)})."
        ) from error


def load_keras_model(path, custom_objects=None):
    """`keras.saving.load_model(path)` in safe mode, with one clear error when it fails.

    Args:
        path: a `.keras` file.
        custom_objects: passed on to Keras (registered classes need none).

    Returns:
        The Keras model.

    Raises:
        FileNotFoundError: nothing exists at `path`.
        ValueError: `path` is not a `.keras` file, is corrupt or truncated, or
            Keras refuses it (safe mode stays on).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No Keras model at '{path}': the path does not exist.")
    if path.suffix != ".keras" or not path.is_file():
        raise ValueError(f"'{path}' is not a `.keras` model file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The Keras model at '{path}' is corrupt or truncated (not a zip archive); "
            "save it again."
        )
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, safe_mode=True)
    except Exception as error:  # zip, h5 and config errors alike.
        raise ValueError(
            f"The Keras model at '{path}' cannot be loaded "
            f"({type(error).__name__}: {_first_line(error)})."
        ) from error


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"
