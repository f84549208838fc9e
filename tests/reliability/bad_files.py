"""Builders of hostile input files: NIfTI headers and streams, DICOM folders, HDF5 files.

Each builder takes a folder and returns the path a user would pass to ``keras-liver``.
Headers are edited field by field from a valid nibabel header, so each file is wrong
in exactly one way.
"""

import gzip
import json

import h5py
import nibabel as nib
import numpy as np

from helpers import write_dicom_series
from keras_liver.io.case_store import STORE_FORMAT

SMALL = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (x, y, z) as stored


def _header(array=SMALL, nifti2=False):
    klass = nib.Nifti2Image if nifti2 else nib.Nifti1Image
    img = klass(array, np.diag([2.0, 2.0, 3.0, 1.0]))
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    header = img.header.copy()
    header.set_data_offset(544 if nifti2 else 352)
    return header


def write_raw(path, header, payload: bytes, gz=True):
    """Header block + 4 extension bytes + ``payload``, gzip-compressed for ``.gz``."""
    data = bytes(header.binaryblock) + b"\0" * 4 + payload
    path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)
    return path


def _edited(name, gz=True, array=SMALL, nifti2=False, payload=None, **fields):
    def build(folder):
        header = _header(array, nifti2)
        for key, value in fields.items():
            header[key] = value
        body = array.tobytes(order="F") if payload is None else payload
        return write_raw(folder / name, header, body, gz=gz)
    return build


def _dims(name, dims, nifti2=False, gz=True):
    def build(folder):
        header = _header(nifti2=nifti2)
        header["dim"][: len(dims)] = dims
        return write_raw(folder / name, header, SMALL.tobytes(order="F"), gz=gz)
    return build


def _good(folder, name="good.nii.gz", array=SMALL):
    path = folder / name
    nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
    return path


def _truncated(folder):
    data = _good(folder, "whole.nii.gz", np.arange(40 * 40 * 20, dtype=np.int16).reshape(40, 40, 20)).read_bytes()
    (folder / "whole.nii.gz").unlink()
    path = folder / "truncated.nii.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_plain(folder):
    data = _good(folder, "whole.nii", np.arange(40 * 40 * 20, dtype=np.int16).reshape(40, 40, 20)).read_bytes()
    (folder / "whole.nii").unlink()
    path = folder / "short.nii"
    path.write_bytes(data[: len(data) - 100])
    return path


def _bad_crc(folder):
    raw = bytearray(gzip.compress(_good(folder, "plain.nii").read_bytes()))
    (folder / "plain.nii").unlink()
    raw[-8] ^= 0xFF
    path = folder / "crc.nii.gz"
    path.write_bytes(bytes(raw))
    return path


def _text(folder):
    path = folder / "notes.nii"
    path.write_text("this is not an image\n" * 30)
    return path


def _empty(folder):
    path = folder / "empty.nii.gz"
    path.write_bytes(b"")
    return path


def _trailing_bomb(folder):
    """A valid 120-voxel header followed by 40 MB of zeros (a 40 kB file)."""
    path = folder / "trailing.nii.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(bytes(_header().binaryblock) + b"\0" * 4 + SMALL.tobytes(order="F"))
        zeros = bytes(1 << 22)
        for _ in range(10):
            fh.write(zeros)
    return path


def _sidecar(name, content):
    def build(folder):
        series = np.zeros((4, 5, 6, 3), np.int16)
        path = _good(folder, name, series)
        (folder / name.replace(".nii.gz", ".json")).write_text(content)
        return path
    return build


def _case_store_without_cases(folder):
    path = folder / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    return path


def _case_store_huge(folder):
    """A case store whose image is declared 4096 x 4096 x 4096 (chunked, nothing written)."""
    path = folder / "huge.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = STORE_FORMAT
        ds = f.create_dataset("cases/c0/image", shape=(4096, 4096, 4096), dtype="i2", chunks=(16, 16, 16))
        ds.attrs["affine"] = np.eye(4)
        ds.attrs["spacing"] = (1.0, 1.0, 1.0)
    return path


def _text_h5(folder):
    path = folder / "cases.h5"
    path.write_text("no hdf5 here")
    return path


# --- DICOM folders ------------------------------------------------------------------------------------------------

