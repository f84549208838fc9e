"""`evaluate_real_scans`: oracle segmenters give known figures; the real labels lie on their scans' grids."""

import numpy as np
import pytest

from keras_liver.errors import FileFormatError, MissingPathError
from keras_liver.evaluation import REAL_SCANS, evaluate_real_scans, find_real_scans
from keras_liver.evaluation.real_scans import false_liver_by_label
from keras_liver.io import Volume, save_volume


def _fake_real_folder(root):
    """The TotalSegmentator CT and MR entries as tiny NIfTI pairs (liver = label 5, a kidney = 2)."""
    affine = np.diag([-2.0, -2.0, 3.0, 1.0])
    for image, label in (("example_ct_sm", "example_seg"), ("example_mr_sm", "example_seg_mr")):
        seg = np.zeros((5, 12, 14), np.uint8)
        seg[1:4, 2:8, 3:9] = 5
        seg[1:3, 9:11, 10:13] = 2
        (root / "totalsegmentator").mkdir(parents=True, exist_ok=True)
        save_volume(Volume(np.where(seg == 5, 60, -100).astype(np.int16), affine),
                    root / "totalsegmentator" / f"{image}.nii.gz")
        save_volume(Volume(seg, affine), root / "totalsegmentator" / f"{label}.nii.gz")
    return root


def test_a_perfect_and_a_halved_liver_score_what_they_should(tmp_path):
    root = _fake_real_folder(tmp_path)
    assert [s.name for s in find_real_scans(root)] == ["totalseg_ct_nifti"]
    assert len(find_real_scans(root, modality=None)) == 2

    def perfect(image):
        return image.replace((image.array > 0).astype(np.uint8))

    def half_and_a_tumour(image):
        out = (image.array > 0).astype(np.uint8)
        out[:, :, :6] = 0  # columns 3..5 of the 6 liver columns gone
        out[0, 0, 0] = 2
        return image.replace(out)

    (row,) = evaluate_real_scans(perfect, root, out_dir=tmp_path / "figs")
    assert row["liver_dice"] == 1.0 and row["liver_volume_error_pct"] == 0.0 and row["tumour_voxels"] == 0
    assert row["liver_ml_truth"] == pytest.approx(3 * 6 * 6 * 12 / 1000, abs=0.05)
    assert (tmp_path / "figs" / "totalseg_ct_nifti.png").stat().st_size > 1000
    (row,) = evaluate_real_scans(half_and_a_tumour, root)
    # 54 of 108 liver voxels kept, plus one tumour voxel outside it: Dice 2 * 54 / (108 + 55)
    assert row["liver_dice"] == pytest.approx(round(108 / 163, 4)) and row["tumour_voxels"] == 1
    assert row["liver_volume_error_pct"] == pytest.approx(100 * (55 / 108 - 1), abs=0.1)
    assert row["false_liver_by_label"] == {"0": 1}  # the tumour voxel lies on background

    def liver_and_kidney(image):  # the liver and the kidney (label 2) called liver, 3 tumour voxels on background
        seg = np.zeros(image.shape, np.uint8)
        seg[1:4, 2:8, 3:9] = 1
        seg[1:3, 9:11, 10:13] = 1
        seg[4, 0, :3] = 2
        return image.replace(seg)

    (row,) = evaluate_real_scans(liver_and_kidney, root)
    assert row["false_liver_by_label"] == {"2": 12, "0": 3} and row["liver_dice"] == pytest.approx(
        round(2 * 108 / (108 + 123), 4))


def test_false_liver_by_label_counts_only_voxels_outside_the_true_liver():
    truth = np.array([[5, 5, 0, 2], [3, 2, 2, 0]])
    liver_truth = truth == 5
    pred = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], bool)
    assert false_liver_by_label(truth, liver_truth, pred) == {"2": 3, "0": 1}
    assert false_liver_by_label(truth, liver_truth, liver_truth) == {}


def test_a_missing_folder_and_a_label_off_the_grid_fail_clearly(tmp_path):
    with pytest.raises(MissingPathError, match="no folder of real scans"):
        find_real_scans(tmp_path / "nowhere")
    root = _fake_real_folder(tmp_path)
    save_volume(Volume(np.zeros((5, 12, 13), np.uint8), np.diag([-2.0, -2.0, 3.0, 1.0])),
                root / "totalsegmentator" / "example_seg.nii.gz")
    with pytest.raises(FileFormatError, match="not on the grid"):
        evaluate_real_scans(lambda v: v, root)


def test_every_real_label_lies_on_its_scan(real_data):
    present = find_real_scans(real_data, modality=None)
    assert {s.name for s in present} >= {"totalseg_ct_nifti", "totalseg_ct_dicom", "dcmqi_ct_3slice"}

    def from_label(image):  # the oracle: each scan's own label, read on the scan's grid
        scan = next(s for s in REAL_SCANS if str(real_data / s.image) == image.meta["source"])
        from keras_liver.io import load_volume

        label = load_volume(real_data / scan.label).array
        return image.replace((label == (scan.liver_label or 1)).astype(np.uint8))

    rows = evaluate_real_scans(from_label, real_data, modality=None)
    assert len(rows) == len(present)
    for row in rows:
        assert row["liver_dice"] == 1.0 and row["liver_ml_truth"] > 10, row
