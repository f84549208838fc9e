"""Reorienting arrays stored in ``(z, y, x)`` order together with their affine."""

import numpy as np
from nibabel import orientations as nio

from keras_liver.errors import ConfigError

DEFAULT_ORIENTATION = "LPS"


def _check_codes(codes: str, name: str = "orientation") -> tuple:
    codes = tuple(str(codes).upper())
    axes = {"L": 0, "R": 0, "P": 1, "A": 1, "I": 2, "S": 2}
    if len(codes) != 3 or any(c not in axes for c in codes) or len({axes[c] for c in codes}) != 3:
        raise ConfigError(
            f"{name}={''.join(codes)!r} is not an axis code such as 'LPS' or 'RAS' "
            "(one of L/R, one of A/P, one of S/I)"
        )
    return codes


def orientation_code(affine: np.ndarray) -> str:
    """The three-letter axis code of increasing x, y, z voxel index (e.g. ``"RAS"``)."""
    return "".join(nio.aff2axcodes(affine))


def _flip_in_place(array: np.ndarray, axes: list) -> None:
    """Reverse a C-contiguous ``array`` along ``axes`` using one plane of scratch memory at a time."""
    inner = [a - 1 for a in axes if a > 0]
    if inner:  # flips within each leading plane: contiguous blocks, one vectorised copy each
        for plane in array:
            plane[...] = np.flip(plane, inner)
    if 0 in axes:  # the leading axis: swap whole planes
        n = array.shape[0]
        for i in range(n // 2):
            scratch = array[i].copy()
            array[i] = array[n - 1 - i]
            array[n - 1 - i] = scratch


def reorient(
    array: np.ndarray, affine: np.ndarray, codes: str, in_place: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Flip and permute axes so the array has the given orientation.

    Only whole-axis flips and permutations happen, so no value is interpolated;
    an oblique affine stays oblique, with its axes matched to the closest
    anatomical directions.

    Args:
        array: ``(z, y, x)`` or ``(t, z, y, x)`` array.
        affine: 4 x 4 voxel ``(x, y, z)`` to RAS matrix.
        codes: Target axis codes for increasing x, y, z, e.g. ``"LPS"``.
        in_place: Allowed to overwrite a C-contiguous ``array``: when only
            flips are needed (RAS to LPS, the common case) no second copy of
            the volume is made. Readers pass True for arrays they own.

    Returns:
        ``(array, affine)`` in the new orientation; the array is C-contiguous
        and is the input itself when nothing had to change.
    """
    target = nio.axcodes2ornt(_check_codes(codes))
    current = nio.io_orientation(affine)
    transform = nio.ornt_transform(current, target)
    if np.array_equal(transform, [[0, 1], [1, 1], [2, 1]]):
        return np.ascontiguousarray(array), np.asarray(affine, dtype=np.float64)
    if in_place and array.flags.c_contiguous and array.flags.writeable and np.array_equal(transform[:, 0], [0, 1, 2]):
        flips = [array.ndim - 1 - ijk for ijk, sign in enumerate(transform[:, 1]) if sign < 0]  # i is the last axis
        _flip_in_place(array, flips)
        spatial_shape = array.shape[::-1][:3]
        return array, np.asarray(affine, dtype=np.float64) @ nio.inv_ornt_aff(transform, spatial_shape)
    # nibabel works on (i, j, k[, t]) arrays; ours are ([t,] k, j, i).
    ijk = array.T
    spatial_shape = ijk.shape[:3]
    moved = nio.apply_orientation(ijk, transform)
    new_affine = np.asarray(affine, dtype=np.float64) @ nio.inv_ornt_aff(transform, spatial_shape)
    return np.ascontiguousarray(moved.T), new_affine


def array_to_write(volume, orientation: str | None = "source"):
    """``(array, affine)`` of a `Volume` as a writer stores it: ``bool`` as ``uint8``, in ``orientation``.

    Args:
        volume: The `Volume`.
        orientation: ``"source"`` (the voxel order of the file it came from,
            ``meta["source_orientation"]``), an axis code, or ``None`` (as it is).
    """
    array, affine = volume.array, volume.affine
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if orientation == "source":
        orientation = volume.meta.get("source_orientation")
    if orientation is not None:
        array, affine = reorient(array, affine, orientation)
    return array, affine
