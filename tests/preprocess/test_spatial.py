import json

import numpy as np
import pytest
from scipy import ndimage

from keras_liver.errors import GeometryError, ImageValueError
from keras_liver.io import Volume
from keras_liver.preprocess import SpatialPreprocessor, SpatialRecord

SHAPE = (13, 29, 31)
SPACING = (2.5, 0.7, 0.9)


def _affine(spacing=SPACING):
    # an oblique-free LPS-like grid with an origin, voxel (x, y, z) -> RAS
    return np.array([[-spacing[2], 0, 0, 40.0], [0, -spacing[1], 0, 25.0], [0, 0, spacing[0], -60.0], [0, 0, 0, 1]])


def _labels(rng):
    label = np.zeros(SHAPE, np.uint8)
    blobs = ndimage.gaussian_filter(rng.standard_normal(SHAPE), 2.0)
    label[blobs > 0.02] = 1
    label[(blobs > 0.08)] = 2
    label[:, :3] = 0
    return label


def _case(rng):
    image = Volume(rng.normal(100, 20, SHAPE).astype(np.float32), _affine(), meta={"source": "x.nii.gz"})
    return image, image.replace(_labels(rng))


@pytest.mark.parametrize("target", [(1.25, 0.35, 0.45), (1.7, 0.5, 0.6), None])
def test_label_round_trip_is_exact_when_not_downsampling(rng, target):
    image, label = _case(rng)
    prep = SpatialPreprocessor(target, crop_margin_mm=3.0, pad_multiple=8)
    out_image, out_label, record = prep(image, label, crop_mask=label.array > 0)
    assert all(n % 8 == 0 for n in out_image.spatial_shape)
    assert out_label.array.dtype == np.uint8
    assert set(np.unique(out_label.array)) <= {0, 1, 2}
    back = record.invert(out_label.array)
    assert back.array.shape == SHAPE
    np.testing.assert_array_equal(back.array, label.array)
    np.testing.assert_allclose(back.affine, image.affine)
    assert back.meta["source"] == "x.nii.gz"


def test_downsampling_restores_the_grid_and_invents_no_label(rng):
    image, label = _case(rng)
    _, out_label, record = SpatialPreprocessor((5.0, 1.4, 1.8))(image, label)
    assert out_label.spatial_shape == (6, 14, 16)
    back = record.invert(out_label.array).array
    assert back.shape == SHAPE and set(np.unique(back)) <= set(np.unique(label.array))
    truth, got = label.array > 0, back > 0
    assert 2 * (truth & got).sum() / (truth.sum() + got.sum()) > 0.8


def test_affines_follow_every_step(rng):
    """An image whose value is the world x coordinate must read the same after any step."""
    image, _ = _case(rng)
    ii, jj, kk = np.meshgrid(np.arange(SHAPE[2]), np.arange(SHAPE[1]), np.arange(SHAPE[0]), indexing="ij")
    world = image.affine @ np.stack([ii, jj, kk, np.ones_like(ii)]).reshape(4, -1)
    ramp = world[0].reshape(ii.shape).transpose(2, 1, 0).astype(np.float32)  # back to (z, y, x)
    mask = np.zeros(SHAPE, bool)
    mask[4:9, 10:20, 5:22] = True
    prep = SpatialPreprocessor((1.1, 0.45, 0.6), crop_margin_mm=2.0, pad_multiple=16, pad_value=np.nan)
    out, _, record = prep(image.replace(ramp), crop_mask=mask)
    z, y, x = np.nonzero(np.isfinite(out.array))
    predicted = (out.affine @ np.stack([x, y, z, np.ones_like(x)]))[0]
    crop = record.steps[0]
    cropped = ramp[tuple(slice(a, b) for a, b in zip(crop["start"], crop["stop"]))]
    # linear interpolation holds between the outermost voxel centres of the crop; beyond them it is clamped
    inner = (predicted > cropped.min() + SPACING[2]) & (predicted < cropped.max() - SPACING[2])
    assert inner.mean() > 0.8
    np.testing.assert_allclose(out.array[z, y, x][inner], predicted[inner], atol=1e-3)
    assert record.output_shape == out.spatial_shape


def test_probabilities_invert_with_background_outside_the_crop(rng):
    image, label = _case(rng)
    prep = SpatialPreprocessor((1.25, 0.35, 0.45), crop_margin_mm=0.0, pad_multiple=4)
    _, out_label, record = prep(image, label, crop_mask=label.array == 2)
    probs = np.eye(3, dtype=np.float32)[out_label.array]
    back = record.invert(probs, kind="probabilities").array
    assert back.shape == SHAPE + (3,)
    np.testing.assert_allclose(back.sum(-1), 1.0, atol=1e-5)
    outside = np.ones(SHAPE, bool)
    crop = [s for s in record.steps if s["op"] == "crop"][0]
    (z0, z1), (y0, y1), (x0, x1) = zip(crop["start"], crop["stop"])
    outside[z0:z1, y0:y1, x0:x1] = False
    assert np.all(back[outside][:, 0] == 1.0)
    inside_crop = ~outside
    agree = (back.argmax(-1) == label.array)[inside_crop].mean()
    assert agree > 0.97


