"""Whole-volume inference: sliding windows, post-processing, back to the source grid."""

from keras_liver.inference.postprocess import postprocess_liver_tumour
from keras_liver.inference.predict_volume import default_patch_size, predict_volume, segment_with_predictor
from keras_liver.inference.sliding_window import (
    dict_predictor,
    gaussian_importance,
    model_predictor,
    sliding_window_predict,
    window_starts,
)

__all__ = [
    "default_patch_size",
    "dict_predictor",
    "gaussian_importance",
    "model_predictor",
    "postprocess_liver_tumour",
    "predict_volume",
    "segment_with_predictor",
    "sliding_window_predict",
    "window_starts",
]
