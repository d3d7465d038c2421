import doctest
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from transformer_keras.export.saved_model import (  # noqa: E402
    export_saved_model,
    keras_file_path,
    load_keras_model,
    load_saved_model,
)

pytestmark = pytest.mark.tf_only

LABELS = ("negative", "positive")
TEXTS = ["a fine film", "dull", "ünïcödé and more words"]


def tiny_text_model(seed):
    """Byte ids `(B, T)` -> 2 logits: embedding, mean over positions, dense."""
    keras.utils.set_random_seed(seed)
    token_ids = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(256, 8)(token_ids)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    return keras.Model(token_ids, keras.layers.Dense(len(LABELS))(hidden))


def text_endpoints(model):
    """A string-in, string-out endpoint whose label table must be tracked to export."""
    label_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.range(len(LABELS), dtype=tf.int64), tf.constant(LABELS)
        ),
        default_value="unknown",
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def classify(text):
        token_ids = tf.strings.unicode_decode(text, "UTF-8").to_tensor() % 256  # (B, T)
        logits = model(token_ids)  # (B, C)
        return {"logits": logits, "label": label_table.lookup(tf.argmax(logits, axis=-1))}

    return {"classify": classify}, [label_table]


def expected_logits(model, texts=TEXTS):
    token_ids = tf.strings.unicode_decode(tf.constant(texts), "UTF-8").to_tensor() % 256
    return np.asarray(model(token_ids))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(model, path)` of one tiny exported text model, shared by the read-only tests."""
    model = tiny_text_model(seed=1)
    endpoints, track = text_endpoints(model)
    path = export_saved_model(
        tmp_path_factory.mktemp("exports") / "text", model, endpoints, track
    )
    return model, path


def test_exported_signatures_take_and_return_strings(exported):
    model, path = exported
    loaded = load_saved_model(path)
    assert sorted(loaded.signatures) == ["classify", "serving_default"]
    outputs = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected_logits(model), atol=1e-6)
    labels = [LABELS[i] for i in expected_logits(model).argmax(-1)]
    assert [label.decode() for label in outputs["label"].numpy()] == labels


def test_the_keras_file_is_written_beside_and_reloads_equal(exported):
    model, path = exported
    assert keras_file_path(path) == path.parent / "text.keras"
    reloaded = load_keras_model(keras_file_path(path))
    token_ids = np.array([[3, 9, 200], [1, 0, 0]])
    np.testing.assert_allclose(np.asarray(reloaded(token_ids)), np.asarray(model(token_ids)))
    assert sorted(os.listdir(path.parent)) == ["text", "text.keras"]  # no temporaries left


def test_reexport_replaces_the_model_and_keras_file_can_be_skipped(tmp_path):
    path = tmp_path / "text"
    first = tiny_text_model(seed=1)
    export_saved_model(path, first, *text_endpoints(first), keras_file=False)
    assert sorted(os.listdir(tmp_path)) == ["text"]
    second = tiny_text_model(seed=2)
    export_saved_model(path, second, *text_endpoints(second), keras_file=False)
    served = load_saved_model(path).signatures["classify"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(served["logits"].numpy(), expected_logits(second), atol=1e-6)
    assert not np.allclose(expected_logits(first), expected_logits(second))


def test_a_failed_export_keeps_the_previous_model_and_leaves_no_temporaries(exported, tmp_path):
    model, _ = exported
    path = tmp_path / "text"
    export_saved_model(path, model, *text_endpoints(model))
    endpoints, _ = text_endpoints(tiny_text_model(seed=2))
    # The label table is not tracked, so TensorFlow refuses to save mid-export.
    with pytest.raises((ValueError, AssertionError), match="untracked|track"):
        export_saved_model(path, model, endpoints, track=())
    assert sorted(os.listdir(tmp_path)) == ["text", "text.keras"]
    served = load_saved_model(path).signatures["classify"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(served["logits"].numpy(), expected_logits(model), atol=1e-6)


def test_endpoints_can_be_function_and_signature_pairs(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    signature = [tf.TensorSpec((None, 3), tf.float32, name="features")]
    path = export_saved_model(
        tmp_path / "dense", model, {"predict": (lambda x: {"y": model(x)}, signature)}
    )
    features = np.arange(6, dtype="float32").reshape(2, 3)
    served = load_saved_model(path).signatures["serving_default"](features=features)
    np.testing.assert_allclose(served["y"].numpy(), np.asarray(model(features)), atol=1e-6)


@pytest.mark.parametrize(
    "endpoints, message",
    [
        ({}, r"Received: endpoints=\{\}"),
        ({"serve": lambda x: x}, r"Endpoint `serve` .* Received: endpoints\['serve'\]="),
    ],
)
def test_bad_endpoints_are_rejected_before_writing(tmp_path, endpoints, message):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=message):
        export_saved_model(tmp_path / "dense", model, endpoints)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------- loading errors


def test_load_saved_model_names_the_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"No SavedModel at '{tmp_path}/absent'"):
        load_saved_model(tmp_path / "absent")


def test_load_saved_model_rejects_a_folder_that_is_not_a_saved_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=f"'{tmp_path}' is not a SavedModel folder"):
        load_saved_model(tmp_path)


def test_load_saved_model_reports_a_truncated_graph(exported, tmp_path):
    broken = shutil.copytree(exported[1], tmp_path / "broken")
    graph = broken / "saved_model.pb"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"The SavedModel at '{broken}' cannot be loaded"):
        load_saved_model(broken)


@pytest.mark.parametrize("missing", ["variables.data-00000-of-00001", "variables.index"])
def test_load_saved_model_reports_a_deleted_variables_file(exported, tmp_path, missing):
    broken = shutil.copytree(exported[1], tmp_path / "broken")
    (broken / "variables" / missing).unlink()
    with pytest.raises(ValueError, match=f"The SavedModel at '{broken}' cannot be loaded"):
        load_saved_model(broken)


def test_load_keras_model_errors_name_the_path(exported, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"No Keras model at '{tmp_path}/absent.keras'"):
        load_keras_model(tmp_path / "absent.keras")
    with pytest.raises(ValueError, match="is not a `.keras` model file"):
        load_keras_model(exported[1])
    truncated = tmp_path / "truncated.keras"
    data = keras_file_path(exported[1]).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"The Keras model at '{truncated}' is corrupt"):
        load_keras_model(truncated)


def test_load_keras_model_keeps_safe_mode_on(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="cannot be loaded .*safe_mode"):
        load_keras_model(tmp_path / "lambda.keras")


# ------------------------------------------------------------ a real SIGKILL

_EXPORT_THEN_HANG = textwrap.dedent(
    """
    import sys, time
    import keras, numpy as np, tensorflow as tf
    from transformer_keras.export.saved_model import export_saved_model

    path = sys.argv[1]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    save = keras.Model.save

    def save_then_hang(self, *args, **kwargs):  # the .keras file is the last thing staged
        save(self, *args, **kwargs)
        print("STAGED", flush=True)
        time.sleep(600)

    keras.Model.save = save_then_hang
    serve = tf.function(lambda x: {"y": model(x)},
                        input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
    export_saved_model(path, model, {"serve": serve})
    """
)


def _start_export(path):
    return subprocess.Popen(
        [sys.executable, "-c", _EXPORT_THEN_HANG, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


@pytest.mark.slow
def test_sigkill_during_export_leaves_the_previous_model_intact(exported, tmp_path):
    model, _ = exported
    path = tmp_path / "text"
    export_saved_model(path, model, *text_endpoints(model))
    # Killed with the new SavedModel and .keras file fully staged, just before the
    # renames: the worst moment, when a non-atomic writer would have overwritten files.
    process = _start_export(path)
    deadline = time.monotonic() + 120
    while process.stdout.readline().strip() != "STAGED":
        assert process.poll() is None, "the export ended before it could be killed"
        assert time.monotonic() < deadline, "the export never reached the kill point"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert sorted(os.listdir(path)) == [
        "assets",
        "fingerprint.pb",
        "saved_model.pb",
        "variables",
    ]
    served = load_saved_model(path).signatures["classify"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(served["logits"].numpy(), expected_logits(model), atol=1e-6)
    token_ids = np.array([[5, 6]])
    reloaded = load_keras_model(keras_file_path(path))
    np.testing.assert_allclose(np.asarray(reloaded(token_ids)), np.asarray(model(token_ids)))
    leftovers = sorted(p.name.split("-")[0] for p in tmp_path.glob(".*"))
    assert leftovers == [".text.keras.tmp", ".text.tmp"]

    # The next export of the same name cleans up the crash's leftovers.
    export_saved_model(path, model, *text_endpoints(model))
    assert sorted(os.listdir(tmp_path)) == ["text", "text.keras"]


def test_docstring_examples_run():
    from transformer_keras.export import saved_model

    assert doctest.testmod(saved_model).failed == 0
