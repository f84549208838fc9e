"""Each kind of bad input raises a KerasLiverError naming the file and the problem,
and the CLI turns it into one line on stderr with exit code 2."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from helpers import write_dicom_series
from keras_liver.cli.main import main
from keras_liver.errors import (
    DicomSeriesError,
    FileFormatError,
    GeometryError,
    KerasLiverError,
    LabelError,
    MissingPathError,
)
from keras_liver.io import load_case, load_volume


def _nii(path, array_xyz):
    nib.save(nib.Nifti1Image(array_xyz, np.eye(4)), str(path))
    return path


def _truncated(tmp_path, rng):
    good = _nii(tmp_path / "good.nii.gz", np.arange(40 * 40 * 20, dtype=np.int16).reshape(40, 40, 20))
    data = good.read_bytes()
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def _text_nii(tmp_path, rng):
    path = tmp_path / "notes.nii"
    path.write_text("this is not an image\n" * 30)
    return path


def _two_series(tmp_path, rng):
    folder = tmp_path / "two_series"
    write_dicom_series(folder, rng.integers(0, 99, (3, 4, 5)), series_uid="1.2.840.1", names=["a1", "a2", "a3"])
    write_dicom_series(folder, rng.integers(0, 99, (3, 4, 5)), series_uid="1.2.840.2", names=["b1", "b2", "b3"])
    return folder


def _missing_slice(tmp_path, rng):
    folder = tmp_path / "gap"
    paths = write_dicom_series(folder, rng.integers(0, 99, (6, 4, 5)))
    paths[3].unlink()
    return folder


CASES = {
    "truncated_gz": (_truncated, FileFormatError, "truncated or corrupt"),
    "text_named_nii": (_text_nii, FileFormatError, "not a readable NIfTI"),
    "two_series": (_two_series, DicomSeriesError, "holds 2 series"),
    "missing_slice": (_missing_slice, DicomSeriesError, "missing slice"),
    "no_such_path": (lambda t, r: t / "absent.nii.gz", MissingPathError, "no such file"),
    "empty_folder": (lambda t, r: (t / "empty").mkdir() or t / "empty", MissingPathError, "empty"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_load_volume_names_file_and_problem(name, tmp_path, rng):
    make, error, words = CASES[name]
    path = make(tmp_path, rng)
    with pytest.raises(error) as info:
        load_volume(path)
    assert isinstance(info.value, KerasLiverError)
    assert str(path) in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_prints_one_line_and_exits_2(name, tmp_path, rng, capsys):
    make, _, words = CASES[name]
    path = make(tmp_path, rng)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("keras-liver info: error:") and words in err[0] and "Traceback" not in err[0]


def test_label_with_seven_and_shape_mismatch(tmp_path, capsys):
    image = _nii(tmp_path / "volume-1.nii", np.zeros((5, 4, 3), np.int16))
    seven = np.zeros((5, 4, 3), np.uint8)
    seven[2, 2, 1] = 7
    seg7 = _nii(tmp_path / "segmentation-1.nii", seven)
    with pytest.raises(LabelError, match=r"segmentation-1.nii: label map holds values \[7\]"):
        load_case(image, seg7)
    small = _nii(tmp_path / "small.nii", np.zeros((5, 4, 2), np.uint8))
    with pytest.raises(GeometryError, match="small.nii: label shape"):
        load_case(image, small)
    assert main(["preview", str(image), "--label", str(small), "--out", str(tmp_path / "p.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_gzip_with_bad_crc_is_reported(tmp_path):
    good = _nii(tmp_path / "good.nii", np.arange(1000, dtype=np.int16).reshape(10, 10, 10))
    raw = bytearray(gzip.compress(good.read_bytes()))
    raw[-8] ^= 0xFF  # corrupt the CRC
    bad = tmp_path / "crc.nii.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="crc.nii.gz"):
        load_volume(bad)


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os

    from keras_liver.io import Volume, save_volume
    from keras_liver.io.atomic import write_text_atomic

    mask = os.umask(0o022)
    try:
        text = write_text_atomic(tmp_path / "a.json", "{}")
        nifti = save_volume(Volume(np.zeros((2, 3, 4), np.int16)), tmp_path / "a.nii.gz")
    finally:
        os.umask(mask)
    assert oct(text.stat().st_mode & 0o777) == oct(0o644)
    assert oct(nifti.stat().st_mode & 0o777) == oct(0o644)
