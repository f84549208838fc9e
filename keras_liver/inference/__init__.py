"""Whole-volume inference: sliding windows, post-processing, back to the source grid."""

from keras_liver.inference.postprocess import postprocess_liver_tumour
from keras_liver.inference.predict_volume import predict_volume
from keras_liver.inference.sliding_window import (
    gaussian_importance,
    model_predictor,
    sliding_window_predict,
    window_starts,
)

__all__ = [
    "gaussian_importance",
    "model_predictor",
    "postprocess_liver_tumour",
    "predict_volume",
    "sliding_window_predict",
    "window_starts",
]
