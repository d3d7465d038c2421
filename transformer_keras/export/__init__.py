"""Export: one mechanism for writing string-in, string-out SavedModels.

`export_saved_model` writes a model's serving endpoints atomically (see
`atomic.py`), `load_saved_model` / `load_keras_model` reload with clear errors,
and `verify_in_fresh_process` calls a signature in a clean interpreter.
"""

from transformer_keras.export.fresh_process import verify_in_fresh_process
from transformer_keras.export.saved_model import (
    build_export_archive,
    export_saved_model,
    keras_file_path,
    load_keras_model,
    load_saved_model,
)
from transformer_keras.utils.atomic import (
    atomic_directory,
    atomic_file,
    remove_stale_temporaries,
)

__all__ = [
    "atomic_directory",
    "atomic_file",
    "build_export_archive",
    "export_saved_model",
    "keras_file_path",
    "load_keras_model",
    "load_saved_model",
    "remove_stale_temporaries",
    "verify_in_fresh_process",
]
