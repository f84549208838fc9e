import numpy as np
import pytest

from keras_liver.errors import ConfigError, ImageValueError, KerasLiverError
from keras_liver.preprocess import WINDOW_PRESETS, dce_normalize, relative_enhancement, window, window_bounds, zscore


def test_liver_window_maps_bounds_and_centre():
    hu = np.array([[-1000, -45, 30, 105, 900]], np.int16)
    out = window(hu, preset="liver")
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(window(hu, preset="liver", rescale=False), [[-45, -45, 30, 105, 105]])


def test_level_and_width_override_the_preset():
    assert window_bounds(preset="abdomen") == (-150.0, 250.0)
    assert window_bounds(level=0, preset="abdomen") == (-200.0, 200.0)
    assert window_bounds(level=40, width=80) == (0.0, 80.0)
    assert set(WINDOW_PRESETS) >= {"liver", "abdomen"}


@pytest.mark.parametrize("kwargs, word", [
    ({"level": 40, "width": 0}, "width"),
    ({"level": 40, "width": -5}, "width"),
    ({"preset": "brain-ish"}, "preset"),
    ({"level": 40}, "level and width"),
])
def test_bad_window_arguments_name_the_argument(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        window(np.zeros((3, 3)), **kwargs)


def test_nan_and_inf_are_refused():
    image = np.zeros((3, 4, 5), np.float32)
    image[1, 2, 3] = np.nan
    image[0, 0, 0] = np.inf
    with pytest.raises(ImageValueError, match="2 voxel"):
        window(image, preset="liver")
    with pytest.raises(KerasLiverError, match="array"):
        zscore(image)


def test_zscore_uses_the_mask_statistics_only(rng):
    image = np.zeros((5, 17, 19), np.float32)
    mask = np.zeros(image.shape, bool)
    mask[1:4, 3:14, 4:15] = True
    image[mask] = rng.normal(300.0, 40.0, mask.sum())
    out = zscore(image, mask)
    assert abs(out[mask].mean()) < 1e-5 and abs(out[mask].std() - 1.0) < 1e-5
    # background keeps its offset relative to the body statistics
    np.testing.assert_allclose(out[~mask], -image[mask].mean() / image[mask].std(), rtol=1e-5)
    # Otsu finds the same body when no mask is given
    np.testing.assert_allclose(zscore(image), out, atol=1e-5)


def test_dce_normalize_keeps_enhancement():
    rng = np.random.default_rng(5)
    base = rng.uniform(100, 200, (4, 9, 11)).astype(np.float32)
    gain = np.array([1.0, 1.0, 1.8, 2.4, 2.0], np.float32)
    series = base[None] * gain[:, None, None, None]
    mask = np.ones(base.shape, bool)
    out = dce_normalize(series, mask, baseline_frames=2)
    mean, std = base.astype(np.float64).mean(), base.astype(np.float64).std()
    np.testing.assert_allclose(out, (series - mean) / std, rtol=1e-4, atol=1e-4)
    # a per-frame z-score would make every frame identical; here later frames are brighter
    assert out[3].mean() > out[2].mean() > out[0].mean()
    with pytest.raises(ConfigError, match="baseline_frames"):
        dce_normalize(series, mask, baseline_frames=6)


def test_relative_enhancement_recovers_the_gain():
    base = np.full((2, 3, 4), 250.0, np.float32)
    gain = np.array([1.0, 1.5, 3.0], np.float32)
    out = relative_enhancement(base[None] * gain[:, None, None, None])
    np.testing.assert_allclose(out[:, 1, 2, 3], gain - 1.0, rtol=1e-6)
