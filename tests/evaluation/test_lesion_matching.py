import numpy as np
import pytest

from keras_liver.evaluation import lesion_detection, match_lesions, summarise_matches


def _instances():
    truth = np.zeros((6, 40, 41), np.uint8)
    truth[1:5, 2:12, 2:12] = 1  # 400 voxels: a 2 x 1 x 1 mm grid makes it 800 mm^3, 11.5 mm across
    truth[1:5, 20:30, 20:30] = 2  # 400 voxels
    truth[2:3, 35:37, 35:37] = 3  # 4 voxels: under 10 mm
    pred = np.zeros_like(truth)
    pred[1:5, 2:12, 2:9] = 5  # covers 70 % of lesion 1
    pred[1:5, 20:30, 20:24] = 6  # covers 40 % of lesion 2: missed
    pred[1:5, 32:40, 2:12] = 9  # nowhere near a lesion: false positive
    return pred, truth


def test_matching_counts_detection_and_classes_by_the_lesion_detection_rules():
    pred, truth = _instances()
    spacing = (2.0, 1.0, 1.0)
    m = match_lesions(pred, truth, spacing, pred_classes={5: "hcc", 6: "cyst", 9: "fnh"},
                      truth_classes={1: "hcc", 2: "cyst", 3: "fnh"})
    by_id = {r["id"]: r for r in m["truth"]}
    assert by_id[1]["detected"] and by_id[1]["match"] == 5 and by_id[1]["predicted_class"] == "hcc"
    assert not by_id[2]["detected"] and by_id[2]["predicted_class"] is None
    assert not by_id[3]["detected"] and by_id[3]["band"] == "0-10"
    assert by_id[1]["diameter_mm"] == pytest.approx((6 * 800 / np.pi) ** (1 / 3), abs=0.01)
    assert [r["true_positive"] for r in m["pred"]] == [True, True, False]
    # the same verdicts as lesion_detection on the binary maps
    binary = lesion_detection(np.where(pred > 0, 2, 0), np.where(truth > 0, 2, 0), spacing)
    assert sorted(d["detected"] for d in binary["lesions"]) == sorted(r["detected"] for r in m["truth"])
    assert binary["true_positive_pred"] == sum(r["true_positive"] for r in m["pred"])


def test_summary_over_cases_gives_recall_precision_bands_and_class_accuracy():
    pred, truth = _instances()
    spacing = (2.0, 1.0, 1.0)
    names = ["hcc", "cyst", "fnh"]
    right = match_lesions(pred, truth, spacing, pred_classes={5: "hcc"}, truth_classes={1: "hcc", 2: "cyst", 3: "fnh"})
    wrong = match_lesions(pred, truth, spacing, pred_classes={5: "fnh"}, truth_classes={1: "hcc", 2: "cyst", 3: "fnh"})
    s = summarise_matches([right, wrong], class_names=names)
    # lesions >= 10 mm: 1 and 2 in each case, 1 found each time
    assert (s["true_lesions"], s["detected"], s["recall"]) == (4, 2, 0.5)
    # predicted >= 10 mm: 5 (560 mm^3, true) and 9 (640 mm^3, false) per case; 6 (320 mm^3) is under 10 mm
    assert (s["pred_lesions"], s["true_positive_pred"]) == (4, 2)
    assert s["precision_by_band"]["0-10"] == [2, 2] and s["precision_by_band"]["10-20"] == [2, 4]
    assert s["recall_by_band"]["0-10"] == [0, 2] and s["recall_by_band"]["10-20"] == [2, 4]
    assert s["class_accuracy"] == 0.5
    assert s["classification"]["confusion_matrix"][0] == [1, 0, 1]  # one hcc right, one called fnh
    with pytest.raises(ValueError, match="one grid"):
        match_lesions(pred, truth[:, :, :40], spacing)


def test_a_perfect_prediction_of_a_phantom_scores_perfectly():
    from keras_liver.phantoms import dce_case

    case = dce_case(3, shape=(12, 48, 48), n_frames=4, n_lesions=3)
    instance = case.instance.array
    classes = {d["id"]: d["class"] for d in case.info["lesions"]}
    m = match_lesions(instance, instance, case.label.spacing, pred_classes=classes, truth_classes=classes)
    s = summarise_matches([m], min_diameter_mm=0.0)
    assert s["recall"] == s["precision"] == s["class_accuracy"] == 1.0
    assert s["true_lesions"] == len(np.unique(instance)) - 1
