"""NIfTI-1/2 reading and atomic writing (``.nii`` and ``.nii.gz``) with nibabel."""

import gzip
import io
import json
import logging
import math
import os
import pathlib
import zlib

import nibabel as nib
import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.atomic import temp_beside, write_text_atomic
from keras_liver.io.limits import check_voxel_count
from keras_liver.io.orientation import DEFAULT_ORIENTATION, array_to_write, orientation_code, reorient
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


_HEADER_CLASSES = {348: nib.Nifti1Header, 540: nib.Nifti2Header}
_SINGLE_FILE_MAGIC = (b"n+1", b"n+2")
_MAX_TRAILING_BYTES = 1 << 20  # beyond the declared voxels, before the file is called a decompression bomb
_CHUNK = 1 << 24


def _open_stream(path: pathlib.Path):
    try:
        return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot open ({exc})") from exc


def _read_header(fh, path: pathlib.Path):
    head = fh.read(348)
    if len(head) < 348:
        raise FileFormatError(f"{path}: not a readable NIfTI file ({len(head)} bytes, shorter than a header)")
    for order in ("little", "big"):
        size = int.from_bytes(head[:4], order)
        if size in _HEADER_CLASSES:
            break
    else:
        raise FileFormatError(f"{path}: not a readable NIfTI file (no NIfTI header: sizeof_hdr is not 348 or 540)")
    if size == 540:
        head += fh.read(540 - 348)
    try:
        header = _HEADER_CLASSES[size].from_fileobj(io.BytesIO(head), endianness="<" if order == "little" else ">",
                                                    check=False)  # its checks "fix" zero pixdim to 1
    except Exception as exc:  # nibabel raises HeaderDataError, ValueError ... for broken fields
        raise FileFormatError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    magic = bytes(header["magic"])[:3]
    if magic not in _SINGLE_FILE_MAGIC:
        raise FileFormatError(
            f"{path}: header magic {magic!r} is not a single-file NIfTI (.hdr/.img pairs are not read)"
        )
    return header, len(head)


def _declared_shape(header, path: pathlib.Path, max_voxels) -> tuple:
    dims = [int(d) for d in header["dim"]]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise FileFormatError(f"{path}: header declares {ndim} dimensions (dim[0] must be 1 to 7)")
    shape = tuple(dims[1 : 1 + ndim])
    check_voxel_count(path, shape, max_voxels)
    if 0 in shape:
        raise FileFormatError(f"{path}: header declares an empty image {list(shape)}")
    return shape


def _declared_dtype(header, path: pathlib.Path) -> np.dtype:
    try:
        dtype = header.get_data_dtype()
    except Exception as exc:
        raise FileFormatError(f"{path}: unknown NIfTI datatype code {int(header['datatype'])}") from exc
    if dtype.kind == "c":
        raise FileFormatError(f"{path}: holds complex voxels ({dtype.name}); keras-liver reads real-valued images")
    if dtype.kind not in "uif" or dtype.fields:
        raise FileFormatError(
            f"{path}: holds {'RGB/RGBA' if dtype.fields else dtype.name} voxels; keras-liver reads scalar images"
        )
    return dtype


def _check_geometry(header, path: pathlib.Path) -> np.ndarray:
    """The header's voxel-to-world affine, refused when it is non-finite or singular."""
    if int(header["sform_code"]) > 0:
        affine, what = header.get_sform(), "sform"
    else:
        zooms = np.asarray(header["pixdim"][1:4], dtype=np.float64)
        if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
            raise FileFormatError(
                f"{path}: voxel spacing pixdim[1:4] = {zooms.tolist()} must be finite and positive (no sform to use)"
            )
        if int(header["qform_code"]) > 0:
            quatern = [float(header[k]) for k in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y",
                                                  "qoffset_z")]
            if not np.all(np.isfinite(quatern)):
                raise FileFormatError(f"{path}: qform holds non-finite values {quatern}")
            affine, what = header.get_qform(), "qform"
        else:
            affine, what = header.get_base_affine(), "pixdim"
    affine = np.asarray(affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)):
        raise FileFormatError(f"{path}: {what} holds non-finite values {affine[:3].tolist()}")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise FileFormatError(f"{path}: {what} is singular (zero spacing or collinear axes): {affine[:3].tolist()}")
    return affine


def _read_voxels(fh, path: pathlib.Path, header, offset: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    nbytes = math.prod(shape) * dtype.itemsize
    vox_offset = int(header.get_data_offset())
    if vox_offset == 0:  # unset by some writers: the voxels follow the header and its 4 extension bytes
        vox_offset = offset + 4
    if vox_offset < offset:
        raise FileFormatError(f"{path}: vox_offset {vox_offset} lies inside the header")
    if not path.name.lower().endswith(".gz") and os.path.getsize(path) < vox_offset + nbytes:
        raise FileFormatError(
            f"{path}: NIfTI voxel data is truncated or corrupt ({os.path.getsize(path):,} bytes, header declares "
            f"{vox_offset + nbytes:,})"
        )
    buffer = np.empty(nbytes, dtype=np.uint8)
    try:
        fh.seek(vox_offset)
        view, filled = memoryview(buffer), 0
        while filled < nbytes:
            got = fh.readinto(view[filled : filled + _CHUNK])
            if not got:
                raise FileFormatError(
                    f"{path}: NIfTI voxel data is truncated or corrupt ({filled:,} of {nbytes:,} voxel bytes)"
                )
            filled += got
        # Read on to the end of the stream, bounded: gzip checks its length and
        # CRC trailer only there, and a stream far longer than declared is refused.
        trailing = 0
        while chunk := fh.read(_CHUNK if trailing < _MAX_TRAILING_BYTES else 1):
            trailing += len(chunk)
            if trailing > _MAX_TRAILING_BYTES:
                raise FileFormatError(
                    f"{path}: holds more data than its header declares ({shape}, {dtype.name}); refused as a "
                    "possible decompression bomb"
                )
    except (EOFError, OSError, zlib.error) as exc:
        raise FileFormatError(f"{path}: gzip stream is truncated or corrupt ({exc})") from exc
    data = buffer.view(dtype).reshape(shape, order="F")
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))
    return data


