import numpy as np
import pytest

from keras_liver.errors import ImageValueError
from keras_liver.phantoms import ct_case
from keras_liver.preprocess import body_mask, liver_roi


def test_body_mask_fills_holes_and_drops_the_table():
    ct = np.full((5, 61, 63), -1000.0, np.float32)
    yy, xx = np.mgrid[:61, :63]
    disk = (yy - 28) ** 2 + (xx - 31) ** 2 < 16 ** 2
    ct[:, disk] = 40.0
    ct[:, (yy - 28) ** 2 + (xx - 31) ** 2 < 6 ** 2] = -900.0  # lung / gas inside the body
    ct[:, 57:59, 5:58] = 200.0  # a thin table below, more than the closing apart from the body
    mask = body_mask(ct)
    np.testing.assert_array_equal(mask[2], disk)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_liver_roi_contains_the_liver_and_is_much_smaller_than_the_scan(seed):
    case = ct_case(seed, shape=(23, 96, 96))
    roi = liver_roi(case.image)
    liver = case.label.array > 0
    assert (roi & liver).sum() / liver.sum() > 0.99
    idx = np.argwhere(roi)
    box = np.prod(idx.max(0) - idx.min(0) + 1)
    assert box < 0.6 * roi.size
    body = body_mask(case.image)
    assert (roi & ~body).sum() < 0.2 * roi.sum()


def test_roi_refuses_2d_and_nan():
    with pytest.raises(ImageValueError, match="3D"):
        body_mask(np.zeros((10, 10)))
    bad = np.zeros((3, 10, 10), np.float32)
    bad[1, 1, 1] = np.inf
    with pytest.raises(ImageValueError, match="NaN or Inf"):
        liver_roi(bad)
