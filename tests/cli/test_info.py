import json
import subprocess
import sys

import nibabel as nib
import numpy as np

from helpers import write_dicom_series
from keras_liver.cli.main import main
from keras_liver.io import CaseStoreWriter, Volume


def test_info_json_on_nifti_dicom_and_store(tmp_path, rng, capsys):
    ct = rng.integers(-1000, 1500, size=(9, 8, 7)).astype(np.int16)
    nib.save(nib.Nifti1Image(ct, np.diag([-0.8, -0.8, 2.0, 1.0])), str(tmp_path / "ct.nii.gz"))
    write_dicom_series(tmp_path / "dcm", rng.integers(0, 2000, size=(3, 4, 5)))
    label = np.zeros((7, 8, 9), np.uint8)
    label[1:3, 2:5, 2:4] = 1
    label[2, 3, 3] = 2
    with CaseStoreWriter(tmp_path / "s.h5") as w:
        w.add("case-0", Volume(ct.T.copy()), Volume(label))
    assert main(["info", "--json", str(tmp_path / "ct.nii.gz"), str(tmp_path / "dcm"), str(tmp_path / "s.h5")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["format"] for r in rows] == ["nifti", "dicom", "hdf5", "hdf5"]
    nii = rows[0]
    assert nii["shape"] == [7, 8, 9] and nii["spacing_zyx_mm"] == [2.0, 0.8, 0.8]
    assert nii["orientation"] == "LPS" and nii["source_orientation"] == "LPS"
    assert nii["min"] == ct.min() and nii["max"] == ct.max()
    assert nii["p50"] == np.percentile(ct, 50)
    assert rows[1]["shape"] == [3, 4, 5]
    assert rows[3]["name"].endswith("s.h5:case-0/label")
    assert rows[3]["label_counts"] == {"0": int((label == 0).sum()), "1": int((label == 1).sum()), "2": 1}


def test_info_table_and_console_script(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5), np.uint8), np.eye(4)), str(tmp_path / "seg.nii"))
    out = subprocess.run([sys.executable, "-m", "keras_liver.cli", "info", str(tmp_path / "seg.nii")],
                         capture_output=True, text=True, check=True).stdout
    assert "shape                5 x 4 x 3" in out and "label_counts         0: 60" in out
    bad = subprocess.run([sys.executable, "-m", "keras_liver.cli", "info", str(tmp_path / "none.nii")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "none.nii: no such file" in bad.stderr


def test_preview_writes_png(tmp_path, rng):
    ct = rng.integers(-200, 200, size=(6, 10, 12)).astype(np.int16)
    seg = np.zeros_like(ct, dtype=np.uint8)
    seg[2:4, 3:6, 3:8] = 1
    nib.save(nib.Nifti1Image(ct, np.eye(4)), str(tmp_path / "ct.nii"))
    nib.save(nib.Nifti1Image(seg, np.eye(4)), str(tmp_path / "seg.nii"))
    png = tmp_path / "p.png"
    assert main(["preview", str(tmp_path / "ct.nii"), "--label", str(tmp_path / "seg.nii"), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