def test_record_survives_json(rng):
    image, label = _case(rng)
    _, out_label, record = SpatialPreprocessor((1.7, 0.5, 0.6), pad_multiple=8)(image, label, crop_mask=label.array)
    again = SpatialRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    np.testing.assert_array_equal(again.invert(out_label.array).array, label.array)


def test_series_frames_get_the_same_steps(rng):
    image, label = _case(rng)
    series = Volume(np.stack([image.array, image.array * 2]), image.affine)
    prep = SpatialPreprocessor((1.7, 0.5, 0.6), pad_multiple=8, pad_value=0.0)
    out_series, _, _ = prep(series, crop_mask=label.array > 0)
    out_image, _, _ = prep(image, crop_mask=label.array > 0)
    np.testing.assert_allclose(out_series.array[0], out_image.array, atol=1e-4)
    np.testing.assert_allclose(out_series.array[1], 2 * out_image.array, rtol=1e-5, atol=1e-3)


def test_bad_input_names_the_problem(rng):
    image, label = _case(rng)
    with pytest.raises(ImageValueError, match="empty"):
        SpatialPreprocessor()(image, crop_mask=np.zeros(SHAPE, bool))
    with pytest.raises(GeometryError, match="target_spacing"):
        SpatialPreprocessor((1.0, 0.0, 1.0))
    with pytest.raises(GeometryError, match="target_spacing"):
        SpatialPreprocessor((1.0, -2.0, 1.0))
    with pytest.raises(GeometryError, match="crop_mask"):
        SpatialPreprocessor()(image, crop_mask=np.ones((3, 3, 3), bool))
    with pytest.raises(GeometryError, match="Volume"):
        SpatialPreprocessor()(image.array)
    _, _, record = SpatialPreprocessor(pad_multiple=8)(image)
    with pytest.raises(GeometryError, match="preprocessed grid"):
        record.invert(label.array)
    nan_image = image.array.copy()
    nan_image[0, 0, 0] = np.nan
    with pytest.raises(ImageValueError, match="NaN"):
        SpatialPreprocessor()(image.replace(nan_image))


def test_antialiased_downsampling_averages_each_voxels_footprint():
    from keras_liver.preprocess import spatial

    stripes = np.zeros((3, 7, 36), np.float32)
    stripes[..., ::2] = 1.0  # one-voxel stripes along x: a coarser grid sees half of each voxel lit
    sampled = spatial.resize(stripes, (3, 7, 12), order=1)
    averaged = spatial.resize(stripes, (3, 7, 12), order=1, antialias=True)
    assert np.abs(sampled - 0.5).min() > 0.4           # one sample of three: all or nothing
    np.testing.assert_allclose(averaged, 0.5, atol=0.12)  # the footprint's share
    flat = np.full((5, 6, 7), 0.25, np.float32)
    np.testing.assert_allclose(spatial.resize(flat, (2, 3, 7), order=1, antialias=True), 0.25, rtol=1e-6)
    up = spatial.resize(stripes, (3, 14, 36), order=1, antialias=True)  # growing axes are not smoothed
    np.testing.assert_array_equal(up, spatial.resize(stripes, (3, 14, 36), order=1))


def test_probabilities_invert_antialiased_only_when_asked():
    # the model's grid is four times finer in plane than the original one
    fine = SpatialRecord((4, 6, 6), np.eye(4), {}, (
        {"op": "resample", "shape_before": (4, 6, 6), "shape_after": (4, 24, 24)},))
    lit = np.zeros((4, 24, 24, 2), np.float32)
    lit[..., 0] = 1
    lit[:, :, ::4, 0], lit[:, :, ::4, 1] = 0, 1  # one column in four is class 1
    plain = fine.invert(lit, kind="probabilities").array
    smooth = fine.invert(lit, kind="probabilities", antialias=True).array
    assert plain.shape == smooth.shape == (4, 6, 6, 2)
    assert np.abs(smooth[..., 1] - 0.25).max() < 0.15 < np.abs(plain[..., 1] - 0.25).max()
    labels = fine.invert(lit.argmax(-1).astype(np.uint8), kind="label", antialias=True).array
    np.testing.assert_array_equal(labels, fine.invert(lit.argmax(-1).astype(np.uint8), kind="label").array)
