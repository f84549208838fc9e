"""Non-adaptive (global) threshold denoising with OpenCV filtering (paper section 3.2).

The method, per 2D slice (3D volumes slice by slice with one threshold for
the volume, 4D series frame by frame):

1. filter the slice with OpenCV, ``cv2.medianBlur`` (default, applied
   twice: an iterated median removes more noise and still keeps step
   edges) or ``cv2.GaussianBlur``;
2. estimate the noise standard deviation ``sigma`` of the residual
   ``x - filtered`` robustly, as its median absolute deviation over the
   whole volume divided by 0.6745 (the Gaussian consistency constant; as in
   Donoho & Johnstone, "Ideal spatial adaptation by wavelet shrinkage",
   Biometrika 81, 1994). Measuring sigma on the residual, the quantity that
   is thresholded, keeps the threshold right for spatially correlated CT
   noise, where a finest-scale wavelet estimate (`estimate_noise_sigma`)
   reads two to four times too low;
3. pick one global threshold ``T`` for the whole volume, a fixed
   ``k * sigma`` (default ``k = 3.5``) or the universal threshold
   ``sigma * sqrt(2 ln n)``. It does not adapt to local content, hence
   "non-adaptive";
4. classify each pixel with ``cv2.threshold`` on ``|x - filtered|``: at or
   below ``T`` the residual is noise and the pixel takes the filtered
   value; above it the pixel is signal (a thin vessel, a rib, a sharp
   high-contrast edge the filter would destroy) and keeps its value.

The defaults were chosen on CT phantoms with 20 HU correlated noise
(``scripts/bench_denoise.py``; figures in docs/RESULTS.md).

Everything is vectorised: OpenCV filters whole slices and the threshold runs
once over the volume.
"""

import logging
import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from keras_liver.errors import ConfigError
from keras_liver.preprocess.checks import as_finite_array, check_positive

logger = logging.getLogger(__name__)

MAD_TO_SIGMA = 0.6745
FILTERS = ("median", "gaussian")


def estimate_noise_sigma(array) -> float:
    """Robust noise standard deviation of a 2D image or a 3D volume (slice-wise Haar).

    Args:
        array: ``(y, x)`` or ``(z, y, x)``; every slice needs at least 2 x 2 pixels.

    Returns:
        ``median(|HH|) / 0.6745`` over the diagonal Haar detail coefficients
        of all slices (exact for white Gaussian noise on a piecewise-smooth
        image; spatially correlated noise reads lower, as its finest scale
        holds less energy).
    """
    x = as_finite_array(array, "array", ndims=(2, 3))
    x = x.reshape((-1,) + x.shape[-2:])
    ny, nx = (x.shape[1] // 2) * 2, (x.shape[2] // 2) * 2
    if ny == 0 or nx == 0:
        raise ConfigError(f"array: slices of {x.shape[1:]} pixels are too small to estimate noise (need 2 x 2)")
    x = x[:, :ny, :nx]
    hh = (x[:, 0::2, 0::2] - x[:, 0::2, 1::2] - x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) * 0.5
    return float(np.median(np.abs(hh)) / MAD_TO_SIGMA)


def global_threshold(sigma: float, n: int, threshold="fixed", k: float = 3.5) -> float:
    """The one threshold used for a whole volume.

    Args:
        sigma: Noise standard deviation.
        n: Number of voxels it applies to.
        threshold: ``"universal"`` for ``sigma * sqrt(2 ln n)``, ``"fixed"``
            for ``k * sigma``, or a number used as it is.
        k: Multiplier for ``"fixed"``.
    """
    if threshold == "universal":
        return float(sigma * math.sqrt(2.0 * math.log(max(int(n), 2))))
    if threshold == "fixed":
        return float(check_positive(k, "k") * sigma)
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return float(check_positive(threshold, "threshold"))
    raise ConfigError(f"threshold: 'universal', 'fixed' or a positive number, got {threshold!r}")


def _filter_slices(x: np.ndarray, kind: str, ksize: int, gaussian_sigma: float, iterations: int,
                   workers: int) -> np.ndarray:
    def one(s):
        for _ in range(iterations):
            if kind == "median":
                s = cv2.medianBlur(s, ksize)
            else:
                s = cv2.GaussianBlur(s, (ksize, ksize), gaussian_sigma, borderType=cv2.BORDER_REFLECT)
        return s

    if workers <= 1 or x.shape[0] == 1:
        return np.stack([one(s) for s in x])
    with ThreadPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(one, x)))


