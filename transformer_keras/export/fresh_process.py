"""Run a SavedModel signature in a clean Python process, as a deployment would.

The child process imports only TensorFlow (and tensorflow-text, whose ops
exported tokenizers use), never `transformer_keras` or the model's Python
code, so a passing check proves the SavedModel is self-contained.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD_SCRIPT = r"""
import json, sys
request = json.load(sys.stdin)
import tensorflow as tf
try:
    import tensorflow_text  # noqa: F401  (registers tokenizer ops)
except ImportError:
    pass
signature = tf.saved_model.load(request["path"]).signatures[request["signature"]]
specs = signature.structured_input_signature[1]
arguments = {
    name: tf.constant(value, dtype=specs[name].dtype)
    for name, value in request["inputs"].items()
}

def to_json(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value

outputs = {
    name: to_json(tensor.numpy().tolist()) for name, tensor in signature(**arguments).items()
}
leaked = sorted(name for name in sys.modules if name.split(".")[0] == "transformer_keras")
print("\n" + json.dumps({"outputs": outputs, "leaked": leaked}))
"""


def verify_in_fresh_process(path, signature, inputs, timeout=300):
    """Calls `signature` of the SavedModel at `path` in a new Python process.

    Args:
        path: a SavedModel folder.
        signature: a signature name, e.g. `"serving_default"`.
        inputs: `{argument name: nested list}`; strings for string arguments.
        timeout: seconds before the child is killed.

    Returns:
        `{output name: nested list}`, with strings decoded from UTF-8.

    Raises:
        RuntimeError: the child failed (its stderr ends the message) or it
            imported `transformer_keras`.

    Example:
    >>> outputs = verify_in_fresh_process(  # doctest: +SKIP
    ...     "saved_models/classifier", "serving_default", {"text": ["a fine film"]})
    >>> outputs["label"]  # doctest: +SKIP
    ['positive']
    """
    request = json.dumps(
        {"path": str(Path(path).absolute()), "signature": signature, "inputs": inputs}
    )
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD_SCRIPT],
        input=request,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=Path(path).absolute().parent,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"Calling signature '{signature}' of '{path}' in a fresh process failed "
            f"(exit code {completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["leaked"]:
        raise RuntimeError(
            f"The fresh process imported {result['leaked']}: '{path}' is not self-contained."
        )
    return result["outputs"]
