"""The tutorial notebook (docs/tutorials/01_real_data.ipynb) runs top to bottom with nbclient on reduced settings
(600 real demo rows, one epoch, a quarter-width LegNet, 100 bootstrap samples), and is stored without outputs."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.conftest import DEMO_DIR, require_shared
from tests.docs.codeblocks import REPO_ROOT

NOTEBOOK = REPO_ROOT / "docs" / "tutorials" / "01_real_data.ipynb"
REDUCED = {"N_ROWS": "600", "EPOCHS": "1", "WIDTH": "0.25", "BOOTSTRAP": "100", "N_EXPLAIN": "2"}


def _parameters_cell(notebook) -> int:
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    return tagged[0]


def test_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "strip the outputs before committing"
    source = notebook.cells[_parameters_cell(notebook)].source
    for name in ("DATA", *REDUCED):
        assert f"\n{name} = " in "\n" + source, name


@pytest.mark.slow
def test_notebook_runs_on_real_demo_rows(tmp_path: Path, monkeypatch) -> None:
    from nbclient import NotebookClient

    require_shared(DEMO_DIR / "demo_train.txt")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    index = _parameters_cell(notebook)
    overrides = {"DATA": repr(str(DEMO_DIR)), "WORK": repr(str(tmp_path / "work")), **REDUCED}
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value}" for name, value in overrides.items())))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    if os.environ.get("SEQ2EXP_NOTEBOOK_OUT"):  # keep the executed notebook to look at its plots
        nbformat.write(notebook, os.environ["SEQ2EXP_NOTEBOOK_OUT"])
    images = sum(1 for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
                 if "image/png" in output.get("data", {}))
    assert images >= 7, images   # histogram, 2 hexbins, intervals, correlations, ISM heatmaps, motif curve
    text = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)
    assert "predictions from" in text and "Pearson r" in text and "beats the ridge" in text
