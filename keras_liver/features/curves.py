"""Time-intensity curves of a DCE lesion, the LSTM baseline's input."""

import numpy as np

from keras_liver.errors import ImageValueError
from keras_liver.preprocess.checks import as_finite_array

CURVE_FEATURES = ("lesion", "liver", "lesion_to_liver")


def time_intensity_curves(series, label, *, lesion_label: int = 2, liver_label: int = 1) -> np.ndarray:
    """Mean lesion and liver signal per frame, relative to the pre-contrast liver.

    Args:
        series: ``(t, z, y, x)`` signal or `Volume`.
        label: ``(z, y, x)`` label map with lesion and liver voxels.
        lesion_label: Lesion label value.
        liver_label: Liver label value.

    Returns:
        ``(t, 3)`` float32: lesion mean / pre-contrast liver mean, liver mean
        / pre-contrast liver mean, lesion mean / liver mean (`CURVE_FEATURES`).
        Dividing by the pre-contrast liver removes the scanner's signal scale.
    """
    x = as_finite_array(series, "series", ndims=(4,))
    y = np.asarray(getattr(label, "array", label))
    if y.shape != x.shape[1:]:
        raise ImageValueError(f"label: shape {y.shape} differs from the series grid {x.shape[1:]}")
    lesion, liver = y == lesion_label, y == liver_label
    if not lesion.any() or not liver.any():
        raise ImageValueError(f"label: needs both lesion ({lesion_label}) and liver ({liver_label}) voxels")
    lesion_mean = x[:, lesion].mean(axis=1)
    liver_mean = x[:, liver].mean(axis=1)
    scale = max(float(liver_mean[0]), 1e-6)
    return np.stack([lesion_mean / scale, liver_mean / scale, lesion_mean / np.maximum(liver_mean, 1e-6)],
                    axis=1).astype(np.float32)
