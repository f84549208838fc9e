import nibabel as nib
import numpy as np
import pytest

from keras_liver.errors import GeometryError, LabelError, MissingPathError
from keras_liver.io import find_lits_cases, load_case


def _nii(path, array_xyz, affine=None):
    nib.save(nib.Nifti1Image(array_xyz, np.diag([0.8, 0.8, 2.0, 1.0]) if affine is None else affine), str(path))


def test_pairs_volumes_with_segmentations_recursively(tmp_path):
    (tmp_path / "Training Batch 1").mkdir()
    (tmp_path / "test").mkdir()
    for n in (0, 10, 2):
        _nii(tmp_path / "Training Batch 1" / f"volume-{n}.nii", np.zeros((4, 4, 3), np.int16))
        _nii(tmp_path / "Training Batch 1" / f"segmentation-{n}.nii", np.zeros((4, 4, 3), np.uint8))
    _nii(tmp_path / "test" / "volume-70.nii.gz", np.zeros((4, 4, 3), np.int16))
    cases = find_lits_cases(tmp_path)
    assert [c.case_id for c in cases] == [0, 2, 10, 70]
    assert cases[1].label_path.name == "segmentation-2.nii"
    assert cases[3].label_path is None
    image, label = cases[0].load()
    assert label.array.dtype == np.uint8 and image.shape == label.shape


def test_load_case_checks_values_shape_and_affine(tmp_path):
    _nii(tmp_path / "volume-0.nii", np.zeros((4, 4, 3), np.int16))
    seg = np.zeros((4, 4, 3), np.float32)
    seg[1, 1, 1] = 2
    _nii(tmp_path / "ok.nii", seg)
    _, label = load_case(tmp_path / "volume-0.nii", tmp_path / "ok.nii")
    assert label.array.dtype == np.uint8 and label.array.max() == 2
    seg[0, 0, 0] = 7
    _nii(tmp_path / "seven.nii", seg)
    with pytest.raises(LabelError, match=r"seven.nii: label map holds values \[7\]"):
        load_case(tmp_path / "volume-0.nii", tmp_path / "seven.nii")
    seg[0, 0, 0] = 0.5
    _nii(tmp_path / "half.nii", seg)
    with pytest.raises(LabelError, match="non-integer"):
        load_case(tmp_path / "volume-0.nii", tmp_path / "half.nii")
    _nii(tmp_path / "small.nii", np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(GeometryError, match=r"small.nii: label shape \(2, 4, 4\) != image shape \(3, 4, 4\)"):
        load_case(tmp_path / "volume-0.nii", tmp_path / "small.nii")
    _nii(tmp_path / "moved.nii", np.zeros((4, 4, 3), np.uint8), np.diag([0.8, 0.8, 2.5, 1.0]))
    with pytest.raises(GeometryError, match="affine differs"):
        load_case(tmp_path / "volume-0.nii", tmp_path / "moved.nii")


def test_empty_or_missing_root(tmp_path):
    with pytest.raises(MissingPathError, match="no volume-N"):
        find_lits_cases(tmp_path)
    with pytest.raises(MissingPathError, match="no such folder"):
        find_lits_cases(tmp_path / "nope")
