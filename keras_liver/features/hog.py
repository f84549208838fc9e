"""Histogram of oriented gradients (paper section 3.4, eqs. 3 to 6), with scikit-image.

HOG (Dalal & Triggs, "Histograms of oriented gradients for human
detection", CVPR 2005) computes, per pixel, the gradients
``G_x = I(x+1, y) - I(x-1, y)`` and ``G_y = I(x, y+1) - I(x, y-1)`` (eq. 3),
the magnitude ``sqrt(G_x^2 + G_y^2)`` (eq. 4) and the unsigned orientation
``arctan(G_y / G_x)`` in ``[0, 180)`` degrees (eq. 5); magnitudes vote into
orientation bins per cell, and cell histograms are normalised over blocks of
cells, here with L2-Hys: L2 normalisation, clipping at 0.2, renormalisation
(eq. 6).

* `hog_features` is ``skimage.feature.hog`` with our defaults and checks; it
  returns exactly scikit-image's numbers for the same parameters.
* `slice_hog_features` and `lesion_hog_features` give the vectors the SVM
  baseline uses; `series_lesion_hog_features` does the same for every DCE
  frame.
* `hog_map` is a dense per-voxel version on the image grid, one channel
  per orientation bin, that a network can take as an extra input.
"""

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import cv2
import numpy as np
import skimage.feature
from scipy import ndimage

from keras_liver.errors import ConfigError, ImageValueError
from keras_liver.preprocess.checks import as_finite_array
from keras_liver.preprocess.intensity import window as hu_window

logger = logging.getLogger(__name__)


def _pair(value, name) -> tuple:
    pair = tuple(int(v) for v in np.broadcast_to(np.asarray(value), (2,)))
    if min(pair) < 1:
        raise ConfigError(f"{name}: must be positive, got {value!r}")
    return pair


def _prepare(image, window):
    if window is None:
        return image
    if isinstance(window, str):
        return hu_window(image, preset=window)
    level, width = window
    return hu_window(image, level=level, width=width)


def hog_features(image2d, *, orientations: int = 9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
                 block_norm: str = "L2-Hys", transform_sqrt: bool = False, window=None) -> np.ndarray:
    """HOG feature vector of one 2D image, computed by ``skimage.feature.hog``.

    Args:
        image2d: ``(y, x)`` image.
        orientations: Orientation bins over 0-180 degrees.
        pixels_per_cell: Cell size ``(rows, cols)``.
        cells_per_block: Block size in cells.
        block_norm: ``"L2-Hys"`` (clip at 0.2, scikit-image's fixed value),
            ``"L2"``, ``"L1"`` or ``"L1-sqrt"``.
        transform_sqrt: Power-law compression before the gradients.
        window: Optional CT window applied first: a preset name
            (``"liver"``) or ``(level, width)``; ``None`` uses the image as is,
            which gives exactly ``skimage.feature.hog(image2d, ...)``.

    Returns:
        float64 feature vector.
    """
    x = as_finite_array(image2d, "image2d", ndims=(2,), dtype=np.float64)
    ppc, cpb = _pair(pixels_per_cell, "pixels_per_cell"), _pair(cells_per_block, "cells_per_block")
    if x.shape[0] < ppc[0] * cpb[0] or x.shape[1] < ppc[1] * cpb[1]:
        raise ImageValueError(
            f"image2d: {x.shape} is smaller than one block ({ppc[0] * cpb[0]} x {ppc[1] * cpb[1]} pixels)"
        )
    if int(orientations) < 1:
        raise ConfigError(f"orientations: must be positive, got {orientations}")
    return skimage.feature.hog(_prepare(x, window), orientations=int(orientations), pixels_per_cell=ppc,
                               cells_per_block=cpb, block_norm=block_norm, transform_sqrt=transform_sqrt,
                               feature_vector=True)


def _hog_chunk(args):
    slices, kwargs = args
    return np.stack([hog_features(s, **kwargs) for s in slices])


