"""DICOM series folders -> `Volume`, with the patient geometry checked.

Slices are grouped by ``SeriesInstanceUID``, sorted by the position of
``ImagePositionPatient`` along the slice normal (the cross product of the two
``ImageOrientationPatient`` cosines), rescaled to HU with
``RescaleSlope``/``RescaleIntercept`` per slice, and given an affine built from
the positions themselves (never from ``SliceThickness``). Duplicate positions,
missing slices and uneven spacing are refused with an error naming the files.
Reference: DICOM PS3.3 C.7.6.2 (Image Plane Module).
"""

import logging
import pathlib

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from keras_liver.errors import DicomSeriesError, FileFormatError, MissingPathError
from keras_liver.io.limits import check_voxel_count
from keras_liver.io.orientation import DEFAULT_ORIENTATION, orientation_code, reorient
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _candidate_files(folder: pathlib.Path) -> list:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR"
    )


def _read_headers(files: list) -> list:
    datasets = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except InvalidDicomError:
            logger.debug("skipping %s: not a DICOM file", f)
            continue
        except Exception as exc:
            raise FileFormatError(f"{f}: unreadable DICOM file ({type(exc).__name__}: {exc})") from exc
        if "PixelData" not in ds:
            logger.debug("skipping %s: no pixel data (%s)", f, ds.get("Modality", "?"))
            continue
        datasets.append((f, ds))
    return datasets


def list_dicom_series(folder) -> list[dict]:
    """Summarise the image series found in a folder.

    Args:
        folder: Folder holding DICOM files (not searched recursively).

    Returns:
        One dict per series: ``series_uid``, ``description``, ``modality``,
        ``n_files``, sorted by ``series_uid``.
    """
    folder = pathlib.Path(folder)
    groups = _group(_read_headers(_candidate_files(folder)))
    return [
        {
            "series_uid": uid,
            "description": str(items[0][1].get("SeriesDescription", "")),
            "modality": str(items[0][1].get("Modality", "")),
            "n_files": len(items),
        }
        for uid, items in sorted(groups.items())
    ]


def _group(datasets: list) -> dict:
    groups: dict = {}
    for f, ds in datasets:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((f, ds))
    return groups


def _numbers(f, ds, getter, what) -> np.ndarray:
    try:
        value = np.asarray(getter(ds), dtype=np.float64)
    except (TypeError, ValueError, AttributeError) as exc:
        raise DicomSeriesError(f"{f}: {what} is not a list of numbers ({exc})") from None
    if not np.all(np.isfinite(value)):
        raise DicomSeriesError(f"{f}: {what} {value.tolist()} holds non-finite values")
    return value


def _same(items, getter, what, atol=1e-4):
    ref_file, ref = items[0][0], _numbers(*items[0], getter, what)
    for f, ds in items[1:]:
        value = _numbers(f, ds, getter, what)
        if value.shape != ref.shape or not np.allclose(value, ref, atol=atol):
            raise DicomSeriesError(
                f"{f}: {what} {value.tolist()} differs from {ref.tolist()} in {ref_file}; "
                "one series must share one slice geometry"
            )
    return ref


