"""Whole-volume inference: sliding windows, post-processing, back to the source grid."""

from keras_liver.inference.cascade import cascade_predict, run_cascade
from keras_liver.inference.dce_cascade import (
    classify_lesions,
    model_series_predictor,
    pipeline_predict,
    run_dce_cascade,
    run_dce_pipeline,
    segment_series_stage,
    series_window_predictor,
)
from keras_liver.inference.lesion_table import lesion_table, max_diameter_mm
from keras_liver.inference.postprocess import (drop_lesions_outside_liver, drop_uncertain_lesions, lesion_labels,
                                              lesion_shell_shares, postprocess_liver_tumour, split_lesions)
from keras_liver.inference.predict_volume import (
    default_patch_size,
    predict_volume,
    resolve_plan,
    segment_with_predictor,
)
from keras_liver.inference.series import (
    classification_from_outputs,
    classification_record,
    classify_series,
    mask_from_outputs,
    predict_series,
    segment_series,
    series_inputs,
)
from keras_liver.inference.sliding_window import (
    dict_predictor,
    gaussian_importance,
    model_predictor,
    sliding_window_predict,
    window_starts,
)

__all__ = [
    "cascade_predict",
    "classify_lesions",
    "model_series_predictor",
    "pipeline_predict",
    "run_dce_cascade",
    "run_dce_pipeline",
    "segment_series_stage",
    "series_window_predictor",
    "classification_from_outputs",
    "lesion_table",
    "max_diameter_mm",
    "classification_record",
    "classify_series",
    "default_patch_size",
    "dict_predictor",
    "gaussian_importance",
    "mask_from_outputs",
    "model_predictor",
    "postprocess_liver_tumour",
    "drop_uncertain_lesions",
    "drop_lesions_outside_liver",
    "lesion_shell_shares",
    "split_lesions",
    "lesion_labels",
    "predict_series",
    "predict_volume",
    "resolve_plan",
    "run_cascade",
    "segment_series",
    "segment_with_predictor",
    "series_inputs",
    "sliding_window_predict",
    "window_starts",
]
