"""Hand-crafted features: HOG with scikit-image, DCE time-intensity curves (never imports TensorFlow)."""

from keras_liver.features.curves import CURVE_FEATURES, time_intensity_curves
from keras_liver.features.hog import (
    hog_features,
    hog_map,
    lesion_boxes,
    lesion_hog_features,
    series_lesion_hog_features,
    slice_hog_features,
)

__all__ = [
    "CURVE_FEATURES",
    "hog_features",
    "hog_map",
    "lesion_boxes",
    "lesion_hog_features",
    "series_lesion_hog_features",
    "slice_hog_features",
    "time_intensity_curves",
]
