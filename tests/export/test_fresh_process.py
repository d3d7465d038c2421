import numpy as np
import pytest

from tests.export.test_saved_model import LABELS, TEXTS, expected_logits
from transformer_keras.export.fresh_process import verify_in_fresh_process

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tests.export.test_saved_model import text_endpoints, tiny_text_model
    from transformer_keras.export.saved_model import export_saved_model

    model = tiny_text_model(seed=3)
    path = export_saved_model(
        tmp_path_factory.mktemp("fresh") / "text",
        model,
        *text_endpoints(model),
        keras_file=False,
    )
    return model, path


def test_a_fresh_process_serves_the_same_outputs_as_the_model(exported):
    model, path = exported
    outputs = verify_in_fresh_process(path, "serving_default", {"text": TEXTS})
    np.testing.assert_allclose(outputs["logits"], expected_logits(model), atol=1e-6)
    assert outputs["label"] == [LABELS[i] for i in expected_logits(model).argmax(-1)]


def test_a_fresh_process_that_imports_the_package_is_reported(exported, tmp_path, monkeypatch):
    """A `sitecustomize` that imports transformer_keras must trip the self-containment check."""
    (tmp_path / "sitecustomize.py").write_text("import transformer_keras.version\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"imported \['transformer_keras"):
        verify_in_fresh_process(exported[1], "classify", {"text": ["x"]})


def test_a_failing_child_reports_its_exit_code_and_error(exported, tmp_path, monkeypatch):
    (tmp_path / "sitecustomize.py").write_text("raise SystemExit('broken interpreter')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(
        RuntimeError, match="(?s)'classify' .* failed \\(exit code 1\\).*broken"
    ):
        verify_in_fresh_process(exported[1], "classify", {"text": ["x"]})