def read_dicom_series(
    source,
    series_uid: str | None = None,
    orientation: str | None = DEFAULT_ORIENTATION,
    dtype=None,
    spacing_tolerance: float = 0.01,
    max_voxels: int | None = None,
) -> Volume:
    """Read one DICOM series as a volume in HU (CT) or stored units (MR).

    Args:
        source: A folder (its files are read; non-DICOM files are skipped) or
            a list of DICOM files.
        series_uid: The series to read when the folder holds several.
        orientation: Axis codes to reorient to (default ``"LPS"``, the DICOM
            patient system, so nothing moves for a standard axial series);
            ``None`` keeps the stored order (slices sorted along the normal).
        dtype: Output dtype; ``None`` gives ``int16`` when every slice's
            rescale is an integer shift that keeps values in int16 range, and
            ``float32`` otherwise (non-integer rescale or values beyond int16).
        spacing_tolerance: Relative tolerance on slice gaps (default 1 %) for
            calling them equal.
        max_voxels: Largest voxel count read, checked from the headers before
            any pixel is decoded (see `keras_liver.io.limits`).

    Returns:
        A `Volume` ``(z, y, x)`` whose affine maps voxels to RAS world.

    Raises:
        MissingPathError: the folder does not exist or holds no files.
        DicomSeriesError: no DICOM image, several series and none chosen, a
            duplicate or missing slice, uneven spacing, mixed geometry, or a
            non-finite, zero or collinear geometry.
        FileFormatError: more voxels than the limit, or undecodable pixels.
    """
    if isinstance(source, (list, tuple)):
        files = [pathlib.Path(f) for f in source]
        folder = files[0].parent if files else pathlib.Path(".")
        for f in files:
            if not f.is_file():
                raise MissingPathError(f"{f}: no such file")
    else:
        folder = pathlib.Path(source)
        if not folder.is_dir():
            raise MissingPathError(f"{folder}: no such folder")
        files = _candidate_files(folder)
    if not files:
        raise MissingPathError(f"{folder}: folder is empty (no DICOM files)")
    groups = _group(_read_headers(files))
    if not groups:
        raise DicomSeriesError(f"{folder}: none of its {len(files)} files is a DICOM image")
    if series_uid is None:
        if len(groups) > 1:
            listing = "; ".join(
                f"{uid} ({len(items)} files, {items[0][1].get('SeriesDescription', '')!s})"
                for uid, items in sorted(groups.items())
            )
            raise DicomSeriesError(
                f"{folder}: holds {len(groups)} series; choose one with series_uid "
                f"(--series on the command line): {listing}"
            )
        series_uid = next(iter(groups))
    elif series_uid not in groups:
        raise DicomSeriesError(f"{folder}: no series {series_uid!r}; found {sorted(groups)}")
    items = groups[series_uid]
    for f, ds in items:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise DicomSeriesError(f"{f}: multi-frame DICOM is not supported; export single-frame slices")
        for tag in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
            if tag not in ds:
                raise DicomSeriesError(f"{f}: no {tag}, so its place in the patient is unknown")
    iop = _same(items, lambda ds: ds.ImageOrientationPatient, "ImageOrientationPatient")
    pixel_spacing = _same(items, lambda ds: ds.PixelSpacing, "PixelSpacing")
    _same(items, lambda ds: (ds.Rows, ds.Columns), "Rows/Columns", atol=0)
    first_file = items[0][0]
    if iop.shape != (6,) or pixel_spacing.shape != (2,):
        raise DicomSeriesError(
            f"{first_file}: ImageOrientationPatient needs 6 values and PixelSpacing 2; got {iop.tolist()} "
            f"and {pixel_spacing.tolist()}"
        )
    if np.any(pixel_spacing <= 0):
        raise DicomSeriesError(f"{first_file}: PixelSpacing {pixel_spacing.tolist()} must be positive")
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    if min(np.linalg.norm(row_cos), np.linalg.norm(col_cos)) < 1e-3 or np.linalg.norm(normal) < 1e-3:
        raise DicomSeriesError(
            f"{first_file}: ImageOrientationPatient {iop.tolist()} does not hold two independent direction cosines"
        )
    normal = normal / np.linalg.norm(normal)
    positions = np.array([_numbers(f, ds, lambda d: d.ImagePositionPatient, "ImagePositionPatient") for f, ds in items])
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise DicomSeriesError(f"{folder}: ImagePositionPatient must hold 3 values per slice")
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    items = [items[i] for i in order]
    positions, along = positions[order], along[order]
    step = _check_gaps(items, along, spacing_tolerance, folder)

    rows, columns = int(items[0][1].Rows), int(items[0][1].Columns)
    check_voxel_count(folder, (len(items), rows, columns), max_voxels)
    if rows == 0 or columns == 0:
        raise DicomSeriesError(f"{first_file}: declares an empty image ({rows} rows x {columns} columns)")
    array = _stack_pixels(items, dtype)
    dr, dc = float(pixel_spacing[0]), float(pixel_spacing[1])
    if len(items) > 1:
        slice_vec = (positions[-1] - positions[0]) / (len(items) - 1)
    else:
        try:
            thickness = float(
                items[0][1].get("SpacingBetweenSlices", 0) or items[0][1].get("SliceThickness", 0) or 1.0
            )
        except (TypeError, ValueError):
            thickness = float("nan")
        if not np.isfinite(thickness) or thickness <= 0:
            raise DicomSeriesError(f"{first_file}: one slice and no usable SliceThickness, so its spacing is unknown")
        slice_vec = normal * thickness
    lps = np.eye(4)
    lps[:3, 0] = row_cos * dc  # i: along a row, i.e. increasing column index
    lps[:3, 1] = col_cos * dr  # j: down a column, i.e. increasing row index
    lps[:3, 2] = slice_vec
    lps[:3, 3] = positions[0]
    affine = _LPS_TO_RAS @ lps
    source_orientation = orientation_code(affine)
    if orientation is not None:
        array, affine = reorient(array, affine, orientation)
    first = items[0][1]
    meta = {
        "source": str(folder),
        "format": "dicom",
        "series_uid": series_uid,
        "modality": str(first.get("Modality", "")),
        "series_description": str(first.get("SeriesDescription", "")),
        "source_orientation": source_orientation,
        "orientation": orientation_code(affine),
        "slice_step_mm": step,
        "files": [str(f) for f, _ in items],
    }
    return Volume(array, affine, meta=meta)


