import csv
import json

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.io import load_volume
from keras_liver.phantoms import LESION_CLASSES, dce_case, write_dce_dataset

SHAPE = (12, 64, 64)


def _curves(case, series=None):
    series = case.clean.array if series is None else series
    label = case.label.array
    return series[:, label == 2].mean(axis=1), series[:, label == 1].mean(axis=1)


def _frame(case, minutes):
    times = np.asarray(case.image.meta["frame_times_s"]) / 60.0 - case.info["injection_time_s"] / 60.0
    return int(np.argmin(np.abs(times - minutes)))


def test_deterministic_and_shaped():
    a, b = dce_case(2, "hcc", SHAPE), dce_case(2, "hcc", SHAPE)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    assert a.image.shape == (8, *SHAPE) and a.image.array.dtype == np.float32
    assert a.label.shape == SHAPE and a.lesion_class == "hcc"
    assert len(a.image.meta["frame_times_s"]) == 8
    assert np.all(np.diff(a.image.meta["frame_times_s"]) > 0)
    assert 250 <= a.image.meta["frame_times_s"][-1] <= 360  # about 5 minutes
    assert (a.label.array == 2).sum() > 20
    drawn = dce_case(3, shape=SHAPE, n_frames=None)
    assert 6 <= drawn.image.shape[0] <= 12 and drawn.lesion_class in LESION_CLASSES
    with pytest.raises(ConfigError, match="lesion_class='lymphoma'"):
        dce_case(0, "lymphoma", SHAPE)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hcc_washes_in_then_out(seed):
    case = dce_case(seed, "hcc", SHAPE, lesion_diameter_mm=50)
    lesion, liver = _curves(case)
    arterial = _frame(case, 0.25)  # the (early) arterial frame
    assert lesion[arterial] > liver[arterial]
    assert lesion[-1] < liver[-1]


@pytest.mark.parametrize("seed", [0, 1])
def test_cyst_is_flat_within_noise(seed):
    case = dce_case(seed, "cyst", SHAPE, lesion_diameter_mm=50)
    lesion, liver = _curves(case)
    assert np.ptp(lesion) / lesion.mean() < 0.01
    assert np.ptp(liver) / liver.mean() > 0.3
    still = dce_case(seed, "cyst", SHAPE, lesion_diameter_mm=50, motion=False)
    noisy, _ = _curves(still, still.image.array)
    n = (still.label.array == 2).sum()
    # frame-to-frame changes of the lesion mean are what the noise alone gives
    assert np.ptp(noisy) < 6 * still.info["noise_sigma"] / np.sqrt(n)


@pytest.mark.parametrize("seed", [0, 1])
def test_haemangioma_fills_in_centripetally(seed):
    case = dce_case(seed, "haemangioma", SHAPE, lesion_diameter_mm=55)
    clean, mask = case.clean.array, case.label.array == 2
    pre = clean[0][mask]
    area = [(clean[f][mask] > 1.3 * pre).sum() for f in range(1, clean.shape[0])]
    assert all(b >= a for a, b in zip(area, area[1:]))
    assert area[-1] > area[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_metastasis_rim_brighter_than_core(seed):
    case = dce_case(seed, "metastasis", SHAPE, lesion_diameter_mm=55)
    mask = case.label.array == 2
    core = ndimage.binary_erosion(mask, iterations=1)
    rim = mask & ~core
    assert core.sum() > 3
    for f in range(2, case.clean.shape[0]):
        assert case.clean.array[f][rim].mean() > case.clean.array[f][core].mean()


def test_written_dce_dataset(tmp_path):
    write_dce_dataset(tmp_path, 5, seed=9, balanced=True, shape=(9, 40, 40))
    case = dce_case(9 + 2, "haemangioma", (9, 40, 40))
    img = nib.load(str(tmp_path / "dce-2.nii.gz"))
    assert img.shape == (40, 40, 9, 8)  # time on the 4th axis
    series = load_volume(tmp_path / "dce-2.nii.gz")
    np.testing.assert_allclose(series.array, case.image.array)
    np.testing.assert_allclose(series.affine, case.image.affine, atol=1e-5)
    assert series.meta["frame_times_s"] == pytest.approx(case.image.meta["frame_times_s"])
    side = json.loads((tmp_path / "dce-2.json").read_text())
    assert side["lesion_class"] == "haemangioma" and side["classes"] == list(LESION_CLASSES)
    seg = load_volume(tmp_path / "dce-seg-2.nii.gz")
    np.testing.assert_array_equal(seg.array, case.label.array)
    rows = list(csv.DictReader(open(tmp_path / "cases.csv")))
    assert [r["lesion_class"] for r in rows] == list(LESION_CLASSES)


def test_very_coarse_grids_still_build():
    """A 16x16 matrix makes voxels of about 20 mm, coarser than the great vessels (once a crash)."""
    for seed in range(10):
        case = dce_case(seed, shape=(6, 16, 16), n_frames=4)
        assert case.image.shape == (4, 6, 16, 16) and (case.label.array == 2).any()
