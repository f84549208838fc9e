"""NRRD: hand-written headers read to the right world place, our files round-trip, bad files fail in one line."""

import gzip

import numpy as np
import pytest

from helpers import DCMQI
from keras_liver.errors import FileFormatError, MissingPathError
from keras_liver.io import Volume, load_volume, read_nrrd, save_volume


def _header(**fields) -> bytes:
    lines = ["NRRD0004", "# a test file"] + [f"{k.replace('_', ' ')}: {v}" for k, v in fields.items()]
    return ("\n".join(lines) + "\n\n").encode()


def test_a_raw_big_endian_lps_file_lands_where_its_header_says(tmp_path):
    data = np.arange(3 * 4 * 5, dtype=">i2").reshape(5, 4, 3)  # file axes (x 3, y 4, z 5), x fastest
    path = tmp_path / "a.nrrd"
    path.write_bytes(_header(type="short", dimension=3, space="left-posterior-superior", sizes="3 4 5",
                             space_directions="(0.5,0,0) (0,0.75,0) (0,0,2.5)", endian="big", encoding="raw",
                             space_origin="(10,20,30)") + data.tobytes())
    vol = read_nrrd(path, orientation=None)
    assert vol.shape == (5, 4, 3) and vol.array.dtype == np.int16 and vol.meta["source_orientation"] == "LPS"
    np.testing.assert_array_equal(vol.array, data.astype(np.int16))
    # voxel (x=2, y=1, z=3) sits at LPS (10 + 1.0, 20 + 0.75, 30 + 7.5): RAS flips x and y
    np.testing.assert_allclose(vol.world_coordinates([[3, 1, 2]])[0], [-11.0, -20.75, 37.5])
    assert vol.spacing == pytest.approx((2.5, 0.75, 0.5))


def test_a_detached_header_with_old_spacings_and_a_ras_space(tmp_path):
    data = np.random.default_rng(0).random((2, 3, 7)).astype("<f4")
    (tmp_path / "b.raw.gz").write_bytes(gzip.compress(data.tobytes()))
    (tmp_path / "b.nhdr").write_bytes(_header(type="float", dimension=3, sizes="7 3 2", spacings="1 2 3",
                                              encoding="gzip", data_file="b.raw.gz"))
    vol = load_volume(tmp_path / "b.nhdr", orientation=None)
    np.testing.assert_array_equal(vol.array, data)
    assert vol.spacing == (3.0, 2.0, 1.0) and vol.meta["source_orientation"] == "RAS"


def test_our_files_round_trip_a_volume_and_a_series_in_their_own_orientation(tmp_path):
    affine = np.array([[0, 0, -2.0, 40], [0, -1.5, 0, 7], [3.0, 0, 0, -9], [0, 0, 0, 1]])  # a rotated grid
    image = Volume(np.random.default_rng(1).integers(-1000, 1000, (5, 6, 7)).astype(np.int16), affine)
    back = load_volume(save_volume(image, tmp_path / "v.nrrd"), orientation=None)
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine, affine)
    mask = Volume(image.array > 0, affine)
    assert load_volume(save_volume(mask, tmp_path / "m.nrrd")).array.dtype == np.uint8
    series = Volume(np.random.default_rng(2).random((4, 3, 5, 6)).astype(np.float32), np.diag([2.0, 2, 4, 1]),
                    meta={"frame_times_s": [0.0, 12.5, 30.0, 60.0]})
    back = load_volume(save_volume(series, tmp_path / "s.nrrd"), orientation=None)
    np.testing.assert_array_equal(back.array, series.array)
    assert back.meta["frame_times_s"] == [0.0, 12.5, 30.0, 60.0] and back.spacing == (4.0, 2.0, 2.0)
    assert not list(tmp_path.glob(".*"))  # no temporaries left


def test_a_series_with_time_as_the_fastest_axis(tmp_path):
    data = np.arange(3 * 2 * 2 * 4, dtype="<u2").reshape(2, 2, 4, 3)  # file axes (t 3, x 4, y 2, z 2)
    path = tmp_path / "t.nrrd"
    path.write_bytes(_header(type="ushort", dimension=4, space="RAS", sizes="3 4 2 2",
                             space_directions="none (1,0,0) (0,1,0) (0,0,1)", kinds="list domain domain domain",
                             endian="little", encoding="raw") + data.tobytes())
    vol = read_nrrd(path, orientation=None)
    assert vol.shape == (3, 2, 2, 4)
    np.testing.assert_array_equal(vol.array, np.moveaxis(data, -1, 0))


def test_the_dcmqi_liver_mask_overlays_its_dicom_slices(real_data):
    mask = load_volume(DCMQI / "liver_seg.nrrd")
    ct = load_volume(DCMQI / "ct-3slice")
    assert mask.shape == ct.shape == (3, 512, 512) and mask.meta["format"] == "nrrd"
    np.testing.assert_allclose(mask.affine, ct.affine, atol=1e-4)
    liver = ct.array[mask.array > 0]
    assert liver.size > 50_000 and 20 < np.median(liver) < 90  # liver parenchyma HU, not air or fat


@pytest.mark.parametrize("header, payload, message", [
    (b"NRRD9\n\n", b"", "no NRRD0001"),
    (_header(type="short", dimension=3, sizes="2 2 2", encoding="raw"), b"\0" * 7, "truncated"),
    (_header(type="short", dimension=3, sizes="2 2 2", encoding="gzip"), b"not gzip", "corrupt"),
    (_header(type="short", dimension=3, sizes="2 2 2", encoding="gzip"), gzip.compress(b"\0" * 40), "more than"),
    (_header(type="short", dimension=3, sizes="2 2 2", encoding="hex"), b"00", "encoding 'hex'"),
    (_header(type="block", dimension=3, sizes="2 2 2", encoding="raw"), b"", "type 'block'"),
    (_header(type="short", dimension=2, sizes="2 2", encoding="raw"), b"\0" * 8, "dimension 2"),
    (_header(type="short", dimension=3, sizes="9000 9000 9000", encoding="raw"), b"", "over the limit"),
    (_header(type="short", dimension=3, sizes="2 2 2", space="left-handed", encoding="raw"), b"\0" * 16, "space"),
    (_header(type="short", dimension=3, sizes="2 2 2", space="RAS", space_directions="(1,0,0) (0,0,0) (0,0,1)",
             encoding="raw"), b"\0" * 16, "singular"),
    (_header(type="short", dimension=3, sizes="2 2 2", encoding="raw", data_file="gone.raw"), b"", "does not exist"),
])
def test_bad_files_fail_with_one_line_naming_the_file(tmp_path, header, payload, message):
    path = tmp_path / "bad.nrrd"
    path.write_bytes(header + payload)
    with pytest.raises((FileFormatError, MissingPathError), match=message) as info:
        load_volume(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
