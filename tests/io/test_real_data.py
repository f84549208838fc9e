"""Real scans from ../shared/data/real (skipped with a reason when absent)."""

import nibabel as nib
import numpy as np
import pytest

from keras_liver.io import load_volume, save_volume

LIVER = 5  # TotalSegmentator's liver label


def _same_world_values(vol, img, n=400, seed=0):
    """Oracle: our voxel at world w holds what nibabel's canonical image holds at w."""
    canon = nib.as_closest_canonical(img)
    data = np.asanyarray(canon.dataobj)
    rng = np.random.default_rng(seed)
    zyx = np.stack([rng.integers(0, s, n) for s in vol.shape], axis=1)
    world = vol.world_coordinates(zyx)
    inv = np.linalg.inv(canon.affine)
    ijk = world @ inv[:3, :3].T + inv[:3, 3]
    idx = np.rint(ijk).astype(int)
    np.testing.assert_allclose(ijk, idx, atol=1e-4)
    np.testing.assert_array_equal(vol.array[zyx[:, 0], zyx[:, 1], zyx[:, 2]], data[idx[:, 0], idx[:, 1], idx[:, 2]])


def test_dicom_series_and_its_nifti_labels_share_one_grid(real_data):
    ct = load_volume(real_data / "totalsegmentator" / "example_ct_dicom")
    seg = load_volume(real_data / "totalsegmentator" / "example_seg_dicom.nii.gz")
    assert ct.shape == seg.shape == (20, 512, 512)
    assert seg.meta["source_orientation"] == "LAS" and ct.meta["source_orientation"] == "LPS"
    np.testing.assert_allclose(ct.affine, seg.affine, atol=1e-3)
    assert ct.spacing == pytest.approx((2.0, 0.9765625, 0.9765625))
    liver = seg.array == LIVER
    inside, outside = ct.array[liver].mean(), ct.array[~liver].mean()
    assert 0 < inside < 200
    assert inside - outside > 300
    # flipping the label left-right (the bug an ignored orientation causes) breaks the match
    assert inside - ct.array[liver[:, :, ::-1]].mean() > 40
    assert inside - ct.array[liver[:, ::-1, :]].mean() > 40


@pytest.mark.parametrize(
    "name,shape,codes",
    [("example_ct_sm.nii.gz", (30, 101, 122), "RAS"), ("example_mr_sm.nii.gz", (20, 91, 117), "LPS")],
)
def test_nifti_samples_match_nibabel_canonical(real_data, name, shape, codes):
    path = real_data / "totalsegmentator" / name
    vol = load_volume(path)
    assert vol.shape == shape
    assert vol.spacing == pytest.approx((3.0, 3.0, 3.0))
    assert vol.meta["source_orientation"] == codes
    _same_world_values(vol, nib.load(str(path)))
    seg = load_volume(real_data / "totalsegmentator" / ("example_seg.nii.gz" if "ct" in name else "example_seg_mr.nii.gz"))
    np.testing.assert_allclose(seg.affine, vol.affine, atol=1e-3)


def test_mask_saved_for_dicom_has_dicom_geometry(real_data, tmp_path):
    ct = load_volume(real_data / "totalsegmentator" / "example_ct_dicom")
    mask = ct.replace(((ct.array > 0) & (ct.array < 200)).astype(np.uint8))
    out = save_volume(mask, tmp_path / "mask.nii.gz")
    img = nib.load(str(out))
    assert img.shape == (512, 512, 20)
    np.testing.assert_allclose(img.affine, ct.affine, atol=1e-4)
    # voxel (i, j, k) of the file is row j, column i of DICOM slice k, sorted by position
    data = np.asanyarray(img.dataobj)
    np.testing.assert_array_equal(data.T, mask.array)
    ref = nib.load(str(real_data / "totalsegmentator" / "example_seg_dicom.nii.gz"))
    np.testing.assert_allclose(nib.as_closest_canonical(img).affine, nib.as_closest_canonical(ref).affine, atol=1e-3)


def test_dcmqi_spacing_comes_from_positions(real_data):
    # SliceThickness says 1.25 mm, but the slices are 1.0 mm apart.
    vol = load_volume(real_data / "dcmqi" / "ct-3slice")
    assert vol.shape == (3, 512, 512)
    assert vol.spacing == pytest.approx((1.0, 0.810547, 0.810547), abs=1e-5)
    assert vol.array.min() == -3024
