"""Tiny models for export and serving tests (random weights; the numbers only need to be reproducible)."""

import keras
import numpy as np

from keras_liver.models import DCEClassifier, DCEPipeline, DCESegmenter, FusedUNet
from keras_liver.plans import Plan, StagePlan

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


# The DCE pipeline's two-stage plan for tiny series of 5 frames (stage 1 coarse, stage 2 in the liver box).
DCE_PLAN = Plan(task="dce_segmentation", stages=(
    StagePlan("liver", (5.0, 5.0, 8.0), (4, 8, 8), labels=("background", "liver", "lesion"),
              intensity="series:baseline"),
    StagePlan("lesion", None, (4, 8, 8), labels=("background", "liver", "lesion"), intensity="series:baseline",
              roi={"rule": "liver_box", "margin_mm": 5.0})))


def tiny_dce_pipeline(lesion_masks: bool = False, biased: bool = False, postprocess=None):
    """A `DCEPipeline` of tiny random models on 5-frame series (classes a, b, c).

    ``biased``: stage 1 calls everything liver and stage 2 leans towards lesion, so the
    random pipeline finds lesions.
    """
    shape = (5, 4, 8, 8, 1)
    liver = DCESegmenter(input_shape=shape, filters=(2, 3), normalize_series=False, lstm_kernel=[1, 3])
    lesion = DCESegmenter(input_shape=shape, filters=(2, 3), normalize_series=False, lstm_kernel=1)
    liver.plan = Plan(task="dce_segmentation", stages=(DCE_PLAN.stages[0],))
    lesion.plan = Plan(task="dce_segmentation", stages=(DCE_PLAN.stages[1],))
    classifier = DCEClassifier(input_shape=(5, 3, 5, 5, 1), num_classes=3, encoder_filters=(2,), lstm_filters=(2,),
                               class_names=["a", "b", "c"], lesion_masks=lesion_masks, curve_units=2)
    if biased:
        for stage, bias in ((liver, (0.0, 8.0, 0.0)), (lesion, (0.0, 0.0, 0.3))):
            head = stage.get_layer("probabilities_logits")
            kernel, _ = head.get_weights()
            head.set_weights([kernel, np.asarray(bias, np.float32)])
    return DCEPipeline(liver, lesion, classifier, postprocess=postprocess)
