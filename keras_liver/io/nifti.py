"""NIfTI-1/2 reading and atomic writing (``.nii`` and ``.nii.gz``) with nibabel."""

import gzip
import json
import logging
import os
import pathlib
import zlib

import nibabel as nib
import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.atomic import temp_beside, write_text_atomic
from keras_liver.io.orientation import DEFAULT_ORIENTATION, orientation_code, reorient
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_TIME_UNIT_TO_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "unknown": 1.0}


def is_nifti_path(path) -> bool:
    """True when the file name ends in ``.nii`` or ``.nii.gz``."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def nifti_stem(path) -> pathlib.Path:
    """The path without ``.nii`` / ``.nii.gz``, e.g. ``dce-3`` for ``dce-3.nii.gz``."""
    path = pathlib.Path(path)
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path.with_suffix("")


def sidecar_path(path) -> pathlib.Path:
    """The JSON side-car beside a NIfTI file (``dce-3.json`` for ``dce-3.nii.gz``)."""
    stem = nifti_stem(path)
    return stem.with_name(stem.name + ".json")


def _open_nifti(path: pathlib.Path):
    if path.name.lower().endswith(".gz"):
        # Decompress the whole stream ourselves: gzip then checks the length
        # and CRC trailer, which nibabel's partial reads skip, so a truncated
        # or corrupted download cannot pass silently.
        try:
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        except (EOFError, OSError, zlib.error) as exc:
            raise FileFormatError(f"{path}: gzip stream is truncated or corrupt ({exc})") from exc
        sizeof_hdr = int.from_bytes(raw[:4], "little") if len(raw) >= 4 else 0
        if sizeof_hdr not in (348, 540):
            sizeof_hdr = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0
        klass = nib.Nifti2Image if sizeof_hdr == 540 else nib.Nifti1Image
        try:
            return klass.from_bytes(raw)
        except Exception as exc:
            raise FileFormatError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for non-NIfTI bytes
        raise FileFormatError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise FileFormatError(f"{path}: holds a {type(img).__name__}, not a NIfTI image")
    return img


def _read_array(img, path) -> np.ndarray:
    proxy = img.dataobj
    try:
        if nib.is_proxy(proxy):
            raw = np.asanyarray(proxy.get_unscaled())
            slope, inter = proxy.slope, proxy.inter
        else:
            raw, slope, inter = np.asanyarray(proxy), 1.0, 0.0
    except (EOFError, OSError, zlib.error, ValueError) as exc:
        raise FileFormatError(f"{path}: NIfTI voxel data is truncated or corrupt ({exc})") from exc
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else float(slope)
    inter = 0.0 if inter is None or not np.isfinite(inter) else float(inter)
    if slope == 1.0 and inter == 0.0:
        return raw
    out = raw.astype(np.float32)
    out *= np.float32(slope)
    out += np.float32(inter)
    return out


def read_nifti(path, orientation: str | None = DEFAULT_ORIENTATION, dtype=None) -> Volume:
    """Read a 3D volume or a 4D series (time on the file's 4th axis).

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
        orientation: Axis codes to reorient to (default ``"LPS"``: x to the
            patient's left, y posterior, z superior, so ``array[z]`` displays
            in radiological convention); ``None`` keeps the file's voxel order.
        dtype: Output dtype; ``None`` keeps the stored type when the header has
            no intensity scaling and gives ``float32`` when it has.

    Returns:
        A `Volume` ``(z, y, x)`` or ``(t, z, y, x)``. For a 4D file,
        ``meta["frame_times_s"]`` comes from the side-car JSON when present,
        otherwise from the header's time step.

    Raises:
        MissingPathError: the file does not exist.
        FileFormatError: the file is not NIfTI, is truncated, or has more than
            four dimensions.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file")
    img = _open_nifti(path)
    data = _read_array(img, path)
    while data.ndim > 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim not in (3, 4):
        raise FileFormatError(f"{path}: {data.ndim}D NIfTI with shape {data.shape} (expected 3D or 4D)")
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    affine = img.affine
    source_orientation = orientation_code(affine)
    array = data.T  # (x, y, z[, t]) -> ([t,] z, y, x), C-contiguous for a Fortran-ordered file
    if orientation is not None:
        array, affine = reorient(array, affine, orientation)
    meta = {
        "source": str(path),
        "format": "nifti",
        "source_orientation": source_orientation,
        "orientation": orientation_code(affine),
    }
    if array.ndim == 4:
        meta["frame_times_s"] = _frame_times(img, path, array.shape[0])
    return Volume(array, affine, meta=meta)


def _frame_times(img, path, n_frames: int) -> list:
    car = sidecar_path(path)
    if car.is_file():
        try:
            info = json.loads(car.read_text())
        except ValueError as exc:
            raise FileFormatError(f"{car}: side-car is not valid JSON ({exc})") from exc
        times = info.get("frame_times_s")
        if times is not None:
            if len(times) != n_frames:
                raise FileFormatError(
                    f"{car}: lists {len(times)} frame times but {path} has {n_frames} frames"
                )
            return [float(t) for t in times]
    unit = img.header.get_xyzt_units()[1]
    step = float(img.header.get_zooms()[3]) * _TIME_UNIT_TO_SECONDS.get(unit, 1.0)
    return [i * step for i in range(n_frames)]


def write_nifti(volume: Volume, path, orientation: str | None = "source") -> pathlib.Path:
    """Write a `Volume` as NIfTI, atomically (temporary file, then rename).

    Args:
        volume: What to write. ``bool`` arrays are written as ``uint8``.
        path: Destination ending in ``.nii`` or ``.nii.gz``.
        orientation: ``"source"`` (default) writes the voxel order of the file
            the volume was read from (``meta["source_orientation"]``), so a
            mask lands in the same voxel order as its image; an axis code such
            as ``"RAS"`` forces one; ``None`` writes the array as it is.

    Returns:
        The path written. For a 4D series with ``meta["frame_times_s"]`` a
        side-car JSON holding them is written beside it (its ``frame_times_s``;
        other keys an existing side-car holds, such as a phantom's class, are kept).
    """
    path = pathlib.Path(path)
    if not is_nifti_path(path):
        raise ConfigError(f"{path}: output must end in .nii or .nii.gz")
    if not path.parent.is_dir():
        raise MissingPathError(f"{path.parent}: output folder does not exist")
    array, affine = volume.array, volume.affine
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if orientation == "source":
        orientation = volume.meta.get("source_orientation")
    if orientation is not None:
        array, affine = reorient(array, affine, orientation)
    img = nib.Nifti1Image(np.asarray(array).T, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    frame_times = volume.meta.get("frame_times_s")
    if array.ndim == 4:
        img.header.set_xyzt_units("mm", "sec")
        if frame_times is not None and len(frame_times) > 1:
            zooms = img.header.get_zooms()
            step = float(np.median(np.diff(frame_times)))
            img.header.set_zooms(zooms[:3] + (step,))
    else:
        img.header.set_xyzt_units("mm")
    suffix = ".nii.gz" if str(path).lower().endswith(".gz") else ".nii"
    fd, tmp = temp_beside(path, suffix=suffix)
    os.close(fd)
    try:
        nib.save(img, tmp)
        if array.ndim == 4 and frame_times is not None:
            _update_sidecar(sidecar_path(path), {"frame_times_s": [float(t) for t in frame_times]})
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    logger.debug("wrote %s %s %s", path, array.shape, orientation_code(affine))
    return path


def _update_sidecar(path: pathlib.Path, values: dict) -> None:
    """Write ``values`` into the JSON side-car, keeping any other keys already there (e.g. a phantom's class)."""
    info = {}
    if path.is_file():
        try:
            found = json.loads(path.read_text())
            info = found if isinstance(found, dict) else {}
        except (ValueError, OSError):
            info = {}
    write_text_atomic(path, json.dumps({**info, **values}, indent=2))
