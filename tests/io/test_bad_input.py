"""Label maps and writes; the corpus of hostile files, folders and stores is in tests/reliability/."""

import nibabel as nib
import numpy as np
import pytest

from keras_liver.cli.main import main
from keras_liver.errors import GeometryError, LabelError
from keras_liver.io import load_case


def _nii(path, array_xyz):
    nib.save(nib.Nifti1Image(array_xyz, np.eye(4)), str(path))
    return path


def test_label_with_seven_and_shape_mismatch(tmp_path, capsys):
    image = _nii(tmp_path / "volume-1.nii", np.zeros((5, 4, 3), np.int16))
    seven = np.zeros((5, 4, 3), np.uint8)
    seven[2, 2, 1] = 7
    seg7 = _nii(tmp_path / "segmentation-1.nii", seven)
    with pytest.raises(LabelError, match=r"segmentation-1.nii: label map holds values \[7\]"):
        load_case(image, seg7)
    small = _nii(tmp_path / "small.nii", np.zeros((5, 4, 2), np.uint8))
    with pytest.raises(GeometryError, match="small.nii: label shape"):
        load_case(image, small)
    assert main(["preview", str(image), "--label", str(small), "--out", str(tmp_path / "p.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os

    from keras_liver.io import Volume, save_volume
    from keras_liver.io.atomic import write_text_atomic

    mask = os.umask(0o022)
    try:
        text = write_text_atomic(tmp_path / "a.json", "{}")
        nifti = save_volume(Volume(np.zeros((2, 3, 4), np.int16)), tmp_path / "a.nii.gz")
    finally:
        os.umask(mask)
    assert oct(text.stat().st_mode & 0o777) == oct(0o644)
    assert oct(nifti.stat().st_mode & 0o777) == oct(0o644)
