import numpy as np
import pydicom
import pytest

from helpers import write_dicom_series
from keras_liver.errors import DicomSeriesError, MissingPathError
from keras_liver.io import list_dicom_series, load_volume, read_dicom_series


def _stored(rng, shape=(5, 6, 7)):
    return rng.integers(0, 2000, size=shape).astype(np.int16)


def test_slices_sorted_by_position_not_name_and_rescaled_to_hu(tmp_path, rng):
    stored = _stored(rng)
    write_dicom_series(tmp_path, stored, intercept=-1024.0)
    vol = load_volume(tmp_path)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, stored.astype(np.int32) - 1024)
    assert vol.meta["format"] == "dicom" and vol.meta["modality"] == "CT"


def test_spacing_from_positions_not_slice_thickness(tmp_path, rng):
    write_dicom_series(tmp_path, _stored(rng), spacing=(1.25, 0.8, 0.7), thickness=5.0)
    vol = read_dicom_series(tmp_path)
    assert vol.spacing == pytest.approx((1.25, 0.8, 0.7))


def test_affine_maps_pixels_to_ras_world(tmp_path, rng):
    stored = _stored(rng)
    origin = np.array([-50.0, -40.0, 10.0])
    write_dicom_series(tmp_path, stored, spacing=(2.0, 0.8, 0.7), origin=origin)
    vol = read_dicom_series(tmp_path, orientation=None)
    # pixel (row r, column c) of slice k lies at LPS origin + c*0.7*x + r*0.8*y + k*2*z
    k, r, c = 3, 4, 5
    lps = origin + np.array([c * 0.7, r * 0.8, k * 2.0])
    np.testing.assert_allclose(vol.world_coordinates((k, r, c)), lps * [-1, -1, 1])
    assert vol.orientation == "LPS"


def test_oblique_series(tmp_path, rng):
    theta = np.deg2rad(25)
    row = [np.cos(theta), np.sin(theta), 0.0]
    col = [0.0, 0.0, -1.0]  # coronal-ish, tilted
    stored = _stored(rng, (4, 5, 6))
    write_dicom_series(tmp_path, stored, iop=row + col, spacing=(1.5, 0.9, 0.9), origin=(0, 0, 0))
    vol = read_dicom_series(tmp_path, orientation=None)
    normal = np.cross(row, col)
    lps = 2 * 1.5 * normal + 3 * 0.9 * np.array(col) + 1 * 0.9 * np.array(row)
    np.testing.assert_allclose(vol.world_coordinates((2, 3, 1)), lps * [-1, -1, 1], atol=1e-6)
    assert vol.spacing == pytest.approx((1.5, 0.9, 0.9))
    lps_vol = read_dicom_series(tmp_path)
    assert sorted(lps_vol.shape) == sorted(vol.shape)


def test_non_integer_rescale_gives_float32(tmp_path, rng):
    stored = _stored(rng, (3, 4, 5))
    write_dicom_series(tmp_path, stored, slope=0.5, intercept=-10.0)
    vol = read_dicom_series(tmp_path)
    assert vol.array.dtype == np.float32
    np.testing.assert_allclose(vol.array, stored * 0.5 - 10.0)


def test_two_series_need_a_choice(tmp_path, rng):
    write_dicom_series(tmp_path, _stored(rng, (3, 4, 5)), series_uid="1.2.3.1", names=["a1", "a2", "a3"])
    write_dicom_series(tmp_path, _stored(rng, (2, 4, 5)), series_uid="1.2.3.2", names=["b1", "b2"])
    with pytest.raises(DicomSeriesError, match="holds 2 series.*1.2.3.1"):
        load_volume(tmp_path)
    assert load_volume(tmp_path, series_uid="1.2.3.2").shape == (2, 4, 5)
    assert [s["n_files"] for s in list_dicom_series(tmp_path)] == [3, 2]


def test_missing_duplicate_and_uneven_slices_are_refused(tmp_path, rng):
    paths = write_dicom_series(tmp_path / "missing", _stored(rng))
    paths[2].unlink()
    with pytest.raises(DicomSeriesError, match="1 missing slice"):
        read_dicom_series(tmp_path / "missing")
    z = [0.0, 2.0, 2.0, 4.0]
    write_dicom_series(tmp_path / "dup", _stored(rng, (4, 3, 3)), positions=[(0, 0, v) for v in z])
    with pytest.raises(DicomSeriesError, match="duplicate slice position"):
        read_dicom_series(tmp_path / "dup")
    z = [0.0, 2.0, 4.0, 6.7, 8.7]
    write_dicom_series(tmp_path / "uneven", _stored(rng, (5, 3, 3)), positions=[(0, 0, v) for v in z])
    with pytest.raises(DicomSeriesError, match="uneven slice spacing"):
        read_dicom_series(tmp_path / "uneven")


def test_non_dicom_files_are_skipped_but_not_all(tmp_path, rng):
    write_dicom_series(tmp_path, _stored(rng, (3, 4, 5)))
    (tmp_path / "notes.txt").write_text("scan notes")
    assert read_dicom_series(tmp_path).shape == (3, 4, 5)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("hello")
    with pytest.raises(DicomSeriesError, match="none of its 1 files is a DICOM image"):
        read_dicom_series(other)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingPathError, match="empty"):
        read_dicom_series(empty)


def test_single_file_is_read_as_one_slice(tmp_path, rng):
    paths = write_dicom_series(tmp_path, _stored(rng, (1, 4, 5)), thickness=3.0)
    vol = load_volume(paths[0])
    assert vol.shape == (1, 4, 5)
    assert vol.spacing[0] == pytest.approx(3.0)
    assert pydicom.dcmread(paths[0]).SliceThickness == 3.0