def slice_hog_features(volume, *, workers: int = 1, **kwargs) -> np.ndarray:
    """One HOG vector per axial slice.

    Args:
        volume: ``(z, y, x)`` array or `Volume`.
        workers: Processes (scikit-image's HOG holds the GIL, so threads do
            not help); 1 runs in this process.
        **kwargs: `hog_features` parameters.

    Returns:
        ``(z, n_features)`` float64.
    """
    x = as_finite_array(volume, "volume", ndims=(3,))
    workers = max(1, min(int(workers), x.shape[0]))
    if workers == 1:
        return _hog_chunk((x, kwargs))
    chunks = [(c, kwargs) for c in np.array_split(x, workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return np.concatenate(list(pool.map(_hog_chunk, chunks)))


def lesion_boxes(label, lesion_label: int = 2, min_voxels: int = 1) -> list[dict]:
    """Lesions as 3D connected components, each with its largest axial slice and box.

    Returns:
        One dict per lesion, largest first: ``voxels``, ``slice`` (z of the
        largest cross-section) and ``box`` ``(y0, y1, x0, x1)`` of that slice.
    """
    y = np.asarray(getattr(label, "array", label))
    if y.ndim != 3:
        raise ImageValueError(f"label: expected a 3D (z, y, x) label map, got shape {y.shape}")
    components, n = ndimage.label(y == lesion_label)
    out = []
    for index, found in enumerate(ndimage.find_objects(components), start=1):
        comp = components[found] == index
        if comp.sum() < min_voxels:
            continue
        areas = comp.sum(axis=(1, 2))
        z = int(np.argmax(areas))
        rows = np.flatnonzero(comp[z].any(axis=1))
        cols = np.flatnonzero(comp[z].any(axis=0))
        out.append({"voxels": int(comp.sum()), "slice": found[0].start + z,
                    "box": (found[1].start + int(rows[0]), found[1].start + int(rows[-1]) + 1,
                            found[2].start + int(cols[0]), found[2].start + int(cols[-1]) + 1)})
    return sorted(out, key=lambda d: -d["voxels"])


def _roi_patch(slice2d, box, size, margin):
    y0, y1, x0, x1 = box
    h, w = y1 - y0, x1 - x0
    side = int(np.ceil(max(h, w) * (1.0 + 2.0 * margin)))
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    top, left = int(round(cy - side / 2.0)), int(round(cx - side / 2.0))
    padded = np.pad(slice2d, side, mode="edge")
    patch = padded[top + side: top + 2 * side, left + side: left + 2 * side]
    return cv2.resize(np.ascontiguousarray(patch, dtype=np.float32), tuple(size)[::-1], interpolation=cv2.INTER_AREA
                      if side > max(size) else cv2.INTER_LINEAR)


def lesion_hog_features(image, label, *, lesion_label: int = 2, size=(32, 32), margin: float = 0.25,
                        pixels_per_cell=(8, 8), cells_per_block=(2, 2), **kwargs) -> tuple[np.ndarray, list]:
    """HOG vectors of each lesion's region of interest (the SVM baseline's input).

    Each lesion (3D connected component of ``lesion_label``) is cut out on its
    largest axial slice as a square box with ``margin`` context on every
    side, resized to ``size``, and described by `hog_features`.

    Args:
        image: ``(z, y, x)`` image or `Volume`.
        label: Label map on the same grid.
        lesion_label: Label value of lesions (2 in LiTS).
        size: ROI size ``(rows, cols)`` after resizing.
        margin: Context around the lesion box, as a fraction of its side.
        pixels_per_cell, cells_per_block, **kwargs: `hog_features` parameters.

    Returns:
        ``(features, lesions)``: ``(n_lesions, n_features)`` and the
        `lesion_boxes` list in the same order.
    """
    x = as_finite_array(image, "image", ndims=(3,))
    lesions = lesion_boxes(label, lesion_label)
    if np.asarray(getattr(label, "array", label)).shape != x.shape:
        raise ImageValueError("label: shape differs from the image")
    feats = [hog_features(_roi_patch(x[d["slice"]], d["box"], _pair(size, "size"), margin),
                          pixels_per_cell=pixels_per_cell, cells_per_block=cells_per_block, **kwargs)
             for d in lesions]
    if feats:
        return np.stack(feats), lesions
    n = len(hog_features(np.zeros(_pair(size, "size")), pixels_per_cell=pixels_per_cell,
                         cells_per_block=cells_per_block, **{k: v for k, v in kwargs.items() if k != "window"}))
    return np.zeros((0, n)), lesions


def series_lesion_hog_features(series, label, *, lesion_label: int = 2, **kwargs) -> np.ndarray:
    """HOG of the largest lesion's ROI in every DCE frame, concatenated over time.

    Args:
        series: ``(t, z, y, x)`` signal or `Volume`.
        label: ``(z, y, x)`` label map with at least one lesion.
        lesion_label: Lesion label value.
        **kwargs: `lesion_hog_features` parameters.

    Returns:
        ``(t * n_features,)`` vector.
    """
    x = as_finite_array(series, "series", ndims=(4,))
    y = np.asarray(getattr(label, "array", label))
    lesions = lesion_boxes(y, lesion_label)
    if not lesions:
        raise ImageValueError(f"label: no voxel has the lesion label {lesion_label}")
    largest = np.zeros_like(y)
    d = lesions[0]
    largest[d["slice"], d["box"][0]:d["box"][1], d["box"][2]:d["box"][3]] = lesion_label
    return np.concatenate([lesion_hog_features(frame, largest, lesion_label=lesion_label, **kwargs)[0][0]
                           for frame in x])


def hog_map(volume, *, orientations: int = 9, cell_size: int = 8, block_size: int = 2, window=None,
            eps: float | None = None, normalize: bool = True, dtype=np.float32, workers: int = 2) -> np.ndarray:
    """Dense HOG: per-voxel orientation energy with one channel per orientation bin.

    Per axial slice: gradients, magnitude and unsigned orientation exactly
    as scikit-image computes them (centred differences, zero on the border;
    eqs. 3 to 5), a hard vote of each pixel's magnitude into its orientation
    bin, a ``cell_size`` box average of each bin (a cell histogram centred on
    every pixel), and division by the block energy, the root mean square
    over a ``block_size * cell_size`` box of the total cell energy plus
    ``eps`` (contrast normalisation, eq. 6 without the clipping).

    Args:
        volume: ``(y, x)``, ``(z, y, x)`` or ``(t, z, y, x)`` image.
        orientations: Bins over 0-180 degrees.
        cell_size: Cell side in pixels.
        block_size: Block side in cells.
        window: Optional CT window (preset name or ``(level, width)``) applied first.
        eps: Added to the block energy so flat noise is not blown up;
            ``None`` uses 5 % of the mean block energy of the volume.
        normalize: ``False`` returns the raw cell energies: the mean
            gradient magnitude per orientation bin over the cell centred on
            each pixel (at cell centres, scikit-image's cell histogram).
        dtype: Output dtype (float16 halves the memory of big volumes).
        workers: Threads over slices (NumPy and OpenCV release the GIL).

    Returns:
        ``volume.shape + (orientations,)`` array, non-negative; an isolated
        edge reads about 2, a long straight edge about 1.4.
    """
    x = as_finite_array(volume, "volume", ndims=(2, 3, 4))
    if int(orientations) < 1 or int(cell_size) < 1 or int(block_size) < 1:
        raise ConfigError("orientations, cell_size and block_size must be positive")
    x = _prepare(x, window)
    slices = np.ascontiguousarray(x.reshape((-1,) + x.shape[-2:]), dtype=np.float32)
    orientations, cell, block = int(orientations), (int(cell_size),) * 2, (int(cell_size) * int(block_size),) * 2
    energy = np.empty(slices.shape + (orientations,), np.float32)
    total = np.empty(slices.shape, np.float32)

    def cells(n):
        s = slices[n]
        g_row = np.zeros_like(s)
        g_col = np.zeros_like(s)
        g_row[1:-1, :] = s[2:, :] - s[:-2, :]
        g_col[:, 1:-1] = s[:, 2:] - s[:, :-2]
        magnitude = cv2.magnitude(g_col, g_row)
        angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180.0
        bins = np.minimum((angle * (orientations / 180.0)).astype(np.intp), orientations - 1)
        votes = np.zeros(s.shape + (orientations,), np.float32)
        np.put_along_axis(votes, bins[..., None], magnitude[..., None], axis=-1)
        energy[n] = cv2.boxFilter(votes, -1, cell, borderType=cv2.BORDER_REFLECT).reshape(votes.shape)
        squared = np.einsum("yxb,yxb->yx", energy[n], energy[n])
        # running-sum box filters can leave -1e-9 where the energy is zero: clamp before the root
        total[n] = np.sqrt(np.maximum(cv2.boxFilter(squared, -1, block, borderType=cv2.BORDER_REFLECT), 0.0))

    def normalise(n):
        energy[n] /= (total[n] + eps)[..., None]

    with ThreadPoolExecutor(max(1, min(int(workers), slices.shape[0]))) as pool:
        list(pool.map(cells, range(slices.shape[0])))
        if normalize:
            eps = 0.05 * float(total.mean(dtype=np.float64)) + 1e-12 if eps is None else float(eps)
            list(pool.map(normalise, range(slices.shape[0])))
    return energy.reshape(x.shape + (orientations,)).astype(dtype, copy=False)