def _check_gaps(items, along, tolerance, folder) -> float | None:
    if len(items) < 2:
        return None
    gaps = np.diff(along)
    step = float(np.median(gaps))
    for n, gap in enumerate(gaps):
        if gap <= max(1e-3, tolerance * step):
            raise DicomSeriesError(
                f"{folder}: duplicate slice position {along[n]:.3f} mm in "
                f"{items[n][0].name} and {items[n + 1][0].name}"
            )
    if step <= 0:
        raise DicomSeriesError(f"{folder}: slices do not advance along the normal")
    for n, gap in enumerate(gaps):
        ratio = gap / step
        if abs(ratio - 1) <= tolerance:
            continue
        if ratio > 1.5 and abs(ratio - round(ratio)) <= tolerance:
            raise DicomSeriesError(
                f"{folder}: {int(round(ratio)) - 1} missing slice(s) between {items[n][0].name} "
                f"and {items[n + 1][0].name} (gap {gap:.3f} mm, step {step:.3f} mm)"
            )
        raise DicomSeriesError(
            f"{folder}: uneven slice spacing between {items[n][0].name} and "
            f"{items[n + 1][0].name} (gap {gap:.3f} mm, median step {step:.3f} mm)"
        )
    return step


def _stack_pixels(items, dtype) -> np.ndarray:
    slopes = np.array([_numbers(f, ds, lambda d: d.get("RescaleSlope", 1) or 1, "RescaleSlope") for f, ds in items])
    inters = np.array(
        [_numbers(f, ds, lambda d: d.get("RescaleIntercept", 0) or 0, "RescaleIntercept") for f, ds in items]
    )
    first = items[0][1]
    integral = bool(np.all(slopes == 1) and np.all(inters == np.round(inters)))
    # int16 HU when the rescale is an integer shift and every value fits;
    # a slice that would overflow switches the whole stack to float32.
    out_dtype = dtype or (np.int16 if integral and "FloatPixelData" not in first else np.float32)
    out = np.empty((len(items), int(first.Rows), int(first.Columns)), dtype=out_dtype)
    for n, (f, ds) in enumerate(items):
        try:
            pixels = ds.pixel_array
        except Exception as exc:
            raise FileFormatError(
                f"{f}: cannot decode pixel data (transfer syntax "
                f"{ds.file_meta.get('TransferSyntaxUID', '?')}): {exc}"
            ) from exc
        if pixels.shape != out.shape[1:]:
            raise FileFormatError(f"{f}: pixel data has shape {pixels.shape}, not the declared {out.shape[1:]}")
        if np.issubdtype(out.dtype, np.integer) and integral:
            hu = pixels.astype(np.int32) + int(inters[n]) if inters[n] else pixels
            info = np.iinfo(out.dtype)
            if hu.min() < info.min or hu.max() > info.max:
                if dtype is not None:
                    raise FileFormatError(f"{f}: values {hu.min()}..{hu.max()} do not fit dtype {out.dtype}")
                out = out.astype(np.float32)
                out[n] = hu
            else:
                out[n] = hu
        else:
            out[n] = pixels.astype(np.float32) * np.float32(slopes[n]) + np.float32(inters[n])
    return out
