import numpy as np
import pytest

from keras_liver.errors import GeometryError
from keras_liver.evaluation.segmentation_metrics import (
    binary_metrics,
    dataset_dice,
    lesion_detection,
    segmentation_metrics,
    surface_distances,
)


def _cube(shape, start, size):
    m = np.zeros(shape, bool)
    m[tuple(slice(s, s + size) for s in start)] = True
    return m


def test_overlap_metrics_by_hand():
    truth = _cube((9, 10, 11), (2, 2, 2), 4)          # 64 voxels
    pred = _cube((9, 10, 11), (2, 2, 3), 4)           # shifted by one in x: 48 shared
    m = binary_metrics(pred, truth, (1, 1, 1))
    assert m["dice"] == pytest.approx(96 / 128) and m["jaccard"] == pytest.approx(48 / 80)
    assert m["voe"] == pytest.approx(1 - 48 / 80) and m["rvd"] == 0.0
    assert m["mssd"] == pytest.approx(1.0)            # every boundary voxel is within one voxel


def test_distances_use_the_spacing():
    truth = _cube((9, 10, 11), (2, 2, 2), 4)
    pred = _cube((9, 10, 11), (2, 2, 4), 4)           # shifted by two voxels along x
    iso = binary_metrics(pred, truth, (1.0, 1.0, 1.0))
    aniso = binary_metrics(pred, truth, (1.0, 1.0, 0.5))
    assert iso["mssd"] == pytest.approx(2.0) and aniso["mssd"] == pytest.approx(1.0)
    assert aniso["assd"] == pytest.approx(iso["assd"] / 2)
    a, b = surface_distances(pred, truth, (1.0, 1.0, 1.0))
    assert a.max() == pytest.approx(2.0) and b.max() == pytest.approx(2.0)


def test_hd95_ignores_a_few_far_voxels():
    truth = _cube((30, 30, 30), (5, 5, 5), 12)
    pred = truth.copy()
    pred[27, 27, 27] = True                            # one stray voxel far away
    m = binary_metrics(pred, truth, (1, 1, 1))
    assert m["mssd"] > 15 and m["hd95"] == 0.0 and m["dice"] > 0.99


def test_empty_structures():
    empty = np.zeros((4, 5, 6), bool)
    both = binary_metrics(empty, empty, (1, 1, 1))
    assert both["dice"] == 1.0 and both["assd"] == 0.0 and np.isnan(both["rvd"])
    one = binary_metrics(_cube((4, 5, 6), (1, 1, 1), 2), empty, (1, 1, 1))
    assert one["dice"] == 0.0 and one["hd95"] == float("inf")


def test_lits_structures_and_tumour_burden():
    truth = np.zeros((8, 9, 10), np.uint8)
    truth[1:7, 1:8, 1:9] = 1
    truth[3:5, 3:5, 3:5] = 2
    pred = truth.copy()
    pred[3:5, 3:5, 3:5] = 1                            # tumour called liver
    out = segmentation_metrics(pred, truth, (2.0, 1.0, 1.0))
    assert out["liver"]["dice"] == 1.0                 # liver includes its tumours
    assert out["tumour"]["dice"] == 0.0
    assert out["tumour_burden_ml"] == {"pred": 0.0, "truth": pytest.approx(8 * 2 / 1000), "error": -8 * 2 / 1000}
    with pytest.raises(GeometryError, match="spacing"):
        segmentation_metrics(pred, truth, (1.0, 0.0, 1.0))
    with pytest.raises(GeometryError, match="shape"):
        segmentation_metrics(pred[:-1], truth, (1.0, 1.0, 1.0))


