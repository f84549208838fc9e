"""Frame alignment: known shifts found to a fraction of a voxel although every tissue changes its contrast,
shifts relative to the mean position, and a phantom's recorded breathing motion undone."""

import numpy as np
import pytest
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.phantoms import dce_case
from keras_liver.preprocess import align_frames, frame_shifts

SHAPE = (13, 40, 46)
TRUE = np.array([[0.7, -1.3, 0.4], [-0.9, 0.6, -0.5], [0.0, 1.9, 0.2], [1.4, -0.2, -0.8], [-0.2, 0.5, 1.1]])


def _anatomy(seed=0):
    """Four smooth tissues, each with its own enhancement over five frames (one darkens as others brighten)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(SHAPE), (1.5, 3, 3))
    tissue = np.digitize(field, np.quantile(field, [0.25, 0.5, 0.75]))
    curves = np.array([[10, 10, 10, 10, 10], [50, 90, 120, 110, 100], [80, 60, 40, 30, 30], [30, 160, 90, 70, 60]],
                      np.float32)  # (tissue, frame)
    clean = np.moveaxis(curves[tissue], -1, 0)
    return ndimage.gaussian_filter(clean, (0, 0.7, 0.7, 0.7)), rng


def _moved(clean, rng, shifts, noise=2.0):
    frames = [ndimage.shift(frame, s, order=3, mode="nearest") for frame, s in zip(clean, shifts)]
    return np.stack(frames).astype(np.float32) + rng.normal(0, noise, clean.shape).astype(np.float32)


def test_known_shifts_are_found_relative_to_the_mean_position_despite_changing_contrast():
    clean, rng = _anatomy()
    series = _moved(clean, rng, TRUE)
    found = frame_shifts(series)
    want = TRUE - TRUE.mean(axis=0)
    assert found.shape == (5, 3)
    np.testing.assert_allclose(found.sum(axis=0), 0.0, atol=1e-9)
    assert np.abs(found - want).max() < 0.2, (found, want)
    aligned, undone = align_frames(series, found)
    assert aligned.dtype == np.float32 and aligned.shape == series.shape and undone is not None
    # aligned, the frames agree with the clean series moved to the mean position, far better than before
    target = _moved(clean, rng, np.tile(-TRUE.mean(axis=0), (5, 1)), noise=0.0)
    inner = (slice(None), slice(3, -3), slice(4, -4), slice(4, -4))
    before = np.abs(series - target)[inner].mean()
    after = np.abs(aligned - target)[inner].mean()
    assert after < 0.6 * before, (before, after)
    assert np.abs(frame_shifts(aligned)).max() < 0.2  # nothing left to undo


def test_still_frames_stay_where_they_are():
    clean, rng = _anatomy(1)
    series = _moved(clean, rng, np.zeros((5, 3)), noise=1.0)
    aligned, shifts = align_frames(series)
    assert np.abs(shifts).max() < 0.15
    one = series[:1]
    np.testing.assert_array_equal(frame_shifts(one), np.zeros((1, 3)))
    np.testing.assert_array_equal(align_frames(one)[0], one)


def test_a_phantoms_recorded_breathing_motion_is_undone():
    case = dce_case(11, "hcc", (16, 64, 64), n_frames=6, n_lesions=1)
    recorded = np.array(case.info["motion_shift_zyx_mm_and_zscale"])[:, :3] / np.array(case.info["spacing_zyx_mm"])
    want = recorded - recorded.mean(axis=0)  # voxels, the generator's axes (the case's own array)
    found = frame_shifts(case.image.array)
    assert np.abs(want).max() > 0.3  # the case does move
    assert np.abs(found - want)[:, 1:].max() < 0.1  # in plane: a tenth of a voxel
    assert np.abs(found - want)[:, 0].max() < 0.25  # along z: breathing also scales the slices, not only shifts


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match=r"\(t, z, y, x\) series"):
        frame_shifts(np.zeros((4, 5, 6)))
    with pytest.raises(ConfigError, match="one \\(z, y, x\\) shift per frame"):
        align_frames(np.zeros((3, 4, 5, 6)), np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="iterations >= 1"):
        frame_shifts(np.zeros((3, 4, 5, 6)), iterations=0)
