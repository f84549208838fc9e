import numpy as np
import pytest
import skimage.feature

from keras_liver.errors import ImageValueError
from keras_liver.features import (
    hog_features,
    hog_map,
    lesion_boxes,
    lesion_hog_features,
    series_lesion_hog_features,
    slice_hog_features,
)
from keras_liver.phantoms import ct_case, dce_case
from keras_liver.preprocess import window


@pytest.mark.parametrize("params", [
    {},
    {"orientations": 6, "pixels_per_cell": (5, 7), "cells_per_block": (2, 3), "block_norm": "L2-Hys"},
    {"orientations": 12, "pixels_per_cell": (4, 4), "cells_per_block": (1, 1), "block_norm": "L1"},
])
def test_same_numbers_as_scikit_image(rng, params):
    image = rng.normal(0, 1, (53, 47))
    np.testing.assert_array_equal(hog_features(image, **params), skimage.feature.hog(image, **params))


def test_window_is_applied_before_hog(rng):
    hu = rng.normal(60, 80, (40, 40))
    expected = skimage.feature.hog(window(hu, preset="liver").astype(np.float64))
    np.testing.assert_allclose(hog_features(hu, window="liver"), expected, rtol=1e-6)


def test_too_small_or_wrong_rank_images_are_refused():
    with pytest.raises(ImageValueError, match="smaller than one block"):
        hog_features(np.zeros((20, 40)))
    with pytest.raises(ImageValueError, match="2D"):
        hog_features(np.zeros((3, 40, 40)))


def test_slice_features_in_worker_processes_match_serial(rng):
    volume = rng.normal(0, 1, (3, 24, 32)).astype(np.float32)
    serial = slice_hog_features(volume, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    assert serial.shape == (3, len(hog_features(volume[0], cells_per_block=(2, 2))))
    np.testing.assert_array_equal(slice_hog_features(volume, workers=2, cells_per_block=(2, 2)), serial)


@pytest.mark.parametrize("axis, angle_bin", [("x", 0), ("y", 4), ("diag", 2)])
def test_hog_map_puts_an_edge_in_its_orientation_bin(axis, angle_bin):
    yy, xx = np.mgrid[:41, :43].astype(np.float32)
    image = {"x": xx > 21, "y": yy > 20, "diag": (xx + yy) > 41}[axis].astype(np.float32)
    energy = hog_map(image)
    assert energy.shape == (41, 43, 9)
    edge = energy.sum(-1) > 0.1
    assert edge.any()
    dominant = energy[edge].argmax(-1)
    assert np.all(dominant == angle_bin)


def test_hog_map_cells_are_scikit_image_cell_histograms(rng):
    image = rng.random((40, 56)).astype(np.float32)
    cells = hog_map(image, normalize=False)[4::8, 4::8]
    # one-cell blocks with L1 normalisation expose scikit-image's cell histograms
    sk = skimage.feature.hog(image, pixels_per_cell=(8, 8), cells_per_block=(1, 1), block_norm="L1",
                             feature_vector=False)[:, :, 0, 0, :]
    np.testing.assert_allclose(cells / (cells.sum(-1, keepdims=True) + 1e-5), sk, atol=1e-6)


def test_hog_map_is_contrast_invariant_and_handles_series(rng):
    series = rng.normal(0, 1, (2, 3, 24, 26)).astype(np.float32)
    energy = hog_map(series)
    assert energy.shape == (2, 3, 24, 26, 9) and energy.dtype == np.float32
    np.testing.assert_allclose(hog_map(10.0 * series), energy, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hog_map(series[1, 2]), hog_map(series[1:2, 2:3])[0, 0], rtol=1e-5, atol=1e-6)


def test_lesion_features_one_row_per_tumour():
    case = ct_case(2, shape=(19, 96, 96), n_tumours=3)
    feats, lesions = lesion_hog_features(case.image, case.label, window="liver")
    boxes = lesion_boxes(case.label)
    assert feats.shape == (len(boxes), 324)  # 32x32 ROI, 8x8 cells, 2x2 blocks: 3x3 blocks x 36
    assert len(boxes) >= 1 and lesions == boxes
    for d in boxes:
        y0, y1, x0, x1 = d["box"]
        assert (case.label.array[d["slice"], y0:y1, x0:x1] == 2).any()
    assert [d["voxels"] for d in boxes] == sorted((d["voxels"] for d in boxes), reverse=True)


def test_series_features_change_with_enhancement():
    case = dce_case(4, lesion_class="hcc", shape=(12, 48, 48), n_frames=5)
    feats = series_lesion_hog_features(case.image, case.label)
    per_frame = feats.reshape(5, -1)
    assert per_frame.shape[1] == 324
    assert not np.allclose(per_frame[0], per_frame[2])
    with pytest.raises(ImageValueError, match="lesion label"):
        series_lesion_hog_features(case.image, np.zeros(case.label.array.shape, np.uint8))


def test_hog_map_of_a_windowed_ct_is_finite_and_bounded():
    """Windowing leaves large exactly-flat regions, where box-filter rounding once gave NaN."""
    case = ct_case(0, shape=(3, 256, 256), noise_sigma=20)
    energy = hog_map(case.image, window="liver")
    assert np.isfinite(energy).all()
    assert energy.min() >= 0 and energy.max() < 3.0
    assert (energy.sum(-1) == 0).mean() > 0.1  # flat air and clipped regions have no orientation energy
