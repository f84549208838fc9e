"""Lesion-centred crops of DCE series: the classifiers' region of interest."""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ImageValueError
from keras_liver.preprocess.roi import largest_component


def crop_centred(array, centre, size, *, mode: str = "edge") -> np.ndarray:
    """A ``size`` window of the last three axes of ``array`` centred on ``centre`` (voxel ``(z, y, x)``).

    Where the window leaves the array it is padded (``mode`` of `numpy.pad`: ``"edge"``
    replicates the border, ``"constant"`` fills 0). Only the window is copied and padded,
    never the whole array, and the result owns its memory.
    """
    array = np.asarray(array)
    lead = array.ndim - 3
    src, widths = [slice(None)] * lead, [(0, 0)] * lead
    for c, s, n in zip(centre, size, array.shape[-3:]):
        start = int(round(float(c))) - int(s) // 2
        a, b = max(start, 0), min(start + int(s), n)
        src.append(slice(a, b))
        widths.append((a - start, start + int(s) - b))
    return np.pad(array[tuple(src)], widths, mode=mode)


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
    if not (label == lesion_label).any():
        raise ImageValueError(f"label: no voxel has the lesion label {lesion_label}")
    centre = ndimage.center_of_mass(largest_component(label == lesion_label))
    return crop_centred(series, centre, size), crop_centred(label, centre, size, mode="constant")


def lesion_crops(series, instances: np.ndarray, size, *, mode: str = "edge") -> list[np.ndarray]:
    """A ``(..., *size)`` crop of ``series`` centred on each lesion of the instance map, in id order (1, 2, ...).

    Padded like `lesion_crop` where a crop leaves the series; ``series`` may be a
    ``(t, z, y, x)`` series or any array whose last three axes are the instance map's grid.
    """
    instances = np.asarray(instances)
    n = int(instances.max()) if instances.size else 0
    if n == 0:
        return []
    centres = ndimage.center_of_mass(np.ones(instances.shape), instances, np.arange(1, n + 1))
    return [crop_centred(series, centre, size, mode=mode) for centre in centres]


def lesion_mask_crops(instances: np.ndarray, liver, size) -> list[np.ndarray]:
    """Per lesion of an instance map, the ``(*size, 2)`` uint8 crop of its own voxels and of the liver's.

    The crops are centred as `lesion_crops` centres them (same order, ids 1, 2, ...), so
    each goes with that lesion's series crop: channel 0 is the lesion (not its
    neighbours), channel 1 the liver parenchyma ``liver`` (a boolean ``(z, y, x)`` map), the
    ``masks`` input of a `DCEClassifier` built with ``lesion_masks``.
    """
    instances = np.asarray(instances)
    liver = np.asarray(liver, bool)
    if liver.shape != instances.shape:
        raise ImageValueError(f"liver: shape {liver.shape} differs from the instance map's {instances.shape}")
    stacked = np.stack([instances, liver.astype(instances.dtype)])
    crops = lesion_crops(stacked, instances, size, mode="constant")
    return [np.stack([c[0] == k, c[1] > 0], axis=-1).astype(np.uint8) for k, c in enumerate(crops, start=1)]