def test_lesion_detection_rules():
    truth = np.zeros((20, 20, 20), np.uint8)
    truth[_cube(truth.shape, (2, 2, 2), 5)] = 2        # 125 voxels: d = 6.2 mm at 1 mm
    truth[_cube(truth.shape, (12, 12, 12), 3)] = 2     # 27 voxels
    pred = np.zeros_like(truth)
    pred[_cube(truth.shape, (2, 2, 2), 4)] = 2         # covers 64/125 > 50 % of lesion 1
    pred[_cube(truth.shape, (12, 12, 16), 2)] = 2      # next to lesion 2, not on it: false positive
    out = lesion_detection(pred, truth, (1, 1, 1))
    assert out["true_lesions"] == 2 and out["detected"] == 1 and out["recall"] == 0.5
    assert out["pred_lesions"] == 2 and out["true_positive_pred"] == 1 and out["precision"] == 0.5
    big = lesion_detection(pred, truth, (1, 1, 1), min_diameter_mm=5.0)
    assert big["true_lesions"] == 1 and big["recall"] == 1.0
    assert lesion_detection(np.zeros_like(truth), np.zeros_like(truth), (1, 1, 1))["recall"] == 1.0


def test_dataset_dice_per_case_and_global():
    a_t = np.array([2, 2, 0, 0]); a_p = np.array([2, 0, 0, 0])   # dice 2/3
    b_t = np.array([2] * 8); b_p = np.array([2] * 8)            # dice 1
    c = np.zeros(4, int)                                          # empty vs empty: 1
    out = dataset_dice([(a_p, a_t), (b_p, b_t), (c, c)])
    assert out["per_case"] == [pytest.approx(2 / 3), 1.0, 1.0]
    assert out["global"] == pytest.approx(2 * 9 / (1 + 2 + 16))


def test_evaluate_folder_counts_found_lesions_by_diameter(tmp_path):
    from keras_liver.evaluation import evaluate_folder
    from keras_liver.io import Volume, save_volume

    truth = np.zeros((20, 40, 40), np.uint8)
    truth[2:18, 2:38, 2:38] = 1
    truth[4:7, 5:8, 5:8] = 2         # 27 mm^3 at 1 mm: about 3.7 mm across, found
    truth[8:16, 10:22, 10:22] = 2    # 1152 mm^3: about 13 mm across, missed
    pred = truth.copy()
    pred[8:16, 10:22, 10:22] = 1
    for folder, array in (("truth", truth), ("pred", pred)):
        (tmp_path / folder).mkdir()
        save_volume(Volume(array, np.eye(4)), tmp_path / folder / "segmentation-0.nii.gz")
    result = evaluate_folder(tmp_path / "pred", tmp_path / "truth", tmp_path / "report")
    assert result["detection"]["by_diameter_mm"] == {"0-10": [1, 1], "10-20": [0, 1], "20-40": [0, 0], "40+": [0, 0]}
    assert (result["detection"]["true_lesions"], result["detection"]["detected"]) == (1, 0)  # >= 10 mm only
    assert [les["detected"] for les in result["cases"]["0"]["detection"]["lesions"]] == [True, False]
    assert "10-20 mm 0/1" in (tmp_path / "report" / "evaluation.md").read_text()


@pytest.mark.parametrize("bad_side", ["pred", "truth"])
def test_evaluate_folder_refuses_a_label_outside_lits(tmp_path, bad_side):
    from keras_liver.errors import LabelError
    from keras_liver.evaluation import evaluate_folder
    from keras_liver.io import Volume, save_volume

    good = np.zeros((6, 8, 8), np.uint8)
    good[1:5, 2:6, 2:6] = 1
    bad = good.copy()
    bad[2, 3, 3] = 7
    for folder in ("truth", "pred"):
        (tmp_path / folder).mkdir()
        save_volume(Volume(bad if folder == bad_side else good, np.eye(4)), tmp_path / folder / "segmentation-0.nii.gz")
    with pytest.raises(LabelError, match=rf"{bad_side}.*segmentation-0.*\[7\]"):
        evaluate_folder(tmp_path / "pred", tmp_path / "truth", tmp_path / "report")
    assert not (tmp_path / "report").exists()  # nothing written for a refused folder
