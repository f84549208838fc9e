"""The notebooks run top to bottom (nbclient, a real Jupyter kernel) on tiny settings."""

import json
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).parents[1] / "notebooks"

TINY = {
    "01_ct_tumour_segmentation.ipynb": "SHAPE = (16, 128, 128)\nFINETUNE_CASES, FINETUNE_SHAPE = 3, (8, 96, 96)\n"
                                       "EPOCHS, STEPS, BATCH = 1, 2, 2",
    "02_dce_4d_classification.ipynb": "SERIES_SHAPE = (12, 48, 48)\nN_CASES = 10\nSHAPE = (8, 32, 32)\nEPOCHS = 1",
    "03_export_and_serve.ipynb": "CT_SHAPE = (12, 96, 96)\nDCE_SHAPE = (10, 40, 40)",
}


@pytest.fixture(scope="module", autouse=True)
def _kernel_of_this_python(tmp_path_factory):
    """Run the notebooks with this interpreter, whatever ``python3`` kernel the user has installed elsewhere."""
    import sys

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (keras-liver tests)", "language": "python"}))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(root))
    patch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    yield
    patch.undo()


def _run(name: str, out_dir: pathlib.Path) -> dict:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [i for i, cell in enumerate(book.cells) if cell.cell_type == "code"]
    first = book.cells[code[0]]
    assert "parameters" in first.metadata.get("tags", []), f"{name}: first code cell must be tagged 'parameters'"
    for i in code:  # stored without outputs
        assert not book.cells[i].outputs and book.cells[i].execution_count is None, f"{name}: cell {i} has outputs"
    override = f'{TINY[name]}\nOUT_DIR = {str(out_dir)!r}'
    book.cells.insert(code[0] + 1, nbformat.v4.new_code_cell(override))
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(out_dir)}}).execute()
    return json.loads((out_dir / "results.json").read_text())


def test_ct_segmentation_notebook(tmp_path):
    results = _run("01_ct_tumour_segmentation.ipynb", tmp_path)
    assert results["mask_shape"] == results["image_shape"]
    assert results["liver_dice"] > 0.8  # the preset on a small held-out phantom: it finds the liver
    assert results["noise_reduced"] is True and results["finetune_epochs"] == 1


def test_dce_classification_notebook(tmp_path):
    results = _run("02_dce_4d_classification.ipynb", tmp_path)
    assert results["true_lesions"] >= 1 and set(results["preset_lesions"]) <= set(results["class_names"])
    assert len(results["methods"]) == 4 and results["test_cases"] >= 1
    assert all(0.0 <= a <= 1.0 for a in results["accuracy"].values())


def test_export_and_serve_notebook(tmp_path):
    results = _run("03_export_and_serve.ipynb", tmp_path)
    assert results["served_equals_local"] is True
    assert results["versions_after_rollout"][-1] == 2
    assert set(results["dce_classes"]) <= {"hcc", "metastasis", "haemangioma", "cyst", "fnh"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_readme_links_each_notebook(name):
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    assert f"notebooks/{name}" in readme
