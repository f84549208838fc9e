"""The `Volume` container passed across every I/O boundary."""

import dataclasses
from typing import Any

import numpy as np

from keras_liver.errors import GeometryError


def spacing_from_affine(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel spacing in mm, in array order (z, y, x), from a NIfTI-style affine.

    Args:
        affine: 4 x 4 matrix mapping voxel indices (i, j, k) = (x, y, z) to world.

    Returns:
        The lengths of the k, j and i columns, i.e. the (z, y, x) spacing.
    """
    norms = np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))
    return (float(norms[2]), float(norms[1]), float(norms[0]))


@dataclasses.dataclass(frozen=True, eq=False)
class Volume:
    """An image or label map together with its place in the world.

    Axis and geometry conventions, shared by every reader and writer:

    * ``array`` is ``(z, y, x)`` for a volume and ``(t, z, y, x)`` for a DCE
      series. Images are stored as read (``int16`` HU stays ``int16``) unless a
      reader is asked for another dtype; label maps are ``uint8``.
    * ``affine`` is the 4 x 4 NIfTI matrix that maps voxel indices
      ``(i, j, k, 1)`` to RAS world coordinates in mm, where ``i`` indexes
      ``x`` (the last array axis) and ``k`` indexes ``z``. So
      ``affine @ [x, y, z, 1]`` is where ``array[..., z, y, x]`` lies.
    * ``spacing`` is ``(z, y, x)`` in mm; it is derived from ``affine`` when not
      given.
    * ``meta`` holds the rest: ``source`` (path), ``format``,
      ``source_orientation`` (axis codes of the file as stored),
      ``orientation`` (axis codes of ``array``), ``modality``, and for DCE
      ``frame_times_s``.

    Args:
        array: Voxel data, 3D ``(z, y, x)`` or 4D ``(t, z, y, x)``.
        affine: 4 x 4 voxel-to-RAS matrix; identity when omitted.
        spacing: ``(z, y, x)`` spacing in mm; derived from ``affine`` when omitted.
        meta: Free-form metadata (copied).

    Example:
        >>> vol = Volume(np.zeros((3, 4, 5), np.int16))
        >>> vol.spacing
        (1.0, 1.0, 1.0)
    """

    array: np.ndarray
    affine: np.ndarray = None
    spacing: tuple = None
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        array = np.asarray(self.array)
        if array.ndim not in (3, 4):
            raise GeometryError(
                f"Volume array must be 3D (z, y, x) or 4D (t, z, y, x); got shape {array.shape}"
            )
        affine = np.eye(4) if self.affine is None else np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
            raise GeometryError(f"Volume affine must be a finite 4x4 matrix; got {affine!r}")
        if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise GeometryError("Volume affine is singular (zero spacing or collinear axes)")
        spacing = spacing_from_affine(affine) if self.spacing is None else self.spacing
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise GeometryError(f"Volume spacing must be three positive numbers (z, y, x); got {spacing}")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "meta", dict(self.meta or {}))

    @property
    def shape(self) -> tuple:
        """The array shape."""
        return self.array.shape

    @property
    def spatial_shape(self) -> tuple:
        """The ``(z, y, x)`` shape, without the time axis of a DCE series."""
        return self.array.shape[-3:]

    @property
    def is_series(self) -> bool:
        """True for a 4D ``(t, z, y, x)`` series."""
        return self.array.ndim == 4

    @property
    def orientation(self) -> str:
        """Axis codes (for example ``"LPS"``) of increasing x, y and z index."""
        from nibabel.orientations import aff2axcodes

        return "".join(aff2axcodes(self.affine))

    def replace(self, array: np.ndarray | None = None, **meta: Any) -> "Volume":
        """A new `Volume` on the same grid with another array and extra meta.

        Args:
            array: The new array; its spatial shape must equal this one's.
            **meta: Keys to add to or overwrite in ``meta``.

        Returns:
            The new `Volume`.
        """
        array = self.array if array is None else np.asarray(array)
        if array.shape[-3:] != self.spatial_shape:
            raise GeometryError(
                f"replacement array has spatial shape {array.shape[-3:]}, "
                f"the volume's grid is {self.spatial_shape}"
            )
        return Volume(array, self.affine, self.spacing, {**self.meta, **meta})

    def world_coordinates(self, index_zyx) -> np.ndarray:
        """RAS world position (mm) of voxel index ``(z, y, x)`` (or an N x 3 array)."""
        idx = np.atleast_2d(np.asarray(index_zyx, dtype=np.float64))[:, ::-1]
        homog = np.concatenate([idx, np.ones((idx.shape[0], 1))], axis=1)
        world = homog @ self.affine.T
        return world[:, :3] if np.ndim(index_zyx) > 1 else world[0, :3]
