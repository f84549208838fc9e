import numpy as np
import pytest

from keras_liver.errors import GeometryError, KerasLiverError
from keras_liver.io import Volume, spacing_from_affine


def test_spacing_comes_from_affine_in_zyx_order():
    affine = np.diag([0.7, 0.8, 2.5, 1.0])
    vol = Volume(np.zeros((3, 5, 7), np.int16), affine)
    assert vol.spacing == pytest.approx((2.5, 0.8, 0.7))
    assert spacing_from_affine(affine) == pytest.approx((2.5, 0.8, 0.7))


def test_world_coordinates_follow_xyz_index_convention():
    affine = np.diag([-0.7, 0.8, 2.5, 1.0])
    affine[:3, 3] = [10, 20, 30]
    vol = Volume(np.zeros((3, 5, 7)), affine)
    np.testing.assert_allclose(vol.world_coordinates((2, 4, 6)), [10 - 0.7 * 6, 20 + 0.8 * 4, 30 + 2.5 * 2])
    assert vol.orientation == "LAS"


@pytest.mark.parametrize("array", [np.zeros((4, 4)), np.zeros((1, 2, 3, 4, 5))])
def test_bad_rank_is_refused(array):
    with pytest.raises(GeometryError, match="3D"):
        Volume(array)


def test_singular_affine_and_bad_spacing_are_refused():
    with pytest.raises(GeometryError, match="singular"):
        Volume(np.zeros((2, 3, 4)), np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(KerasLiverError, match="positive"):
        Volume(np.zeros((2, 3, 4)), spacing=(1.0, -1.0, 1.0))


def test_replace_keeps_grid_and_checks_shape():
    vol = Volume(np.zeros((3, 5, 7)), np.diag([1.0, 2.0, 3.0, 1.0]), meta={"source": "a"})
    mask = vol.replace(np.ones((3, 5, 7), np.uint8), kind="mask")
    assert mask.meta == {"source": "a", "kind": "mask"}
    np.testing.assert_array_equal(mask.affine, vol.affine)
    with pytest.raises(GeometryError, match="spatial shape"):
        vol.replace(np.ones((3, 5, 6)))
    series = vol.replace(np.zeros((4, 3, 5, 7)))
    assert series.is_series and series.spatial_shape == (3, 5, 7)