def _series(name, **kwargs):
    def build(folder, rng=np.random.default_rng(0)):
        out = folder / name
        write_dicom_series(out, rng.integers(0, 99, kwargs.pop("shape", (4, 6, 5))), **kwargs)
        return out
    return build


def _dicom_edit(name, edit, shape=(4, 6, 5)):
    import pydicom

    def build(folder):
        out = folder / name
        paths = write_dicom_series(out, np.random.default_rng(1).integers(0, 99, shape))
        for n, path in enumerate(paths):
            ds = pydicom.dcmread(path)
            edit(ds, n)
            ds.save_as(path, enforce_file_format=True)
        return out
    return build


def _set(tag, value, only=None):
    def edit(ds, n):
        if only is None or n == only:
            setattr(ds, tag, value)
    return edit


def _delete(tag):
    def edit(ds, n):
        delattr(ds, tag)
    return edit


def _two_series(folder):
    out = folder / "two_series"
    rng = np.random.default_rng(2)
    write_dicom_series(out, rng.integers(0, 99, (3, 4, 5)), series_uid="1.2.840.1", names=["a1", "a2", "a3"])
    write_dicom_series(out, rng.integers(0, 99, (3, 4, 5)), series_uid="1.2.840.2", names=["b1", "b2", "b3"])
    return out


def _missing_slice(folder):
    out = folder / "gap"
    paths = write_dicom_series(out, np.random.default_rng(3).integers(0, 99, (6, 4, 5)))
    paths[3].unlink()
    return out


def _duplicate(folder):
    out = folder / "duplicate"
    write_dicom_series(out, np.random.default_rng(4).integers(0, 99, (3, 4, 5)),
                       positions=[(0, 0, 0), (0, 0, 2), (0, 0, 2)])
    return out


def _uneven(folder):
    out = folder / "uneven"
    write_dicom_series(out, np.random.default_rng(5).integers(0, 99, (4, 4, 5)),
                       positions=[(0, 0, 0), (0, 0, 2), (0, 0, 4), (0, 0, 7.1)])
    return out


def _text_folder(folder):
    out = folder / "not_dicom"
    out.mkdir()
    for n in range(3):
        (out / f"IM{n}").write_text("no DICOM here")
    return out


def _empty_folder(folder):
    out = folder / "empty_series"
    out.mkdir()
    return out


def _short_pixels(ds, n):
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]


