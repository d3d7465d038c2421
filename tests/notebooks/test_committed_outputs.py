"""Each committed notebook shows the outputs of a real run: every code cell ran, in
order, without an error, the plots are there, and the file stays under 1 MB."""

import pathlib

import nbformat
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
# Plots, and a line only the full data prints (fast mode reads a slice).
EXPECTED = {
    "01_text_classification": (3, "67349 training and 872 dev examples"),
    "02_language_model": (2, "1,115,394 characters"),
    "03_translation": (2, "29000 training and 1014 validation pairs"),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_committed_notebook_shows_a_real_run(path):
    assert path.stat().st_size < 1_000_000
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    plots = [output for output in outputs if "image/png" in output.get("data", {})]
    count, full_data_line = EXPECTED[path.stem]
    assert len(plots) == count
    assert full_data_line in "".join(output.get("text", "") for output in outputs)
