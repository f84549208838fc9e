import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.layers import (
    AppendMasks,
    ArgMax,
    FingerprintNormalization,
    FoldTime,
    IntensityWindow,
    LesionCurves,
    ReduceDepth,
    SelectFrame,
    SeriesNormalization,
    SubtractionImages,
    UnfoldTime,
    intensity_layer,
    normalize_intensity_spec,
)
from keras_liver.preprocess import Fingerprint, dce_normalize, window


def test_window_layer_matches_numpy(rng):
    hu = rng.normal(0, 400, (2, 7, 9, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(IntensityWindow(-45, 105)(hu)), window(hu, preset="liver"), atol=1e-6)
    np.testing.assert_allclose(np.asarray(IntensityWindow(-45, 105, rescale=False)(hu)), np.clip(hu, -45, 105))
    with pytest.raises(ValueError, match="high"):
        IntensityWindow(10, 10)


def test_fingerprint_layer_matches_numpy(rng):
    fp = Fingerprint(percentile_00_5=-50.0, percentile_99_5=220.0, mean=95.0, std=40.0, median=96.0)
    hu = rng.normal(80, 200, (3, 5, 5)).astype("float32")
    layer = intensity_layer(fp.to_dict())
    assert isinstance(layer, FingerprintNormalization)
    np.testing.assert_allclose(np.asarray(layer(hu)), fp.normalize(hu), rtol=1e-5, atol=1e-5)


def test_intensity_specs():
    assert normalize_intensity_spec("abdomen") == {"type": "window", "low": -150.0, "high": 250.0}
    assert normalize_intensity_spec([-1, 2]) == {"type": "window", "low": -1.0, "high": 2.0}
    assert intensity_layer(None) is None
    with pytest.raises(ConfigError, match="high > low"):
        normalize_intensity_spec([5, 1])
    with pytest.raises(ConfigError, match="intensity"):
        normalize_intensity_spec(3.0)


def test_series_normalization_matches_dce_normalize(rng):
    series = rng.uniform(100, 300, (2, 4, 3, 5, 6)).astype("float32")
    series[:, 2:] *= 1.7
    out = np.asarray(SeriesNormalization(baseline_frames=2)(series[..., None]))[..., 0]
    for b in range(2):
        np.testing.assert_allclose(out[b], dce_normalize(series[b], np.ones((3, 5, 6), bool), baseline_frames=2),
                                   rtol=1e-3, atol=1e-3)


def test_fold_and_unfold_invert_each_other_with_free_time(rng):
    x = rng.random((2, 3, 4, 5, 1)).astype("float32")
    seq = keras.Input((None, 4, 5, 1))
    folded = FoldTime()(seq)
    model = keras.Model(seq, [folded, UnfoldTime()([folded, seq])])
    f, back = model(x)
    assert tuple(f.shape) == (6, 4, 5, 1)
    np.testing.assert_array_equal(np.asarray(f)[4], x[1, 1])  # sample 1, frame 1 -> row 1 * 3 + 1
    np.testing.assert_array_equal(np.asarray(back), x)


def test_small_layers(rng):
    x = rng.random((2, 4, 3, 5, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(ReduceDepth("max")(x)), x.max(1))
    np.testing.assert_allclose(np.asarray(ReduceDepth()(x)), x.mean(1), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(SelectFrame(-1)(x)), x[:, -1])
    np.testing.assert_array_equal(np.asarray(SelectFrame(2)(x)), x[:, 2])
    labels = ArgMax()(x)
    assert labels.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(labels), x.argmax(-1))
    for layer in (IntensityWindow(-1, 1), SeriesNormalization(2), SelectFrame(3), ReduceDepth("max")):
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()


def test_subtraction_images_add_each_frames_enhancement(rng):
    x = rng.normal(size=(2, 4, 3, 5, 6, 1)).astype(np.float32)
    out = SubtractionImages()(x).numpy()
    assert out.shape == (2, 4, 3, 5, 6, 2)
    np.testing.assert_array_equal(out[..., 0], x[..., 0])
    np.testing.assert_allclose(out[..., 1], x[..., 0] - x[:, :1, ..., 0], atol=1e-6)
    assert not out[:, 0, ..., 1].any()
    later = SubtractionImages(baseline_frame=2)(x).numpy()
    np.testing.assert_allclose(later[:, 3, ..., 1], x[:, 3, ..., 0] - x[:, 2, ..., 0], atol=1e-6)
    assert SubtractionImages.from_config(SubtractionImages(baseline_frame=2).get_config()).baseline_frame == 2
    with pytest.raises(ValueError, match="baseline_frame"):
        SubtractionImages(baseline_frame=-1)


def test_lesion_curves_are_the_numpy_curves_of_each_lesion(rng):
    from keras_liver.features import time_intensity_curves

    series = rng.uniform(50, 400, (3, 5, 4, 7, 6, 1)).astype(np.float32)
    masks = np.zeros((3, 4, 7, 6, 2), np.float32)
    masks[:, 1:3, 2:5, 1:3, 0] = 1  # the lesion
    masks[:, :, :, 3:, 1] = 1  # the liver beside it
    masks[2, 0, 0, 0, 0] = 1  # a lesion of another shape in the last crop
    masks[1, 1:4, 1:6, 0:3, 0] = 1  # a lesion 5 x 3 in-plane: a rim and a one-voxel-wide core
    out = LesionCurves()([series, masks]).numpy()
    assert out.shape == (3, 5, 5)
    cube = np.zeros((1, 3, 3), bool)
    cube[0] = True
    for k in range(3):
        lesion = masks[k, ..., 0] > 0
        label = np.where(lesion, 2, np.where(masks[k, ..., 1] > 0, 1, 0))
        np.testing.assert_allclose(out[k, :, :3], time_intensity_curves(series[k, ..., 0], label), rtol=1e-5)
        once = ndimage.binary_erosion(lesion, cube, border_value=1)
        twice = ndimage.binary_erosion(once, cube, border_value=1)
        liver0 = series[k, 0, ..., 0][masks[k, ..., 1] > 0].mean()
        assert (lesion & ~once).any()  # every test lesion has a rim
        np.testing.assert_allclose(out[k, :, 3], series[k, :, lesion & ~once, 0].mean(axis=0) / liver0, rtol=1e-5)
        core = twice if twice.any() else once if once.any() else lesion & ~once
        np.testing.assert_allclose(out[k, :, 4], series[k, :, core, 0].mean(axis=0) / liver0, rtol=1e-5)
    assert not ndimage.binary_erosion(masks[0, ..., 0] > 0, cube, border_value=1).any()  # lesion 0 has no core
    np.testing.assert_allclose(out[0, :, 4], out[0, :, 3], rtol=1e-6)  # so its core curve is the rim's
    empty = LesionCurves()([series, np.zeros_like(masks)]).numpy()  # no lesion, no liver: the crop's mean, no NaN
    crop = series[..., 0].mean(axis=(2, 3, 4))
    np.testing.assert_allclose(empty[:, :, 0], crop / crop[:, :1], rtol=1e-5)
    assert np.isfinite(empty).all()


def test_append_masks_puts_the_masks_beside_every_frame(rng):
    series = rng.normal(size=(2, 4, 3, 5, 6, 1)).astype(np.float32)
    masks = (rng.uniform(size=(2, 3, 5, 6, 2)) > 0.5).astype(np.float32)
    out = AppendMasks()([series, masks]).numpy()
    assert out.shape == (2, 4, 3, 5, 6, 3)
    np.testing.assert_array_equal(out[..., :1], series)
    for frame in range(4):
        np.testing.assert_array_equal(out[:, frame, ..., 1:], masks)
