"""Hand-crafted features: HOG with scikit-image (never imports TensorFlow)."""

from keras_liver.features.hog import (
    hog_features,
    hog_map,
    lesion_boxes,
    lesion_hog_features,
    series_lesion_hog_features,
    slice_hog_features,
)

__all__ = [
    "hog_features",
    "hog_map",
    "lesion_boxes",
    "lesion_hog_features",
    "series_lesion_hog_features",
    "slice_hog_features",
]