def residual_sigma(residual: np.ndarray) -> float:
    """Robust standard deviation of a filter residual: ``median(|r|) / 0.6745``."""
    return float(np.median(np.abs(residual)) / MAD_TO_SIGMA)


def threshold_denoise(array, *, threshold="fixed", k: float = 3.5, filter: str = "median", ksize: int = 5,
                      iterations: int = 2, gaussian_sigma: float = 0.0, sigma: float | None = None,
                      return_mask: bool = False, workers: int = 1):
    """Denoise with one global threshold and OpenCV median or Gaussian filtering.

    Args:
        array: ``(y, x)``, ``(z, y, x)`` (slice-wise, one threshold for the
            volume) or ``(t, z, y, x)`` (each frame on its own).
        threshold: ``"fixed"`` (``k * sigma``, default), ``"universal"``
            (``sigma * sqrt(2 ln n)``, ``n`` the number of voxels) or a
            number in image units.
        k: Multiplier of ``sigma`` for ``threshold="fixed"``.
        filter: ``"median"`` (``cv2.medianBlur``, edge preserving) or
            ``"gaussian"`` (``cv2.GaussianBlur``).
        ksize: Odd kernel size; the float32 median supports 3 and 5.
        iterations: How many times the filter is applied.
        gaussian_sigma: Gaussian sigma in pixels (0: OpenCV's default for ``ksize``).
        sigma: Standard deviation of the residual noise; estimated from the
            residual's median absolute deviation when ``None``.
        return_mask: Also return the boolean signal mask (pixels kept as they were).
        workers: Threads filtering slices in parallel (OpenCV releases the GIL).

    Returns:
        float32 array of the input shape, or ``(denoised, signal_mask)``.

    Example:
        >>> clean = threshold_denoise(ct.image.array)     # int16 HU in, float32 HU out
    """
    x = as_finite_array(array, "array", ndims=(2, 3, 4))
    if filter not in FILTERS:
        raise ConfigError(f"filter: one of {FILTERS}, got {filter!r}")
    ksize, iterations = int(ksize), int(iterations)
    if ksize < 3 or ksize % 2 == 0:
        raise ConfigError(f"ksize: an odd kernel size >= 3, got {ksize}")
    if filter == "median" and ksize > 5:
        raise ConfigError(f"ksize: OpenCV's float32 median filter supports 3 and 5, got {ksize}")
    if iterations < 1:
        raise ConfigError(f"iterations: at least 1, got {iterations}")
    if x.ndim == 4:
        results = [threshold_denoise(frame, threshold=threshold, k=k, filter=filter, ksize=ksize,
                                     iterations=iterations, gaussian_sigma=gaussian_sigma, sigma=sigma,
                                     return_mask=True, workers=workers)
                   for frame in x]
        out, mask = np.stack([r[0] for r in results]), np.stack([r[1] for r in results])
        return (out, mask) if return_mask else out
    slices = np.ascontiguousarray(x.reshape((-1,) + x.shape[-2:]))
    filtered = _filter_slices(slices, filter, ksize, float(gaussian_sigma), iterations, int(workers))
    residual = np.abs(slices - filtered)
    noise = residual_sigma(residual) if sigma is None else check_positive(sigma, "sigma")
    cut = global_threshold(noise, slices.size, threshold, k)
    _, signal = cv2.threshold(residual.reshape(-1, slices.shape[-1]), cut, 1.0, cv2.THRESH_BINARY)
    signal = signal.reshape(slices.shape).astype(bool)
    out = np.where(signal, slices, filtered).reshape(x.shape)
    logger.debug("threshold_denoise: sigma %.3g, threshold %.3g, %.2f%% kept as signal", noise, cut,
                 100.0 * signal.mean())
    return (out, signal.reshape(x.shape)) if return_mask else out
