import json

import numpy as np
import pytest

from keras_liver.cli.main import main
from keras_liver.evaluation.compare import METHODS
from keras_liver.phantoms import write_dce_dataset


def test_compare_writes_table1_for_the_four_methods(tmp_path, capsys):
    write_dce_dataset(tmp_path / "dce", 10, seed=3, balanced=True, shape=(6, 16, 16), n_frames=4)
    assert main(["compare", "--data", str(tmp_path / "dce"), "--out", str(tmp_path / "t1"), "--epochs", "1",
                 "--batch-size", "5", "--test-fraction", "0.5"]) == 0
    table = json.loads((tmp_path / "t1" / "table1.json").read_text())
    assert list(table["results"]) == list(METHODS)
    split = table["split"]
    assert len(split["test"]) == 5 and not set(split["train"]) & set(split["test"])
    for result in table["results"].values():
        matrix = np.asarray(result["confusion_matrix"])  # rows: truth, columns: prediction
        assert result["n"] == 5 and matrix.sum() == 5
        assert result["accuracy"] == pytest.approx(np.trace(matrix) / 5)  # the metrics are the matrix's
        assert (matrix.sum(axis=1) == 1).all()  # stratified: one test case of each class
    out = capsys.readouterr().out
    assert "| SVM (HOG) |" in out and "F-measure" in out
    for name in ("table1.md", "table1.png", "confusion_svm.png", "confusion_proposed.png", "svm.npz"):
        assert (tmp_path / "t1" / name).exists()


def test_compare_scores_a_held_out_folder_when_given(tmp_path, capsys):
    write_dce_dataset(tmp_path / "train", 10, seed=3, balanced=True, shape=(6, 16, 16), n_frames=4)
    write_dce_dataset(tmp_path / "test", 5, seed=10000, balanced=True, shape=(6, 16, 16), n_frames=4)
    assert main(["compare", "--data", str(tmp_path / "train"), "--test-data", str(tmp_path / "test"),
                 "--out", str(tmp_path / "t1"), "--epochs", "1", "--batch-size", "5"]) == 0
    table = json.loads((tmp_path / "t1" / "table1.json").read_text())
    assert len(table["split"]["train"]) == 10 and len(table["split"]["test"]) == 5
    assert table["settings"]["test_data"] == str(tmp_path / "test")
    for result in table["results"].values():
        assert result["n"] == 5 and np.asarray(result["confusion_matrix"]).sum() == 5
    assert "held out" in capsys.readouterr().out


def test_compare_per_lesion_scores_every_lesion_with_its_own_class(tmp_path):
    write_dce_dataset(tmp_path / "train", 5, seed=3, balanced=True, shape=(6, 20, 20), n_frames=4, n_lesions=2)
    write_dce_dataset(tmp_path / "test", 3, seed=10000, balanced=True, shape=(6, 20, 20), n_frames=4, n_lesions=2)
    lesions = sum(len(json.loads(p.read_text())["lesions"]) for p in (tmp_path / "test").glob("dce-*.json"))
    assert main(["compare", "--data", str(tmp_path / "train"), "--test-data", str(tmp_path / "test"),
                 "--out", str(tmp_path / "t1"), "--epochs", "1", "--batch-size", "4", "--per-lesion",
                 "--crop", "4,8,8", "--lesion-masks"]) == 0
    table = json.loads((tmp_path / "t1" / "table1.json").read_text())
    assert table["settings"]["per_lesion"] and table["settings"]["lesion_crop"] == [4, 8, 8]
    assert len(table["results"]) == 5 and "3D CNN + ConvLSTM + lesion masks" in table["results"]
    assert (tmp_path / "t1" / "confusion_proposed_masks.png").is_file()
    assert (tmp_path / "t1" / "confusion_proposed.png").is_file()
    assert len(table["split"]["test"]) == 3 and lesions > 3
    for result in table["results"].values():
        assert result["n"] == lesions  # one sample per lesion, not per series
    with pytest.raises(SystemExit) as bad:
        main(["compare", "--data", str(tmp_path / "train"), "--out", str(tmp_path / "t2"), "--crop", "4,1,8"])
    assert bad.value.code == 2
