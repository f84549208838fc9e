import numpy as np
import pytest

from keras_liver.errors import ImageValueError
from keras_liver.features import time_intensity_curves
from keras_liver.phantoms import dce_case


def test_curves_are_the_means_relative_to_the_precontrast_liver():
    label = np.zeros((3, 6, 7), np.uint8)
    label[1, 1:4, 1:4] = 1
    label[1, 4, 4] = 2
    series = np.ones((4,) + label.shape, np.float32)
    series[:, label == 1] = np.array([100, 150, 180, 160], np.float32)[:, None]
    series[:, label == 2] = np.array([100, 300, 200, 120], np.float32)[:, None]
    curves = time_intensity_curves(series, label)
    np.testing.assert_allclose(curves[:, 0], [1.0, 3.0, 2.0, 1.2])
    np.testing.assert_allclose(curves[:, 1], [1.0, 1.5, 1.8, 1.6])
    np.testing.assert_allclose(curves[:, 2], [1.0, 2.0, 200 / 180, 0.75], rtol=1e-6)


def test_phantom_hcc_washes_in_and_out():
    curves = time_intensity_curves(dce_case(3, "hcc").image, dce_case(3, "hcc").label)
    ratio = curves[:, 2]
    assert ratio.max() > ratio[0] and ratio[-1] < ratio.max()


def test_missing_lesion_is_an_error():
    with pytest.raises(ImageValueError, match="lesion"):
        time_intensity_curves(np.ones((2, 3, 4, 5)), np.ones((3, 4, 5), np.uint8))
