"""Evaluation: LiTS segmentation metrics, classification metrics, reports and figures.

NumPy/SciPy/scikit-learn/matplotlib only (no TensorFlow), except `compare`,
which trains models.
"""

from keras_liver.evaluation.classification_metrics import classification_metrics
from keras_liver.evaluation.evaluate_folder import evaluate_folder
from keras_liver.evaluation.lesion_matching import match_lesions, summarise_matches
from keras_liver.evaluation.real_scans import REAL_SCANS, RealScan, evaluate_real_scans, find_real_scans
from keras_liver.evaluation.segmentation_metrics import (
    binary_metrics,
    dataset_dice,
    lesion_detection,
    segmentation_metrics,
)

__all__ = ["REAL_SCANS", "RealScan", "binary_metrics", "classification_metrics", "dataset_dice", "evaluate_folder",
           "evaluate_real_scans", "find_real_scans", "lesion_detection", "match_lesions", "segmentation_metrics",
           "summarise_matches"]