# name -> (builder, words the one-line error must hold). Every entry is a different way to be wrong.
NIFTI = {
    "nifti: truncated gzip": (_truncated, ["truncated or corrupt"]),
    "nifti: truncated plain .nii": (_truncated_plain, ["truncated or corrupt", "header declares"]),
    "nifti: gzip CRC corrupted": (_bad_crc, ["truncated or corrupt"]),
    "nifti: text file named .nii": (_text, ["not a readable NIfTI"]),
    "nifti: empty file": (_empty, ["not a readable NIfTI"]),
    "nifti: 32767^3 voxels declared": (_dims("huge.nii.gz", [3, 32767, 32767, 32767]), ["over the limit"]),
    "nifti-2: 100000^3 voxels declared": (_dims("huge2.nii.gz", [3, 100000, 100000, 100000], nifti2=True),
                                          ["over the limit"]),
    "nifti: negative dimension": (_dims("negative.nii.gz", [3, -4, 5, 6]), ["negative dimension"]),
    "nifti: zero dimension": (_dims("zero.nii.gz", [3, 4, 0, 6]), ["empty image"]),
    "nifti: dim[0] = 9": (_dims("dim0.nii.gz", [9, 4, 5, 6]), ["declares 9 dimensions", "dim[0] must be 1 to 7"]),
    "nifti: 5D data": (_dims("five_d.nii.gz", [5, 2, 3, 2, 5, 2]), ["5D NIfTI"]),
    "nifti: decompresses far beyond its header": (_trailing_bomb, ["more data than its header declares"]),
    "nifti: NaN in sform": (_edited("nan_sform.nii.gz", srow_x=[np.nan, 0, 0, 0]), ["sform", "non-finite"]),
    "nifti: singular sform": (_edited("singular.nii.gz", srow_x=[0, 0, 0, 0]), ["sform is singular"]),
    "nifti: NaN in qform": (_edited("nan_qform.nii.gz", sform_code=0, quatern_b=np.nan), ["qform", "non-finite"]),
    "nifti: zero pixdim, no sform": (_edited("zero_pixdim.nii.gz", sform_code=0, pixdim=[1, 0, 2, 3, 1, 1, 1, 1]),
                                     ["pixdim", "finite and positive"]),
    "nifti: infinite pixdim, no sform": (_edited("inf_pixdim.nii.gz", sform_code=0, qform_code=0,
                                                 pixdim=[1, 2, np.inf, 3, 1, 1, 1, 1]), ["pixdim"]),
    "nifti: complex voxels": (_edited("complex.nii.gz", array=np.zeros((3, 4, 5), np.complex64)), ["complex"]),
    "nifti: RGB voxels": (_edited("rgb.nii.gz", array=np.zeros((3, 4, 5), [("R", "u1"), ("G", "u1"), ("B", "u1")])),
                          ["RGB"]),
    "nifti: unknown datatype code": (_edited("dtype.nii.gz", datatype=999), ["datatype"]),
    "nifti: .hdr/.img pair magic": (_edited("pair.nii.gz", magic=b"ni1"), ["magic"]),
    "nifti: side-car not JSON": (_sidecar("dce-a.nii.gz", "{frame"), ["side-car is not valid JSON"]),
    "nifti: side-car frame count": (_sidecar("dce-b.nii.gz", json.dumps({"frame_times_s": [0, 1]})),
                                    ["lists 2 frame times", "3 frames"]),
    "nifti: side-car times not numbers": (_sidecar("dce-c.nii.gz", json.dumps({"frame_times_s": ["a", "b", "c"]})),
                                          ["list of numbers"]),
    "nifti: side-car times decreasing": (_sidecar("dce-d.nii.gz", json.dumps({"frame_times_s": [0, 5, 1]})),
                                         ["non-decreasing"]),
}

DICOM = {
    "dicom: empty folder": (_empty_folder, ["folder is empty"]),
    "dicom: folder of text files": (_text_folder, ["none of its 3 files is a DICOM image"]),
    "dicom: two series, none chosen": (_two_series, ["holds 2 series"]),
    "dicom: missing slice": (_missing_slice, ["missing slice"]),
    "dicom: duplicate slice position": (_duplicate, ["duplicate slice position"]),
    "dicom: uneven slice spacing": (_uneven, ["uneven slice spacing"]),
    "dicom: PixelSpacing differs": (_dicom_edit("mixed", _set("PixelSpacing", [0.5, 0.5], only=2)),
                                    ["PixelSpacing", "one slice geometry"]),
    "dicom: zero PixelSpacing": (_dicom_edit("zero_spacing", _set("PixelSpacing", [0.0, 0.7])), ["must be positive"]),
    "dicom: NaN ImagePositionPatient": (_dicom_edit("nan_pos", _set("ImagePositionPatient", [0, "nan", 0], only=1)),
                                        ["ImagePositionPatient", "non-finite"]),
    "dicom: collinear orientation cosines": (_dicom_edit("collinear", _set("ImageOrientationPatient",
                                                                           [1, 0, 0, 1, 0, 0])),
                                             ["two independent direction cosines"]),
    "dicom: no ImagePositionPatient": (_dicom_edit("no_position", _delete("ImagePositionPatient")),
                                       ["no ImagePositionPatient"]),
    "dicom: pixel data shorter than Rows x Columns": (_dicom_edit("short_pixels", _short_pixels),
                                                      ["cannot decode pixel data"]),
    "dicom: 65535 x 65535 pixels declared": (_dicom_edit("huge_rows", lambda ds, n: (
        setattr(ds, "Rows", 65535), setattr(ds, "Columns", 65535))), ["over the limit"]),
}

HDF5 = {
    "hdf5: text file named .h5": (_text_h5, ["not a readable HDF5 file"]),
    "hdf5: HDF5 that is not a case store": (_case_store_without_cases, ["not a keras-liver case store"]),
    "hdf5: case of 4096^3 voxels declared": (_case_store_huge, ["over the limit"]),
}

FILES = {**NIFTI, **DICOM, **HDF5}
