"""Runs a module as a script in a process where TensorFlow cannot be imported.

    python no_tensorflow.py MODULE [ARGS...]

As on a machine without TensorFlow (the GPU machine): every import of
`tensorflow`, `tensorflow_text` or `tf_keras` fails. `block()` does the same
for a script of this folder.
"""

import importlib.abc
import runpy
import sys

BLOCKED = ("tensorflow", "tensorflow_text", "tf_keras")


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def block():
    """Makes every later TensorFlow import of this process fail."""
    sys.meta_path.insert(0, _NoTensorFlow())


def tensorflow_imported():
    return any(module.split(".")[0] == "tensorflow" for module in sys.modules)


if __name__ == "__main__":
    block()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
