"""Intensity handling: CT windowing, MR z-scores and DCE baseline scaling.

Window presets (width and level in HU) are the usual radiology reading
windows, as tabulated for example by Radiopaedia ("Windowing (CT)"):

| preset | level | width | HU range |
|---|---|---|---|
| ``liver`` | 30 | 150 | -45 .. 105 |
| ``abdomen`` | 50 | 400 | -150 .. 250 |
| ``bone`` | 400 | 1800 | -500 .. 1300 |
| ``lung`` | -600 | 1500 | -1350 .. 150 |

``lits`` (-200 .. 250 HU) is the clipping range many LiTS pipelines use
before normalisation; it keeps tumours, liver and vessels and drops bone
and air detail.
"""

import numpy as np

from keras_liver.errors import ConfigError, ImageValueError
from keras_liver.preprocess.checks import as_finite_array, check_positive

WINDOW_PRESETS = {
    "liver": (30.0, 150.0),
    "abdomen": (50.0, 400.0),
    "bone": (400.0, 1800.0),
    "lung": (-600.0, 1500.0),
    "lits": (25.0, 450.0),
}


def window_bounds(level=None, width=None, preset=None) -> tuple[float, float]:
    """The ``(low, high)`` HU bounds of a window given by preset or level/width.

    Args:
        level: Window centre in HU.
        width: Window width in HU (> 0).
        preset: A name from `WINDOW_PRESETS`; ``level``/``width`` override it.

    Returns:
        ``(level - width / 2, level + width / 2)``.
    """
    if preset is not None:
        if preset not in WINDOW_PRESETS:
            raise ConfigError(f"preset {preset!r}: unknown window; choose one of {sorted(WINDOW_PRESETS)}")
        p_level, p_width = WINDOW_PRESETS[preset]
        level = p_level if level is None else level
        width = p_width if width is None else width
    if level is None or width is None:
        raise ConfigError("window: give a preset or both level and width")
    width = check_positive(width, "width")
    level = float(level)
    if not np.isfinite(level):
        raise ConfigError(f"level: must be finite, got {level}")
    return level - width / 2.0, level + width / 2.0


def window(array, level=None, width=None, preset=None, *, rescale: bool = True) -> np.ndarray:
    """Clip HU to a reading window and (by default) map it to ``[0, 1]``.

    Args:
        array: CT values in HU, any shape from 2D to 4D.
        level: Window centre in HU.
        width: Window width in HU; must be positive.
        preset: A name from `WINDOW_PRESETS` (``"liver"``, ``"abdomen"``, ...).
        rescale: ``True`` returns ``(clip(x) - low) / width`` in ``[0, 1]``;
            ``False`` returns the clipped HU.

    Returns:
        float32 array of the input shape.

    Example:
        >>> window(np.array([[-1000, 30, 500]]), preset="liver")
        array([[0. , 0.5, 1. ]], dtype=float32)
    """
    low, high = window_bounds(level, width, preset)
    x = as_finite_array(array, "array")
    out = np.clip(x, low, high)
    if rescale:
        out = (out - np.float32(low)) / np.float32(high - low)
    return out.astype(np.float32, copy=False)


def _mask_for(array: np.ndarray, mask, name: str) -> np.ndarray:
    if mask is None:
        from skimage.filters import threshold_otsu

        return array > threshold_otsu(array)
    mask = np.asarray(getattr(mask, "array", mask)).astype(bool)
    if mask.shape != array.shape[-mask.ndim:]:
        raise ImageValueError(f"{name}: mask shape {mask.shape} does not match the image {array.shape}")
    if not mask.any():
        raise ImageValueError(f"{name}: the mask is empty; no voxels to take statistics from")
    return mask


def zscore(array, mask=None, *, eps: float = 1e-6) -> np.ndarray:
    """MR normalisation: ``(x - mean) / std`` with statistics inside a body mask.

    Args:
        array: A 2D or 3D image.
        mask: Boolean mask of the voxels to take statistics from (for example
            `body_mask`); ``None`` uses an Otsu threshold of the image, which
            separates body from background air in MR.
        eps: Lower bound on the standard deviation.

    Returns:
        float32 array; every voxel is normalised, the mask only selects the
        statistics.
    """
    x = as_finite_array(array, "array", ndims=(2, 3))
    m = _mask_for(x, mask, "mask")
    values = x[m].astype(np.float64)
    return ((x - values.mean()) / max(values.std(), eps)).astype(np.float32)


def dce_normalize(series, mask=None, *, baseline_frames: int = 1, eps: float = 1e-6) -> np.ndarray:
    """Scale every DCE frame with the pre-contrast statistics, so enhancement survives.

    A per-frame z-score would remove the very signal rise that separates
    lesion classes; here the mean and standard deviation come from the first
    ``baseline_frames`` (pre-contrast) frames inside the mask and the same
    affine map is applied to every frame.

    Args:
        series: ``(t, z, y, x)`` signal.
        mask: Boolean ``(z, y, x)`` mask for the statistics; ``None`` uses an
            Otsu threshold of the mean baseline frame.
        baseline_frames: Number of leading pre-contrast frames.
        eps: Lower bound on the standard deviation.

    Returns:
        float32 ``(t, z, y, x)``.
    """
    x = as_finite_array(series, "series", ndims=(4,))
    if not 1 <= int(baseline_frames) <= x.shape[0]:
        raise ConfigError(f"baseline_frames: must be 1..{x.shape[0]} (the number of frames), got {baseline_frames}")
    baseline = x[: int(baseline_frames)].mean(axis=0)
    m = _mask_for(baseline, mask, "mask")
    values = x[: int(baseline_frames)][:, m].astype(np.float64)
    return ((x - values.mean()) / max(values.std(), eps)).astype(np.float32)


def relative_enhancement(series, *, baseline_frames: int = 1, eps: float = 1e-3) -> np.ndarray:
    """Voxel-wise relative enhancement ``(S(t) - S0) / S0`` of a DCE series.

    Args:
        series: ``(t, z, y, x)`` signal.
        baseline_frames: Frames averaged into ``S0``.
        eps: ``S0`` is floored at ``eps`` times the median baseline signal, so
            background air does not divide by zero.

    Returns:
        float32 ``(t, z, y, x)``; 0 before contrast arrives.
    """
    x = as_finite_array(series, "series", ndims=(4,))
    if not 1 <= int(baseline_frames) <= x.shape[0]:
        raise ConfigError(f"baseline_frames: must be 1..{x.shape[0]} (the number of frames), got {baseline_frames}")
    s0 = x[: int(baseline_frames)].mean(axis=0)
    floor = eps * max(float(np.median(np.abs(s0))), 1e-12)
    return ((x - s0) / np.maximum(np.abs(s0), floor)).astype(np.float32)
