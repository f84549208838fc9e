"""Registered Keras layers: in-graph intensity handling and time folding."""

from keras_liver.layers.append_masks import AppendMasks
from keras_liver.layers.arg_max import ArgMax
from keras_liver.layers.fingerprint_normalization import FingerprintNormalization
from keras_liver.layers.fold_time import FoldTime
from keras_liver.layers.intensity import intensity_layer, normalize_intensity_spec
from keras_liver.layers.intensity_window import IntensityWindow
from keras_liver.layers.lesion_curves import LesionCurves
from keras_liver.layers.reduce_depth import ReduceDepth
from keras_liver.layers.select_frame import SelectFrame
from keras_liver.layers.series_normalization import SeriesNormalization
from keras_liver.layers.subtraction_images import SubtractionImages
from keras_liver.layers.unfold_time import UnfoldTime

__all__ = [
    "AppendMasks",
    "ArgMax",
    "FingerprintNormalization",
    "FoldTime",
    "IntensityWindow",
    "LesionCurves",
    "ReduceDepth",
    "SelectFrame",
    "SeriesNormalization",
    "SubtractionImages",
    "UnfoldTime",
    "intensity_layer",
    "normalize_intensity_spec",
]
