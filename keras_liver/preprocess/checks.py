"""Argument checks shared by the preprocessing and feature functions."""

import numpy as np

from keras_liver.errors import ConfigError, GeometryError, ImageValueError


def as_finite_array(array, name: str, ndims=(2, 3, 4), dtype=np.float32) -> np.ndarray:
    """``array`` as a NumPy array of ``dtype``, refusing NaN, Inf and a wrong rank.

    Args:
        array: Array-like (a `Volume` is unwrapped).
        name: The argument name used in error messages.
        ndims: Allowed numbers of dimensions.
        dtype: The dtype to return (``None`` keeps the input dtype).

    Raises:
        ImageValueError: Wrong rank, empty, or non-finite values.
    """
    array = np.asarray(getattr(array, "array", array))
    if array.ndim not in ndims:
        want = " or ".join(f"{n}D" for n in ndims)
        raise ImageValueError(f"{name}: expected a {want} array, got shape {array.shape}")
    if array.size == 0:
        raise ImageValueError(f"{name}: the array is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ImageValueError(f"{name}: {bad} voxel(s) are NaN or Inf; fix or mask them first")
    if array.dtype.kind not in "biuf":
        raise ImageValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array if dtype is None else array.astype(dtype, copy=False)


def check_spacing(spacing, name: str = "spacing", n: int = 3) -> tuple:
    """``spacing`` as a tuple of ``n`` positive finite floats."""
    try:
        values = tuple(float(s) for s in np.broadcast_to(np.asarray(spacing, dtype=np.float64), (n,)))
    except (TypeError, ValueError):
        raise GeometryError(f"{name}: expected {n} numbers in mm, got {spacing!r}") from None
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise GeometryError(f"{name}: every spacing must be a positive number of mm, got {spacing!r}")
    return values


def check_positive(value, name: str) -> float:
    """``value`` as a float, refusing zero, negative and non-finite numbers."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}: must be a positive number, got {value!r}")
    return value
