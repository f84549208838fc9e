"""Reading an HDF5 case store: many cases in one file, read lazily."""

import json
import pathlib

import h5py
import numpy as np

from keras_liver.errors import FileFormatError, MissingPathError
from keras_liver.io.limits import check_voxel_count
from keras_liver.io.volume import Volume

STORE_FORMAT = "keras-liver-case-store"
STORE_VERSION = 1


class CaseStore:
    """Read-only access to an HDF5 case store written by `CaseStoreWriter`.

    Layout: ``/cases/<case_id>/image`` (and optionally ``label``), each a
    chunked, compressed dataset with attributes ``affine`` (4 x 4 voxel to
    RAS), ``spacing`` (z, y, x) and ``meta`` (JSON). Opening the store reads
    no voxel data; `read` and `read_region` read only the chunks they need.

    Args:
        path: The ``.h5`` file.

    Example:
        >>> with CaseStore("cases.h5") as store:            # doctest: +SKIP
        ...     patch = store.read_region("case-0", "image", (slice(0, 16),) * 3)
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)
        if not self.path.is_file():
            raise MissingPathError(f"{self.path}: no such case store")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise FileFormatError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        if self._file.attrs.get("format") != STORE_FORMAT or "cases" not in self._file:
            self._file.close()
            raise FileFormatError(f"{self.path}: HDF5 file is not a keras-liver case store")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._file.id.valid:
            self._file.close()

    def case_ids(self) -> list[str]:
        """Case identifiers in insertion order."""
        order = self._file.attrs.get("case_order")
        if order is not None:
            return [str(c) for c in json.loads(order)]
        return sorted(self._file["cases"].keys())

    def __len__(self) -> int:
        return len(self._file["cases"])

    def __contains__(self, case_id) -> bool:
        return str(case_id) in self._file["cases"]

    def keys(self, case_id: str) -> list[str]:
        """Arrays stored for a case, e.g. ``["image", "label"]``."""
        return sorted(self._group(case_id).keys())

    def _dataset(self, case_id: str, key: str):
        group = self._group(case_id)
        if key not in group:
            raise FileFormatError(f"{self.path}: case {case_id!r} has no {key!r} (has {sorted(group)})")
        return group[key]

    def _group(self, case_id: str):
        case_id = str(case_id)
        if case_id not in self._file["cases"]:
            raise MissingPathError(f"{self.path}: no case {case_id!r} (store holds {len(self)} cases)")
        return self._file["cases"][case_id]

    def shape(self, case_id: str, key: str = "image") -> tuple:
        """Array shape of one stored array, without reading it."""
        return tuple(self._dataset(case_id, key).shape)

    def attrs(self, case_id: str) -> dict:
        """The case's free-form attributes (JSON), for example phantom parameters."""
        return json.loads(self._group(case_id).attrs.get("attrs", "{}"))

    def read(self, case_id: str, key: str = "image", max_voxels: int | None = None) -> Volume:
        """Read one whole array of a case as a `Volume`.

        Its stored shape is checked against the voxel limit first (see `keras_liver.io.limits`).
        """
        check_voxel_count(f"{self.path}:{case_id}/{key}", self.shape(case_id, key), max_voxels)
        return self.read_region(case_id, key, None)

    def read_region(self, case_id: str, key: str, region) -> Volume:
        """Read a box of a case (only the chunks it touches).

        Args:
            case_id: The case.
            key: ``"image"`` or ``"label"`` (or any other stored array).
            region: A tuple of ``slice`` objects with step 1 over the leading
                axes, or ``None`` for everything.

        Returns:
            A `Volume` whose affine is shifted so the box stays in place in
            the world.
        """
        ds = self._dataset(case_id, key)
        if "affine" not in ds.attrs or "spacing" not in ds.attrs:
            raise FileFormatError(f"{self.path}: case {case_id!r}/{key} has no affine/spacing attributes")
        affine = np.asarray(ds.attrs["affine"], dtype=np.float64)
        try:
            meta = json.loads(ds.attrs.get("meta", "{}"))
        except ValueError as exc:
            raise FileFormatError(f"{self.path}: case {case_id!r}/{key} has unreadable meta JSON ({exc})") from exc
        meta.update({"source": str(self.path), "format": "hdf5", "case_id": str(case_id), "key": key})
        if region is None:
            return Volume(ds[()], affine, tuple(ds.attrs["spacing"]), meta)
        region = tuple(region)
        spatial_offset = len(ds.shape) - 3
        starts = []
        for axis, sl in enumerate(region):
            start, _, step = sl.indices(ds.shape[axis])
            if step != 1:
                raise FileFormatError(f"read_region: slice {sl} on axis {axis} must have step 1")
            starts.append(start)
        starts += [0] * (len(ds.shape) - len(starts))
        shift = np.eye(4)
        shift[:3, 3] = starts[spatial_offset:][::-1]
        return Volume(ds[region], affine @ shift, tuple(ds.attrs["spacing"]), meta)
