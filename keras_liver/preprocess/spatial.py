"""Array-level spatial operations on the last three axes ``(..., z, y, x)``.

Every function returns the new array and a JSON-ready step dict that
`SpatialRecord` can undo. Voxel centres follow the "grid" convention: a
resampled grid covers the same physical extent as the original (voxel
edges coincide at both ends), so ``new[j]`` sits at old coordinate
``(j + 0.5) * n_old / n_new - 0.5`` along each axis.
"""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError, ImageValueError
from keras_liver.preprocess.checks import check_spacing


def resampled_shape(shape, spacing, target_spacing) -> tuple:
    """The ``(z, y, x)`` shape that gives ``target_spacing`` over the same extent."""
    spacing = check_spacing(spacing, "spacing")
    target = check_spacing(target_spacing, "target_spacing")
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape[-3:], spacing, target))


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output voxel for nearest-neighbour resampling along one axis."""
    coords = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    return np.clip(np.floor(coords + 0.5), 0, n_in - 1).astype(np.intp)


def resize(array: np.ndarray, shape, *, order: int, antialias: bool = False) -> np.ndarray:
    """Resample the last three axes of ``array`` to ``shape``.

    Args:
        array: ``(..., z, y, x)``.
        shape: Target ``(z, y, x)``.
        order: 0 for label maps (pure index gathering, so no label value is
            invented), 1 (linear) or 3 (cubic spline) for images.
        antialias: Along every axis that shrinks by ``f`` >= 1.5, smooth first
            with a Gaussian of sigma ``(f - 1) / 2`` voxels (scikit-image's choice
            for anti-aliasing), so an output voxel is a weighted mean over its
            footprint rather than one sample of it (for probabilities: about the
            share of the voxel in each class). Ignored for ``order=0``.

    Returns:
        The resampled array (dtype kept for order 0, float32 otherwise).
    """
    shape = tuple(int(s) for s in shape)
    if tuple(array.shape[-3:]) == shape:
        return array if order == 0 else array.astype(np.float32, copy=False)
    if order == 0:
        out = array
        for axis, (n_in, n_out) in enumerate(zip(array.shape[-3:], shape)):
            if n_in != n_out:
                out = np.take(out, nearest_indices(n_in, n_out), axis=array.ndim - 3 + axis)
        return out
    if order not in (1, 3):
        raise ConfigError(f"order: image interpolation must be 0, 1 (linear) or 3 (cubic), got {order}")
    zoom = [n_out / n_in for n_in, n_out in zip(array.shape[-3:], shape)]
    flat = array.reshape((-1,) + array.shape[-3:]).astype(np.float32, copy=False)
    if antialias:
        for axis, (n_in, n_out) in enumerate(zip(array.shape[-3:], shape)):
            if n_in >= 1.5 * n_out:
                flat = ndimage.gaussian_filter1d(flat, (n_in / n_out - 1) / 2, axis=axis + 1, mode="nearest")
    out = np.stack([ndimage.zoom(v, zoom, order=order, mode="nearest", grid_mode=True) for v in flat])
    return out.reshape(array.shape[:-3] + shape)


def resample_affine(affine: np.ndarray, shape_in, shape_out) -> np.ndarray:
    """The affine of a grid resampled from ``shape_in`` to ``shape_out`` (grid convention)."""
    ratio_zyx = np.asarray(shape_in[-3:], np.float64) / np.asarray(shape_out[-3:], np.float64)
    ratio = ratio_zyx[::-1]
    step = np.eye(4)
    step[:3, :3] = np.diag(ratio)
    step[:3, 3] = 0.5 * ratio - 0.5
    return np.asarray(affine, np.float64) @ step


def shift_affine(affine: np.ndarray, offset_zyx) -> np.ndarray:
    """The affine of a grid whose voxel 0 is the old voxel ``offset_zyx``."""
    step = np.eye(4)
    step[:3, 3] = np.asarray(offset_zyx, np.float64)[::-1]
    return np.asarray(affine, np.float64) @ step


def bounding_box(mask: np.ndarray, margin=(0, 0, 0)) -> tuple[tuple, tuple]:
    """``(start, stop)`` of the non-zero voxels of a 3D mask, widened by ``margin`` voxels.

    Raises:
        ImageValueError: The mask is empty.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ImageValueError(f"crop mask: expected a 3D (z, y, x) mask, got shape {mask.shape}")
    if not mask.any():
        raise ImageValueError("crop mask: the mask is empty, there is nothing to crop to")
    start, stop = [], []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        start.append(max(0, int(hit[0]) - int(margin[axis])))
        stop.append(min(mask.shape[axis], int(hit[-1]) + 1 + int(margin[axis])))
    return tuple(start), tuple(stop)


def crop(array: np.ndarray, start, stop) -> np.ndarray:
    """``array[..., z0:z1, y0:y1, x0:x1]``."""
    return array[(Ellipsis,) + tuple(slice(a, b) for a, b in zip(start, stop))]


def pad_widths(shape, multiple: int) -> tuple[tuple, tuple]:
    """Padding before and after each of ``(z, y, x)`` up to a multiple (split evenly)."""
    multiple = int(multiple)
    if multiple < 1:
        raise ConfigError(f"pad_multiple: must be a positive integer, got {multiple}")
    extra = [(-n) % multiple for n in shape[-3:]]
    before = tuple(e // 2 for e in extra)
    after = tuple(e - b for e, b in zip(extra, before))
    return before, after


def pad(array: np.ndarray, before, after, value) -> np.ndarray:
    """Constant-pad the last three axes."""
    widths = [(0, 0)] * (array.ndim - 3) + list(zip(before, after))
    return np.pad(array, widths, mode="constant", constant_values=value)
