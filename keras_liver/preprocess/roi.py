"""Body and liver regions of interest from CT by OpenCV thresholding and morphology.

These are crop boxes for the network, not segmentations: they are meant to
contain the whole organ with a little context, cheaply and without a model.
"""

import logging

import cv2
import numpy as np
from scipy import ndimage

from keras_liver.preprocess.checks import as_finite_array

logger = logging.getLogger(__name__)


def largest_component(mask: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """The largest connected component of a boolean mask (empty stays empty).

    Args:
        mask: Boolean array.
        connectivity: `scipy.ndimage.generate_binary_structure`'s connectivity: 1 joins
            face neighbours only, ``mask.ndim`` (26 in 3D) every touching voxel.
    """
    mask = np.asarray(mask, bool)
    labels, n = ndimage.label(mask, ndimage.generate_binary_structure(mask.ndim, connectivity))
    if n <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _per_slice(volume: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(s) for s in volume])


def _fill_holes_2d(mask_u8: np.ndarray) -> np.ndarray:
    """Fill holes of a binary uint8 slice: flood the background from the border."""
    padded = cv2.copyMakeBorder(mask_u8, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    flood = padded.copy()
    canvas = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(flood, canvas, (0, 0), 1)
    return (padded | (1 - flood))[1:-1, 1:-1]


def body_mask(ct, *, threshold_hu: float = -500.0, closing_mm: float = 5.0, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """The patient's body: threshold, close, fill holes per slice, keep the largest 3D component.

    Args:
        ct: ``(z, y, x)`` HU volume (or `Volume`, whose spacing is used).
        threshold_hu: Voxels above this are tissue (``cv2.threshold``).
        closing_mm: Radius of the in-plane morphological closing.
        spacing: ``(z, y, x)`` mm, used when ``ct`` is an array.

    Returns:
        Boolean ``(z, y, x)`` mask (lungs and bowel gas inside the body are filled).
    """
    spacing = getattr(ct, "spacing", spacing)
    x = as_finite_array(ct, "ct", ndims=(3,))
    radius = max(1, int(round(closing_mm / min(spacing[1:]))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))

    def one(s):
        _, m = cv2.threshold(s, threshold_hu, 1, cv2.THRESH_BINARY)
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
        return _fill_holes_2d(m)

    return largest_component(_per_slice(x, one))


def liver_roi(ct, *, hu_range=(40.0, 220.0), opening_mm: float = 6.0, dilation_mm: float = 10.0,
              spacing=(1.0, 1.0, 1.0), body=None) -> np.ndarray:
    """A region of interest that contains the liver, from a portal-venous CT.

    Steps: median-filter each slice (``cv2.medianBlur``) so noise does not
    break the organ up; keep voxels inside the body whose HU lies in
    ``hu_range`` (two ``cv2.threshold`` calls, enhanced liver and its
    vessels); open in plane (``cv2.morphologyEx``) to cut thin bridges to
    neighbouring organs; keep the largest 3D connected component (the
    liver is the largest soft-tissue organ of the upper abdomen); fill holes
    (tumours, which can be hypodense) and dilate by ``dilation_mm``.

    Args:
        ct: ``(z, y, x)`` HU volume or `Volume`.
        hu_range: Soft-tissue HU band of the enhanced liver.
        opening_mm: Radius of the opening that separates organs.
        dilation_mm: Final in-plane dilation (context margin).
        spacing: ``(z, y, x)`` mm, used when ``ct`` is an array.
        body: Optional precomputed `body_mask`.

    Returns:
        Boolean ``(z, y, x)`` mask.
    """
    spacing = getattr(ct, "spacing", spacing)
    x = as_finite_array(ct, "ct", ndims=(3,))
    body = body_mask(x, spacing=spacing) if body is None else np.asarray(body, bool)
    low, high = float(hu_range[0]), float(hu_range[1])

    def radius_kernel(mm):
        r = max(1, int(round(mm / min(spacing[1:]))))
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))

    opening, dilation = radius_kernel(opening_mm), radius_kernel(dilation_mm)

    def band(s):
        s = cv2.medianBlur(np.ascontiguousarray(s), 5)
        _, above = cv2.threshold(s, low, 1, cv2.THRESH_BINARY)
        _, below = cv2.threshold(s, high, 1, cv2.THRESH_BINARY_INV)
        return cv2.morphologyEx((above * below).astype(np.uint8), cv2.MORPH_OPEN, opening)

    soft = _per_slice(x, band).astype(bool) & body
    if not soft.any():
        logger.warning("liver_roi: no voxel in %s HU inside the body; returning the body mask", hu_range)
        return body
    liver = largest_component(soft).astype(np.uint8)
    return _per_slice(liver, lambda s: cv2.dilate(_fill_holes_2d(s), dilation)).astype(bool)
