"""The notebooks: each runs top to bottom in fast mode on a copy without outputs;
the committed files keep the outputs of a real run."""


def without_outputs(notebook):
    """`notebook` (an nbformat node) with every code cell's outputs cleared."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook
