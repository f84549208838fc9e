import json

import numpy as np
import pytest

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io import Volume
from keras_liver.preprocess import Fingerprint


def _case(rng, shape, spacing, mean, std):
    image = np.full(shape, -1000.0, np.float32)
    label = np.zeros(shape, np.uint8)
    label[1:-1, 2:-2, 2:-2] = 1
    label[2, 3:5, 3:5] = 2
    image[label > 0] = rng.normal(mean, std, (label > 0).sum())
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    return Volume(image, affine), Volume(label, affine)


def test_statistics_are_those_of_the_pooled_foreground(rng):
    cases = [_case(rng, (5, 13, 11), (2.5, 0.8, 0.8), 100, 20), _case(rng, (7, 9, 15), (1.0, 0.7, 0.7), 60, 10)]
    fp = Fingerprint.compute(cases, max_samples_per_case=10**6)
    pooled = np.concatenate([img.array[lab.array > 0] for img, lab in cases]).astype(np.float64)
    assert fp.percentile_00_5 == pytest.approx(np.percentile(pooled, 0.5))
    assert fp.percentile_99_5 == pytest.approx(np.percentile(pooled, 99.5))
    assert fp.mean == pytest.approx(pooled.mean()) and fp.std == pytest.approx(pooled.std())
    assert fp.percentile_00_5 > -1000  # background air is not foreground
    assert fp.n_cases == 2 and fp.n_samples == pooled.size
    assert fp.shapes == ((5, 13, 11), (7, 9, 15))
    x = np.array([-1000.0, fp.mean, 1e4])
    expected = (np.clip(x, fp.percentile_00_5, fp.percentile_99_5) - fp.mean) / fp.std
    np.testing.assert_allclose(fp.normalize(x[None]), expected[None], rtol=1e-5, atol=1e-5)


def test_sampling_caps_voxels_per_case(rng):
    cases = [_case(rng, (5, 13, 11), (1, 1, 1), 100, 20)]
    assert Fingerprint.compute(cases, max_samples_per_case=50).n_samples == 50
    assert Fingerprint.compute(cases, foreground_labels=[2]).n_samples == 4


def test_json_round_trip_and_bad_files(tmp_path, rng):
    fp = Fingerprint.compute([_case(rng, (5, 13, 11), (2.5, 0.8, 0.8), 100, 20)])
    path = fp.save(tmp_path / "fingerprint.json")
    assert json.loads(path.read_text())["percentile_99_5"] == fp.percentile_99_5
    assert Fingerprint.load(path) == fp
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FileFormatError, match="bad.json"):
        Fingerprint.load(tmp_path / "bad.json")
    with pytest.raises(MissingPathError, match="nope.json"):
        Fingerprint.load(tmp_path / "nope.json")


def test_target_spacing_median_and_anisotropy_rule():
    iso = Fingerprint(0, 1, 0, 1, 0, spacings=((1.0, 0.8, 0.8), (1.5, 0.7, 0.7), (2.0, 0.9, 0.9)))
    assert iso.target_spacing() == pytest.approx((1.5, 0.8, 0.8))
    thick = [(5.0, 0.7, 0.7)] * 8 + [(1.0, 0.7, 0.7), (1.25, 0.7, 0.7)]
    fp = Fingerprint(0, 1, 0, 1, 0, spacings=tuple(thick))
    assert fp.median_spacing()[0] == 5.0
    # 10th percentile of z spacings, since 5.0 > 3 * 0.7
    assert fp.target_spacing()[0] == pytest.approx(np.percentile([s[0] for s in thick], 10))


def test_no_cases_or_no_foreground_is_an_error(rng):
    with pytest.raises(ConfigError, match="at least one"):
        Fingerprint.compute([])
    image, label = _case(rng, (5, 13, 11), (1, 1, 1), 100, 20)
    with pytest.raises(ConfigError, match="no foreground"):
        Fingerprint.compute([(image, label.replace(np.zeros_like(label.array)))])
