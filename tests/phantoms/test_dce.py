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
    case = dce_case(seed, "hcc", SHAPE, n_lesions=1, lesion_diameter_mm=50)
    lesion, liver = _curves(case)
    arterial = _frame(case, 0.25)  # the (early) arterial frame
    assert lesion[arterial] > liver[arterial]
    assert lesion[-1] < liver[-1]


@pytest.mark.parametrize("seed", [0, 1])
def test_cyst_is_flat_within_noise(seed):
    case = dce_case(seed, "cyst", SHAPE, n_lesions=1, lesion_diameter_mm=50)
    lesion, liver = _curves(case)
    assert np.ptp(lesion) / lesion.mean() < 0.01
    assert np.ptp(liver) / liver.mean() > 0.3
    still = dce_case(seed, "cyst", SHAPE, n_lesions=1, lesion_diameter_mm=50, motion=False)
    noisy, _ = _curves(still, still.image.array)
    n = (still.label.array == 2).sum()
    # frame-to-frame changes of the lesion mean are what the noise alone gives
    assert np.ptp(noisy) < 6 * still.info["noise_sigma"] / np.sqrt(n)


@pytest.mark.parametrize("seed", [0, 1])
def test_haemangioma_fills_in_centripetally(seed):
    case = dce_case(seed, "haemangioma", SHAPE, n_lesions=1, lesion_diameter_mm=55)
    clean, mask = case.clean.array, case.label.array == 2
    pre = clean[0][mask]
    area = [(clean[f][mask] > 1.3 * pre).sum() for f in range(1, clean.shape[0])]
    assert all(b >= a for a, b in zip(area, area[1:]))
    assert area[-1] > area[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_metastasis_rim_brighter_than_core(seed):
    case = dce_case(seed, "metastasis", SHAPE, n_lesions=1, lesion_diameter_mm=55)
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
    instances = load_volume(tmp_path / "dce-lesions-2.nii.gz")
    np.testing.assert_array_equal(instances.array, case.instance.array)
    assert [d["class"] for d in side["lesions"]] == [d["class"] for d in case.info["lesions"]]
    assert side["lesions"][0]["id"] == 1 and side["lesions"][0]["class"] == "haemangioma"
    rows = list(csv.DictReader(open(tmp_path / "cases.csv")))
    assert [r["lesion_class"] for r in rows] == list(LESION_CLASSES)
    assert [int(r["n_lesions"]) for r in rows] == [len(json.loads((tmp_path / f"dce-{n}.json").read_text())["lesions"])
                                                  for n in range(5)]


def test_very_coarse_grids_still_build():
    """A 16x16 matrix makes voxels of about 20 mm, coarser than the great vessels (once a crash)."""
    for seed in range(10):
        case = dce_case(seed, shape=(6, 16, 16), n_frames=4)
        assert case.image.shape == (4, 6, 16, 16) and (case.label.array == 2).any()


def test_default_series_are_at_clinical_resolution_with_one_to_four_lesions_of_mixed_classes():
    counts, mixed = set(), False
    for seed in range(8):
        case = dce_case(seed, n_frames=6)
        assert case.image.shape == (6, 32, 128, 128)
        assert case.image.spacing[1] <= 3.0 and case.image.spacing[0] <= 6.0
        lesions = case.info["lesions"]
        counts.add(len(lesions))
        assert 1 <= len(lesions) <= 4 and lesions[0]["id"] == 1
        assert lesions[0]["class"] == case.lesion_class and 20 <= lesions[0]["diameter_mm"] <= 60
        for extra in lesions[1:]:
            assert 8 - 1e-6 <= extra["diameter_mm"] <= 0.8 * lesions[0]["diameter_mm"] + 1e-6
        mixed |= len({d["class"] for d in lesions}) > 1
        # the instance map is the lesion label split by id; ids are those of the lesion list
        instance = case.instance.array
        np.testing.assert_array_equal(instance > 0, case.label.array == 2)
        assert set(np.unique(instance)) - {0} <= {d["id"] for d in lesions}
        assert len(case.info["motion_shift_zyx_mm_and_zscale"]) == 6
    assert len(counts) >= 2 and mixed


def test_each_lesion_enhances_as_its_own_class():
    """A cyst beside an HCC stays flat while the HCC washes in: every lesion is painted with its class."""
    checked = 0
    for seed in range(40):
        case = dce_case(seed, "hcc", SHAPE, n_lesions=4, lesion_diameter_mm=50, motion=False)
        clean, instance = case.clean.array, case.instance.array
        for lesion in case.info["lesions"][1:]:
            voxels = instance == lesion["id"]
            if lesion["class"] != "cyst" or voxels.sum() < 4:
                continue
            cyst = clean[:, voxels].mean(axis=1)
            hcc = clean[:, instance == 1].mean(axis=1)
            assert np.ptp(cyst) / cyst.mean() < 0.01 < np.ptp(hcc) / hcc.mean()
            checked += 1
        if checked:
            break
    assert checked
    with pytest.raises(ConfigError, match="n_lesions=5"):
        dce_case(0, shape=SHAPE, n_lesions=5)
