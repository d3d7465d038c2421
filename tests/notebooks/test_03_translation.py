"""notebooks/03_translation.ipynb runs top to bottom in fast mode."""

import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks import without_outputs

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "03_translation.ipynb"

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]


def test_notebook_runs_in_fast_mode(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_KERAS_FAST", "1")
    committed = NOTEBOOK.read_bytes()
    notebook = without_outputs(nbformat.read(NOTEBOOK, as_version=4))
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK.parent}},
    ).execute()
    assert NOTEBOOK.read_bytes() == committed  # The committed run stays as it is.
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    text = "\n".join(output.get("text", "") for output in outputs)
    assert "2000 training and 40 validation pairs" in text
    assert re.search(r"greedy: BLEU \d+\.\d\d", text) and re.search(r"beam 4: BLEU", text)
    assert "SavedModel translations equal the Keras ones: True" in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 2  # loss and BLEU curves, cross-attention heatmaps
