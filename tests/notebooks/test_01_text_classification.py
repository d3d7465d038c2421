"""notebooks/01_text_classification.ipynb runs top to bottom in fast mode."""

import os
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks import without_outputs

NOTEBOOK = (
    pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "01_text_classification.ipynb"
)

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
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "2000 training and 872 dev examples" in text
    assert re.search(r"dev accuracy 0\.\d{4}", text)
    difference = float(re.search(r"probability difference: (\S+)", text).group(1))
    assert difference < 1e-5
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3  # training curve, confusion matrix, attention heatmap
    assert os.environ.get("TRANSFORMER_KERAS_FAST") == "1"
