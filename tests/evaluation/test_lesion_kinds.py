"""Per-kind lesion recall from a phantom data set's cases.json, and false-positive lesions per case."""

import json
import shutil

import numpy as np

from keras_liver.evaluation import evaluate_folder
from keras_liver.io import load_volume, save_volume
from keras_liver.phantoms import write_ct_dataset


def test_a_perfect_prediction_finds_every_kind_and_an_extra_blob_is_one_false_positive(tmp_path):
    truth = tmp_path / "truth"
    write_ct_dataset(truth, 3, seed=41, shape=(20, 64, 64))
    pred = tmp_path / "pred"
    pred.mkdir()
    info = json.loads((truth / "cases.json").read_text())
    for n in range(3):
        shutil.copy(truth / f"segmentation-{n}.nii.gz", pred / f"prediction-{n}.nii.gz")
    result = evaluate_folder(pred, truth)
    kinds = {("rim-enhancing" if "enhancing_rim_hu" in les else "cystic" if les["kind"] == "cyst" else les["kind"])
             for case in info.values() for les in case["lesions"]}
    found = result["detection"]["by_kind"]
    assert set(found) <= kinds and found and all(f == n for f, n in found.values())
    assert result["detection"]["false_positive_lesions_per_case"] == 0.0
    label = load_volume(pred / "prediction-0.nii.gz")
    extra = label.array.copy()
    liver = np.argwhere(extra == 1)
    z, y, x = liver[len(liver) // 2]
    extra[z, y, x] = 2  # one voxel of tumour where there is none
    save_volume(label.replace(extra), pred / "prediction-0.nii.gz")
    again = evaluate_folder(pred, truth)
    assert again["cases"]["0"]["detection"]["false_positive_pred"] == 1
    assert again["detection"]["false_positive_lesions_per_case"] == 1 / 3
