"""Preprocessing: intensity, invertible spatial steps, threshold denoising, ROIs.

NumPy, SciPy, OpenCV and scikit-image only; never imports TensorFlow.
"""

from keras_liver.preprocess.denoise import estimate_noise_sigma, threshold_denoise
from keras_liver.preprocess.fingerprint import Fingerprint
from keras_liver.preprocess.frame_alignment import align_frames, frame_shifts
from keras_liver.preprocess.intensity import (
    WINDOW_PRESETS,
    dce_normalize,
    relative_enhancement,
    window,
    window_bounds,
    zscore,
)
from keras_liver.preprocess.roi import body_mask, largest_component, liver_roi
from keras_liver.preprocess.spatial_preprocessor import SpatialPreprocessor
from keras_liver.preprocess.spatial_record import SpatialRecord

__all__ = [
    "WINDOW_PRESETS",
    "Fingerprint",
    "SpatialPreprocessor",
    "SpatialRecord",
    "align_frames",
    "body_mask",
    "dce_normalize",
    "estimate_noise_sigma",
    "frame_shifts",
    "liver_roi",
    "largest_component",
    "relative_enhancement",
    "threshold_denoise",
    "window",
    "window_bounds",
    "zscore",
]
