import json

import nibabel as nib
import numpy as np
import pytest

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io import Volume, load_volume, read_nifti, save_volume


def _write(path, array_xyz, affine, **header):
    img = nib.Nifti1Image(array_xyz, affine)
    for key, value in header.items():
        img.header[key] = value
    nib.save(img, str(path))


@pytest.mark.parametrize("codes,diag", [("RAS", (0.7, 0.8, 2.0)), ("LPS", (-0.7, -0.8, 2.0)), ("LAS", (-0.7, 0.8, 2.0))])
def test_read_gives_zyx_lps_with_anatomy_in_place(tmp_path, rng, codes, diag):
    xyz = rng.integers(-1000, 1000, size=(7, 5, 3)).astype(np.int16)
    affine = np.diag(list(diag) + [1.0])
    affine[:3, 3] = (12.0, -7.0, 30.0)
    _write(tmp_path / "a.nii.gz", xyz, affine)
    vol = load_volume(tmp_path / "a.nii.gz")
    assert vol.shape == (3, 5, 7)
    assert vol.array.dtype == np.int16
    assert vol.orientation == "LPS"
    assert vol.meta["source_orientation"] == codes
    assert vol.spacing == pytest.approx((2.0, 0.8, 0.7))
    # Oracle: the voxel file index (i, j, k) lands at the same world place.
    for i, j, k in [(0, 0, 0), (6, 4, 2), (3, 1, 2)]:
        world = affine @ [i, j, k, 1]
        x, y, z, _ = np.rint(np.linalg.solve(vol.affine, world)).astype(int)
        assert vol.array[z, y, x] == xyz[i, j, k]
    raw = load_volume(tmp_path / "a.nii.gz", orientation=None)
    np.testing.assert_array_equal(raw.array, xyz.T)


def test_scaled_data_come_back_as_float32(tmp_path):
    xyz = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    _write(tmp_path / "s.nii", xyz, np.eye(4), scl_slope=0.5, scl_inter=-3.0)
    vol = load_volume(tmp_path / "s.nii", orientation=None)
    assert vol.array.dtype == np.float32
    np.testing.assert_allclose(vol.array, xyz.T * 0.5 - 3.0)


def test_save_round_trip_restores_source_voxel_order(tmp_path, rng):
    xyz = rng.integers(0, 3, size=(6, 5, 4)).astype(np.uint8)
    affine = np.diag([-0.9, 0.9, 3.0, 1.0])
    _write(tmp_path / "las.nii.gz", xyz, affine)
    vol = load_volume(tmp_path / "las.nii.gz")
    out = save_volume(vol, tmp_path / "copy.nii.gz")
    img = nib.load(str(out))
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), xyz)
    np.testing.assert_allclose(img.affine, affine)
    assert img.get_data_dtype() == np.uint8
    assert int(img.header["sform_code"]) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_4d_series_round_trip_with_frame_times(tmp_path, rng):
    series = rng.normal(size=(5, 3, 4, 6)).astype(np.float32)
    times = [0.0, 10.0, 25.0, 60.0, 300.0]
    vol = Volume(series, np.diag([-1.0, -1.0, 2.0, 1.0]), meta={"frame_times_s": times})
    save_volume(vol, tmp_path / "dce-0.nii.gz")
    assert json.loads((tmp_path / "dce-0.json").read_text())["frame_times_s"] == times
    img = nib.load(str(tmp_path / "dce-0.nii.gz"))
    assert img.shape == (6, 4, 3, 5)  # time on NIfTI's 4th axis
    back = load_volume(tmp_path / "dce-0.nii.gz")
    np.testing.assert_array_equal(back.array, series)
    assert back.meta["frame_times_s"] == times
    (tmp_path / "dce-0.json").unlink()
    no_sidecar = load_volume(tmp_path / "dce-0.nii.gz")
    assert no_sidecar.meta["frame_times_s"][1] == pytest.approx(np.median(np.diff(times)))


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    vol = Volume(np.zeros((2, 3, 4), np.int16))

    def broken_save(img, filename):
        open(filename, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_volume(vol, tmp_path / "out.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_other_extensions_and_missing_folder(tmp_path):
    vol = Volume(np.zeros((2, 3, 4), np.int16))
    with pytest.raises(ConfigError, match="must end in .nii"):
        save_volume(vol, tmp_path / "out.mha")
    with pytest.raises(MissingPathError, match="does not exist"):
        save_volume(vol, tmp_path / "nowhere" / "out.nii.gz")


def test_five_dimensional_file_is_refused(tmp_path):
    _write(tmp_path / "5d.nii", np.zeros((2, 2, 2, 2, 2), np.float32), np.eye(4))
    with pytest.raises(FileFormatError, match="5D"):
        read_nifti(tmp_path / "5d.nii")


def test_big_endian_file_reads_the_same_values(tmp_path):
    """A header (and voxels) stored big-endian: dim[0] is not taken for a byte-swapped 768."""
    array = np.arange(-60, 60, dtype=np.int16).reshape(4, 5, 6)
    header = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(array.astype(">i2"), np.diag([2.0, 3.0, 4.0, 1.0]), header=header)
    path = tmp_path / "big_endian.nii.gz"
    nib.save(img, str(path))
    import gzip

    assert gzip.decompress(path.read_bytes())[:4] == (348).to_bytes(4, "big")  # really stored big-endian
    vol = read_nifti(path, orientation=None)
    np.testing.assert_array_equal(vol.array, array.T)
    assert vol.spacing == (4.0, 3.0, 2.0)
