"""Align the frames of a DCE series: a rigid shift per frame, estimated on edges, to the series' mean position.

Breathing moves the liver between the frames of a DCE-MRI series (in the phantoms up to 4 mm
head-to-foot, 2 mm and 1 mm in plane). The contrast of every tissue changes from frame to frame,
so frames are compared by their edges, not their signal: each frame's Gaussian gradient
magnitude, whose outlines (body, liver, kidneys, vessels) stay where the anatomy is whatever its
enhancement. Each frame is registered to a template by phase correlation with sub-voxel
upsampling (Guizar-Sicairos et al., Opt. Lett. 33(2), 2008, as scikit-image's
``phase_cross_correlation``); the first template is the middle frame, then each round moves every
frame's edges back by the shift found so far, takes their mean as the template and adds what is
left of each shift. Shifts are relative to the mean of all frames' positions, so no frame has to
be named the reference and every frame moves by as little as it can.

NumPy, SciPy and scikit-image; no TensorFlow.
"""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError


def _edges(series: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([ndimage.gaussian_gradient_magnitude(frame, sigma) for frame in series.astype(np.float32)])


def _move(frame: np.ndarray, shift) -> np.ndarray:
    return ndimage.shift(frame, shift, order=1, mode="nearest")


def frame_shifts(series, *, sigma: float = 1.0, upsample: int = 10, iterations: int = 3) -> np.ndarray:
    """Each frame's displacement from the series' mean position, in voxels.

    Args:
        series: ``(t, z, y, x)`` signal.
        sigma: Gaussian scale of the edge images, in voxels.
        upsample: Sub-voxel precision of the phase correlation (1 / upsample voxel).
        iterations: Rounds of registration; from the second on, each frame's edges are
            moved back by the shift found so far, the template is their mean, and what is left
            of the shift is added.

    Returns:
        float64 ``(t, 3)``: frame ``f``'s content lies at ``position + shifts[f]`` (z, y, x), and
        the shifts sum to zero over the frames.
    """
    from skimage.registration import phase_cross_correlation

    series = np.asarray(series)
    if series.ndim != 4:
        raise ConfigError(f"series: frame alignment takes a (t, z, y, x) series, got shape {series.shape}")
    if iterations < 1 or upsample < 1 or sigma <= 0:
        raise ConfigError(f"frame alignment: needs iterations >= 1, upsample >= 1, sigma > 0, got "
                          f"{iterations}, {upsample}, {sigma}")
    n = series.shape[0]
    shifts = np.zeros((n, 3))
    if n < 2:
        return shifts
    edges = _edges(series, sigma)
    template = edges[n // 2]
    moved = edges
    for _ in range(iterations):
        for f in range(n):
            # what is left to register frame f (already moved back by its shift) with the template:
            # estimating the remainder, not the whole shift again, undoes phase correlation's pull
            # towards zero (edges that leave the field of view)
            rest, _, _ = phase_cross_correlation(template, moved[f], upsample_factor=upsample, normalization=None)
            shifts[f] -= np.asarray(rest, np.float64)
        shifts -= shifts.mean(axis=0)
        moved = np.stack([_move(edges[f], -shifts[f]) for f in range(n)])
        template = moved.mean(axis=0)
    return shifts


def align_frames(series, shifts=None, **options):
    """Every frame of a series moved back to the series' mean position.

    Args:
        series: ``(t, z, y, x)`` signal.
        shifts: ``(t, 3)`` displacements in voxels (`frame_shifts`); ``None``: estimated here.
        **options: `frame_shifts` settings.

    Returns:
        ``(aligned, shifts)``: float32 ``(t, z, y, x)`` (linear interpolation, edges repeated)
        and the ``(t, 3)`` shifts it undid.
    """
    series = np.asarray(series, np.float32)
    if shifts is None:
        shifts = frame_shifts(series, **options)
    shifts = np.asarray(shifts, np.float64)
    if series.ndim != 4 or shifts.shape != (series.shape[0], 3):
        raise ConfigError(f"shifts: one (z, y, x) shift per frame of the {series.shape} series, got {shifts.shape}")
    aligned = np.stack([_move(frame, -s) if np.any(s) else frame for frame, s in zip(series, shifts)])
    return aligned.astype(np.float32), shifts
