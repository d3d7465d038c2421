"""transformer_keras: a Keras 3 / TensorFlow model zoo of Transformer networks.

Sub-packages load on first use (`transformer_keras.layers`, `.models`, ...), so
`transformer-keras --help` answers without starting TensorFlow.
"""

import importlib

from transformer_keras.version import __version__

_SUBPACKAGES = ("layers", "models", "generation", "text", "data", "training", "export")

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"transformer_keras.{name}")
    raise AttributeError(f"module 'transformer_keras' has no attribute {name!r}")
