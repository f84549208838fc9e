import numpy as np
import pytest

from helpers import ras_world
from keras_liver.errors import ConfigError
from keras_liver.io import orientation_code, reorient


def _affine(codes, spacing=(0.7, 0.9, 2.5), origin=(5.0, -3.0, 12.0)):
    axis = {"R": (0, 1), "L": (0, -1), "A": (1, 1), "P": (1, -1), "S": (2, 1), "I": (2, -1)}
    affine = np.zeros((4, 4))
    for col, code in enumerate(codes):
        row, sign = axis[code]
        affine[row, col] = sign * spacing[col]
    affine[:3, 3] = origin
    affine[3, 3] = 1
    return affine


def _assert_same_anatomy(array, affine, new_array, new_affine):
    # Oracle: every voxel keeps its value at its world position.
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in array.shape[-3:]], indexing="ij"), -1).reshape(-1, 3)
    world = ras_world(affine, grid)
    inv = np.linalg.inv(new_affine)
    ijk = world @ inv[:3, :3].T + inv[:3, 3]
    zyx = np.rint(ijk[:, ::-1]).astype(int)
    np.testing.assert_allclose(ijk[:, ::-1], zyx, atol=1e-6)
    got = new_array[..., zyx[:, 0], zyx[:, 1], zyx[:, 2]]
    want = array[..., grid[:, 0], grid[:, 1], grid[:, 2]]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("source", ["RAS", "LPS", "LAS", "PIR", "SAL"])
@pytest.mark.parametrize("target", ["LPS", "RAS"])
def test_reorient_moves_no_anatomy(source, target, rng):
    array = rng.integers(-1000, 1000, size=(3, 5, 7)).astype(np.int16)
    affine = _affine(source)
    new_array, new_affine = reorient(array, affine, target)
    assert orientation_code(new_affine) == target
    assert new_array.flags.c_contiguous
    _assert_same_anatomy(array, affine, new_array, new_affine)


def test_reorient_series_keeps_time_axis_first(rng):
    series = rng.normal(size=(4, 3, 5, 7)).astype(np.float32)
    affine = _affine("RAS")
    new, new_affine = reorient(series, affine, "LPS")
    assert new.shape == (4, 3, 5, 7)
    _assert_same_anatomy(series, affine, new, new_affine)


def test_oblique_affine_keeps_exact_world_positions(rng):
    theta = np.deg2rad(20)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.8, 0.8, 3.0])
    array = rng.normal(size=(3, 6, 5))
    new, new_affine = reorient(array, affine, "LPS")
    _assert_same_anatomy(array, affine, new, new_affine)


@pytest.mark.parametrize("bad", ["XYZ", "LRS", "LP", "lpss"])
def test_bad_codes_are_refused(bad):
    with pytest.raises(ConfigError, match="axis code"):
        reorient(np.zeros((2, 2, 2)), np.eye(4), bad)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5), (1, 1, 1), (5, 1, 6)])
def test_in_place_reorient_equals_the_copying_one(shape):
    rng = np.random.default_rng(7)
    array = rng.integers(-99, 99, shape).astype(np.int16)
    for affine in (np.diag([2, 3, 4, 1.0]), np.diag([-2, 3, -4, 1.0]), np.diag([-2, -3, -4, 1.0])):
        for codes in ("LPS", "RAS", "LAI", "RPI"):
            expected, expected_affine = reorient(array.copy(), affine, codes)
            own = array.copy()
            got, got_affine = reorient(own, affine, codes, in_place=True)
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_allclose(got_affine, expected_affine)
            assert got is own  # diagonal affines need flips only: no second copy of the volume