def _scaled(data: np.ndarray, header) -> np.ndarray:
    slope, inter = header.get_slope_inter()
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else float(slope)
    inter = 0.0 if inter is None or not np.isfinite(inter) else float(inter)
    if slope == 1.0 and inter == 0.0:
        return data
    out = data.astype(np.float32)
    out *= np.float32(slope)
    out += np.float32(inter)
    return out


def _checked_header(fh, path: pathlib.Path, max_voxels):
    """``(header, offset, shape, affine)`` read from ``fh``, every declared size and the geometry checked."""
    try:
        header, offset = _read_header(fh, path)
    except (EOFError, OSError, zlib.error) as exc:
        raise FileFormatError(f"{path}: gzip stream is truncated or corrupt ({exc})") from exc
    return header, offset, _declared_shape(header, path, max_voxels), _check_geometry(header, path)


def _load(path: pathlib.Path, max_voxels):
    """Header and voxels (scaled) of a single-file NIfTI, every declared size checked before reading."""
    with _open_stream(path) as fh:
        header, offset, shape, affine = _checked_header(fh, path, max_voxels)
        data = _read_voxels(fh, path, header, offset, shape, _declared_dtype(header, path))
    return header, affine, _scaled(data, header)


def read_nifti_geometry(path, max_voxels: int | None = None) -> tuple[tuple, tuple]:
    """``(shape, spacing)`` of a NIfTI file in ``(z, y, x)`` order, from its header alone (no voxel is read).

    The header gets the same checks as `read_nifti` (size limit, dimensions, affine).
    """
    from keras_liver.io.volume import spacing_from_affine

    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file")
    with _open_stream(path) as fh:
        _, _, shape, affine = _checked_header(fh, path, max_voxels)
    return tuple(shape[:3][::-1]), spacing_from_affine(affine)


def read_nifti(
    path, orientation: str | None = DEFAULT_ORIENTATION, dtype=None, max_voxels: int | None = None
) -> Volume:
    """Read a 3D volume or a 4D series (time on the file's 4th axis).

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
        orientation: Axis codes to reorient to (default ``"LPS"``: x to the
            patient's left, y posterior, z superior, so ``array[z]`` displays
            in radiological convention); ``None`` keeps the file's voxel order.
        dtype: Output dtype; ``None`` keeps the stored type when the header has
            no intensity scaling and gives ``float32`` when it has.
        max_voxels: Largest voxel count read (see `keras_liver.io.limits`);
            ``None`` uses ``$KERAS_LIVER_MAX_VOXELS`` or the default.

    Returns:
        A `Volume` ``(z, y, x)`` or ``(t, z, y, x)``. For a 4D file,
        ``meta["frame_times_s"]`` comes from the side-car JSON when present,
        otherwise from the header's time step.

    Raises:
        MissingPathError: the file does not exist.
        FileFormatError: the file is not NIfTI, is truncated, decompresses to
            more than its header declares, declares more voxels than the limit
            or a negative extent, holds complex or RGB voxels, has more than
            four dimensions, or has a non-finite or singular affine or zero or
            non-finite spacing.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file")
    header, affine, data = _load(path, max_voxels)
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
    source_orientation = orientation_code(affine)
    array = data.T  # (x, y, z[, t]) -> ([t,] z, y, x), C-contiguous for a Fortran-ordered file
    if orientation is not None:
        array, affine = reorient(array, affine, orientation, in_place=True)  # the array is ours alone
    meta = {
        "source": str(path),
        "format": "nifti",
        "source_orientation": source_orientation,
        "orientation": orientation_code(affine),
    }
    if array.ndim == 4:
        meta["frame_times_s"] = _frame_times(header, path, array.shape[0])
    return Volume(array, affine, meta=meta)


def _frame_times(header, path, n_frames: int) -> list:
    car = sidecar_path(path)
    if car.is_file():
        try:
            info = json.loads(car.read_text())
        except ValueError as exc:
            raise FileFormatError(f"{car}: side-car is not valid JSON ({exc})") from exc
        times = info.get("frame_times_s") if isinstance(info, dict) else None
        if times is not None:
            try:
                times = [float(t) for t in times]
            except (TypeError, ValueError):
                raise FileFormatError(f"{car}: frame_times_s must be a list of numbers; got {times!r:.80}") from None
            if len(times) != n_frames:
                raise FileFormatError(
                    f"{car}: lists {len(times)} frame times but {path} has {n_frames} frames"
                )
            if not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
                raise FileFormatError(f"{car}: frame_times_s must be finite and non-decreasing; got {times}")
            return times
    unit = header.get_xyzt_units()[1]
    step = float(header.get_zooms()[3]) * _TIME_UNIT_TO_SECONDS.get(unit, 1.0)
    if not np.isfinite(step) or step < 0:
        raise FileFormatError(f"{path}: frame interval pixdim[4] = {step} must be finite and not negative")
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
    array, affine = array_to_write(volume, orientation)
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
