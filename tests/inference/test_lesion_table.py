import numpy as np
import pytest

from keras_liver.inference import lesion_table, max_diameter_mm
from keras_liver.io import Volume


def _ball(shape, centre_zyx, radii_vox):
    z, y, x = np.indices(shape)
    c, r = centre_zyx, radii_vox
    return ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1


def test_two_lesions_are_measured_in_world_mm():
    # anisotropic LPS-like grid: x and y flipped, 2.5 mm slices, 0.8 mm pixels, an offset
    spacing = (2.5, 0.8, 0.8)
    affine = np.diag([-0.8, -0.8, 2.5, 1.0])
    affine[:3, 3] = [40.0, -12.0, 100.0]
    shape = (23, 71, 67)
    big = _ball(shape, (11, 30, 33), (12 / 2.5, 12 / 0.8, 12 / 0.8))  # a 24 mm sphere
    small = _ball(shape, (6, 60, 10), (4 / 2.5, 4 / 0.8, 4 / 0.8))  # an 8 mm sphere
    label = np.ones(shape, np.uint8)
    label[big | small] = 2
    instance, rows = lesion_table(Volume(label, affine))
    assert [r["id"] for r in rows] == [1, 2]  # largest first
    np.testing.assert_array_equal(instance == 1, big)
    np.testing.assert_array_equal(instance == 2, small)
    first, second = rows
    assert first["voxels"] == big.sum()
    assert first["volume_ml"] == pytest.approx(4 / 3 * np.pi * 12**3 / 1000, rel=0.06)
    # the centre voxel (z, y, x) = (11, 30, 33) lies at affine @ (x, y, z, 1)
    assert first["centroid_mm"] == pytest.approx([40 - 0.8 * 33, -12 - 0.8 * 30, 100 + 2.5 * 11], abs=0.05)
    # largest voxel-centre distance of a 24 mm ball: 24 mm less under a voxel on each end
    assert 24 - 2 * 2.5 <= first["max_diameter_mm"] <= 24
    assert 8 - 2 * 2.5 <= second["max_diameter_mm"] <= 8 + 1e-6


def test_a_given_instance_map_keeps_its_ids_and_touching_lesions_stay_apart():
    label = np.zeros((5, 9, 11), np.uint8)
    label[1:4, 2:7, 1:5] = 2
    label[1:4, 2:7, 5:9] = 2  # touches the first: one component, two lesions
    instance = np.zeros(label.shape, np.uint8)
    instance[1:4, 2:7, 1:5] = 3
    instance[1:4, 2:7, 5:9] = 7
    merged, rows = lesion_table(Volume(label), instance=instance)
    assert [r["id"] for r in rows] == [3, 7] and [r["voxels"] for r in rows] == [60, 60]
    assert rows[0]["max_diameter_mm"] == pytest.approx(np.sqrt(2**2 + 4**2 + 3**2), abs=0.005)
    _, auto = lesion_table(Volume(label))
    assert len(auto) == 1 and auto[0]["voxels"] == 120
    assert lesion_table(Volume(np.zeros((3, 4, 5), np.uint8)))[1] == []
    with pytest.raises(ValueError, match="grid"):
        lesion_table(Volume(label), instance=instance[:, :, :5])


def test_max_diameter_agrees_with_brute_force_on_random_points():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 17, 400):
        pts = rng.normal(size=(n, 3)) * [3.0, 1.0, 7.0]
        brute = max((np.linalg.norm(a - b) for a in pts for b in pts), default=0.0)
        assert max_diameter_mm(pts) == pytest.approx(brute)
    flat = np.c_[rng.normal(size=(50, 2)), np.zeros(50)]  # coplanar: hull fails, all points used
    brute = max(np.linalg.norm(a - b) for a in flat for b in flat)
    assert max_diameter_mm(flat) == pytest.approx(brute)
