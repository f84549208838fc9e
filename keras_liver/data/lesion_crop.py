"""Lesion-centred crops of DCE series: the classifiers' region of interest."""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ImageValueError


def lesion_crop(series, label, size, *, lesion_label: int = 2):
    """Crop a ``(t, z, y, x)`` series and its label map to ``size`` around the largest lesion's centre.

    The box is centred on the centre of mass of the largest lesion
    component and padded by edge replication where it leaves the volume.
    A lesion classifier is then told where the lesion is, as the HOG-SVM
    and time-intensity-curve baselines are.

    Returns:
        ``(series_crop (t, *size), label_crop (*size))``.
    """
    series, label = np.asarray(series), np.asarray(label)
    comps, n = ndimage.label(label == lesion_label)
    if n == 0:
        raise ImageValueError(f"label: no voxel has the lesion label {lesion_label}")
    sizes = np.bincount(comps.ravel())
    sizes[0] = 0
    centre = ndimage.center_of_mass(comps == int(np.argmax(sizes)))
    pad = [(0, 0)] + [(s, s) for s in size]
    padded = np.pad(series, pad, mode="edge")
    padded_label = np.pad(label, pad[1:], mode="constant")
    start = [int(round(c)) - s // 2 + s for c, s in zip(centre, size)]
    box = tuple(slice(a, a + s) for a, s in zip(start, size))
    return padded[(slice(None),) + box].copy(), padded_label[box].copy()  # copies: views keep the padding alive
