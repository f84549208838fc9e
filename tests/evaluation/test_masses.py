"""Masses outside the liver in a --variety phantom folder: the share a prediction calls liver or tumour."""

import numpy as np

from keras_liver.evaluation import evaluate_folder
from keras_liver.io import load_volume, save_volume
from keras_liver.phantoms import write_ct_dataset


def test_the_share_of_mass_voxels_called_liver_is_counted_by_site(tmp_path):
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "pred"
    write_ct_dataset(truth_dir, 3, seed=2, shape=(20, 64, 64), variety=True)
    pred_dir.mkdir()
    total = called = liver = 0
    for n in range(3):
        seg = load_volume(truth_dir / f"segmentation-{n}.nii.gz")
        pred = seg.array.copy()
        liver += int((pred > 0).sum())
        path = truth_dir / f"masses-{n}.nii.gz"
        if path.is_file():
            masses = load_volume(path).array
            total += int((masses > 0).sum())
            first = masses == 1
            pred[first] = 1  # the first mass of every case called liver
            called += int(first.sum())
        save_volume(seg.replace(pred), pred_dir / f"prediction-{n}.nii.gz")
    assert total > 0 and called > 0
    result = evaluate_folder(pred_dir, truth_dir, tmp_path / "report")
    masses = result["masses"]
    assert masses["voxels"] == total and masses["called_liver_or_tumour"] == called
    assert masses["share_called_liver_or_tumour"] == called / total
    assert sum(site["voxels"] for site in masses["by_site"].values()) == total
    assert "Masses outside the liver" in (tmp_path / "report" / "evaluation.md").read_text()
    # the tissue and mass maps beside the labels are never paired as labels: liver Dice is that of the error made
    assert np.isclose(result["liver_dice"]["global"], 2 * liver / (2 * liver + called))
    assert result["tumour_dice"]["global"] == 1.0
