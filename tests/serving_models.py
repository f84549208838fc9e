"""Tiny models for export and serving tests (random weights; the numbers only need to be reproducible)."""

import keras

from keras_liver.models import DCEClassifier, FusedUNet

DCE_CLASSES = ["hcc", "metastasis", "haemangioma", "cyst", "fnh"]


def tiny_segmenter(seed: int = 0, deep_supervision: bool = True):
    """2D FusedUNet, any size divisible by 4, raw HU in (liver window in the graph)."""
    keras.utils.set_random_seed(seed)
    return FusedUNet(input_shape=(None, None, 1), depth=2, filters=4, intensity="liver",
                     deep_supervision=deep_supervision, name=f"seg_{seed}")


def tiny_classifier(seed: int = 0):
    """DCEClassifier on (t, 4, 12, 12) series, any number of time points."""
    keras.utils.set_random_seed(seed)
    return DCEClassifier(input_shape=(None, 4, 12, 12, 1), encoder_filters=(4, 8), lstm_filters=(4,),
                         dropout=0.0, class_names=DCE_CLASSES, name=f"dce_{seed}")
