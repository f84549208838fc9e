"""Writing an HDF5 case store atomically."""

import json
import logging
import os
import pathlib
import shutil

import h5py
import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, GeometryError, MissingPathError
from keras_liver.io.atomic import temp_beside
from keras_liver.io.case_store import STORE_FORMAT, STORE_VERSION, CaseStore
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _chunks(shape: tuple) -> tuple:
    spatial = tuple(min(n, c) for n, c in zip(shape[-3:], (16, 64, 64)))
    return (1,) * (len(shape) - 3) + spatial


class CaseStoreWriter:
    """Add cases to an HDF5 case store; the store appears whole or not at all.

    All writes go to a temporary file in the same folder, renamed over
    ``path`` when the ``with`` block ends without an exception. When
    ``append`` is true and the store exists it is first copied, so appending
    costs one sequential copy of the existing store per writer (open one
    writer for many cases, not one per case). An exception, a kill or a full
    disk leaves the old store untouched.

    Args:
        path: The ``.h5`` store.
        append: Keep the cases of an existing store (default ``False``:
            replace it).
        compression: ``"gzip"`` (default, level 1, portable) or ``"lzf"``.

    Example:
        >>> with CaseStoreWriter("cases.h5") as w:          # doctest: +SKIP
        ...     w.add("case-0", image, label)
    """

    def __init__(self, path, append: bool = False, compression: str = "gzip"):
        self.path = pathlib.Path(path)
        if not self.path.parent.is_dir():
            raise MissingPathError(f"{self.path.parent}: output folder does not exist")
        if compression not in ("gzip", "lzf"):
            raise ConfigError(f"compression={compression!r}: use 'gzip' or 'lzf'")
        self.append = append
        self.compression = compression
        self._file = None
        self._tmp = None
        self._order: list = []

    def __enter__(self):
        fd, tmp = temp_beside(self.path, suffix=".tmp")
        os.close(fd)
        self._tmp = pathlib.Path(tmp)
        if self.append and self.path.exists():
            CaseStore(self.path).close()  # validates the existing store
            shutil.copyfile(self.path, self._tmp)
            self._file = h5py.File(self._tmp, "r+")
            self._order = [str(c) for c in json.loads(self._file.attrs.get("case_order", "[]"))]
        else:
            self._file = h5py.File(self._tmp, "w")
            self._file.attrs["format"] = STORE_FORMAT
            self._file.attrs["version"] = STORE_VERSION
            self._file.create_group("cases")
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._file.attrs["case_order"] = json.dumps(self._order)
            self._file.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
                logger.info("wrote case store %s (%d cases)", self.path, len(self._order))
        finally:
            if self._tmp.exists():
                self._tmp.unlink()
        return False

    def add(self, case_id: str, image: Volume, label: Volume | None = None, attrs: dict | None = None,
            overwrite: bool = False, extra: dict | None = None) -> None:
        """Add one case.

        Args:
            case_id: Unique name of the case in the store.
            image: The image `Volume`.
            label: Optional label map on the same grid (stored ``uint8``).
            attrs: JSON-serialisable case attributes (phantom parameters, ...).
            overwrite: Replace an existing case of that name instead of failing.
            extra: Further ``uint8`` maps on the image's grid by key (for example a phantom's
                ``"tissue"`` codes), read back with ``CaseStore.read(case, key)``.
        """
        if self._file is None:
            raise ConfigError("CaseStoreWriter.add must be called inside its `with` block")
        case_id = str(case_id)
        if not case_id or "/" in case_id:
            raise ConfigError(f"case_id={case_id!r}: must be non-empty and contain no '/'")
        cases = self._file["cases"]
        if case_id in cases:
            if not overwrite:
                raise FileFormatError(f"{self.path}: case {case_id!r} already stored (pass overwrite=True)")
            del cases[case_id]
            self._order.remove(case_id)
        for key, volume in {"label": label, **(extra or {})}.items():
            if volume is None:
                continue
            if key == "image":
                raise ConfigError(f"case {case_id!r}: an extra map cannot be called 'image'")
            if volume.spatial_shape != image.spatial_shape:
                raise GeometryError(
                    f"case {case_id!r}: {key} shape {volume.spatial_shape} != image shape {image.spatial_shape}"
                )
            if not np.allclose(volume.affine, image.affine, atol=1e-3):
                raise GeometryError(f"case {case_id!r}: {key} affine differs from image affine")
        group = cases.create_group(case_id)
        group.attrs["attrs"] = json.dumps(attrs or {}, default=_json_default)
        self._put(group, "image", image, image.array)
        if label is not None:
            self._put(group, "label", label, label.array.astype(np.uint8, copy=False))
        for key, volume in (extra or {}).items():
            self._put(group, key, volume, volume.array.astype(np.uint8, copy=False))
        self._order.append(case_id)

    def _put(self, group, key, volume, array):
        opts = {"compression": self.compression, "shuffle": True}
        if self.compression == "gzip":
            opts["compression_opts"] = 1
        ds = group.create_dataset(key, data=array, chunks=_chunks(array.shape), **opts)
        ds.attrs["affine"] = volume.affine
        ds.attrs["spacing"] = np.asarray(volume.spacing)
        meta = {k: v for k, v in volume.meta.items() if k not in ("files",)}
        ds.attrs["meta"] = json.dumps(meta, default=_json_default)
