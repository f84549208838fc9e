"""`load_volume` and `save_volume`: one entry point for every format."""

import pathlib

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.case_store import CaseStore
from keras_liver.io.dicom import read_dicom_series
from keras_liver.io.nifti import is_nifti_path, read_nifti, write_nifti
from keras_liver.io.nrrd import is_nrrd_path, read_nrrd, write_nrrd
from keras_liver.io.orientation import DEFAULT_ORIENTATION, reorient
from keras_liver.io.volume import Volume

HDF5_SUFFIXES = (".h5", ".hdf5")


def load_volume(
    path,
    *,
    orientation: str | None = DEFAULT_ORIENTATION,
    dtype=None,
    series_uid: str | None = None,
    case: str | None = None,
    key: str = "image",
    max_voxels: int | None = None,
) -> Volume:
    """Read a volume or a DCE series from NIfTI, NRRD, a DICOM folder or a case store.

    Args:
        path: ``.nii``/``.nii.gz`` file; ``.nrrd`` file or ``.nhdr`` header;
            DICOM series folder (or one ``.dcm`` file); ``.h5`` case store.
        orientation: Axis codes of the returned array (default ``"LPS"``);
            ``None`` keeps the stored order. The affine always maps voxels to
            RAS world, so the anatomy stays in place either way.
        dtype: Output dtype (``None``: as stored, ``float32`` if rescaled).
        series_uid: DICOM: the series to read when a folder holds several.
        case: Case store: the case to read (may be omitted when the store
            holds exactly one).
        key: Case store: ``"image"`` or ``"label"``.
        max_voxels: Largest voxel count read, checked from the header before
            any voxel is (see `keras_liver.io.limits`: default 2**29, or
            ``$KERAS_LIVER_MAX_VOXELS``).

    Returns:
        A `Volume`: ``(z, y, x)``, or ``(t, z, y, x)`` for a 4D NIfTI series.

    Raises:
        MissingPathError: ``path`` does not exist or is an empty folder.
        FileFormatError: the file is corrupt or of an unknown kind.
        DicomSeriesError: see `read_dicom_series`.

    Example:
        >>> ct = load_volume("volume-0.nii.gz")               # doctest: +SKIP
        >>> ct.array.shape, ct.spacing, ct.orientation        # doctest: +SKIP
        ((75, 512, 512), (5.0, 0.7, 0.7), 'LPS')
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingPathError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_dicom_series(
            path, series_uid=series_uid, orientation=orientation, dtype=dtype, max_voxels=max_voxels
        )
    if is_nifti_path(path):
        return read_nifti(path, orientation=orientation, dtype=dtype, max_voxels=max_voxels)
    if is_nrrd_path(path):
        return read_nrrd(path, orientation=orientation, dtype=dtype, max_voxels=max_voxels)
    if path.suffix.lower() in HDF5_SUFFIXES:
        with CaseStore(path) as store:
            ids = store.case_ids()
            if case is None:
                if len(ids) != 1:
                    raise ConfigError(f"{path}: store holds {len(ids)} cases; choose one with case=")
                case = ids[0]
            volume = store.read(case, key, max_voxels=max_voxels)
        if orientation is not None:
            array, affine = reorient(volume.array, volume.affine, orientation)
            volume = Volume(array, affine, meta=volume.meta)
        if dtype is not None:
            volume = volume.replace(volume.array.astype(dtype, copy=False))
        return volume
    if path.suffix.lower() == ".dcm":
        return read_dicom_series([path], orientation=orientation, dtype=dtype, max_voxels=max_voxels)
    raise FileFormatError(
        f"{path}: unknown file type; keras-liver reads .nii, .nii.gz, .nrrd, .nhdr, DICOM folders and .h5 case stores"
    )


def save_volume(volume: Volume, path, orientation: str | None = "source") -> pathlib.Path:
    """Write a `Volume` to NIfTI (or NRRD) on its own world grid, atomically.

    A mask predicted on a DICOM series and saved here overlays that series
    exactly in 3D Slicer or ITK-SNAP, because the affine carries the series'
    patient geometry.

    Args:
        volume: What to write.
        path: ``.nii``, ``.nii.gz`` or ``.nrrd`` destination.
        orientation: ``"source"`` (default) writes the voxel order of the file
            the volume came from; an axis code forces one; ``None`` writes the
            array as it is.

    Returns:
        The path written.
    """
    if not isinstance(volume, Volume):
        raise ConfigError(f"save_volume needs a Volume, got {type(volume).__name__}")
    if pathlib.Path(path).suffix.lower() == ".nrrd":
        return write_nrrd(volume, path, orientation=orientation)
    return write_nifti(volume, path, orientation=orientation)
