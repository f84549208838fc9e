"""DCE series through a local model: `predict_series`, `classify_series`, `segment_series`.

They return what the serving clients' `classify_series` and
`segment_volume` return for the same model served by TF Serving, and share
with them the request and response handling (`series_inputs`,
`classification_from_outputs`, `mask_from_outputs`).
"""

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError
from keras_liver.io.volume import Volume


def series_inputs(series, task, what: str = "series") -> dict:
    """``{main input: (1, t, z, y, x, 1) float32}`` of a 4D series (`Volume` or array) for a DCE task."""
    task = tasks.get(task)
    array = series.array if isinstance(series, Volume) else np.asarray(series)
    if array.ndim != 4:
        raise ConfigError(f"{what}: a {task.name} model takes a 4D (t, z, y, x) DCE series, got shape {array.shape}")
    return {task.inputs[0]: array[None, ..., None].astype(np.float32)}


def classification_from_outputs(outputs: dict, class_names=None) -> dict:
    """``{"label", "class_name", "probabilities"}`` of the first item of a classifier's outputs.

    ``class_name`` comes from the outputs (a served model returns it) or
    from ``class_names``; ``None`` when neither has it.
    """
    probabilities = np.asarray(outputs["probabilities"], np.float32)[0]
    label = int(np.asarray(outputs["label"]).reshape(-1)[0]) if "label" in outputs else int(probabilities.argmax())
    name = outputs.get("class_name")
    if name is not None:
        name = np.asarray(name).reshape(-1)[0]
        name = name.decode() if isinstance(name, bytes) else str(name)
    elif class_names:
        name = str(class_names[label])
    return {"label": label, "class_name": name, "probabilities": probabilities}


def mask_from_outputs(outputs: dict, series: Volume) -> Volume:
    """The first item's ``mask`` as a uint8 label `Volume` on the series' grid."""
    return series.replace(np.asarray(outputs["mask"])[0].astype(np.uint8), modality="SEG")


def classify_series(model, series) -> dict:
    """Classify one DCE series with a local Keras classifier (the same result as `PredictClient.classify_series`).

    Args:
        model: A ``dce_classification`` model with a ``sequence`` input.
        series: `Volume` or ``(t, z, y, x)`` array of raw signal.

    Returns:
        ``{"label": int, "class_name": str | None, "probabilities": ndarray}``.
    """
    task = tasks.task_of(model)
    if task.is_segmentation:
        raise ConfigError(f"model: {getattr(model, 'name', 'model')} is a {task.name} model, not a classifier")
    out = model.predict(series_inputs(series, task), verbose=0)
    return classification_from_outputs(out, getattr(model, "class_names", None))


def segment_series(model, series: Volume) -> Volume:
    """Segment one DCE series with a local Keras segmenter (the same mask as `PredictClient.segment_volume`).

    A model with a plan (trained on series patches) gets the series as its plan says
    (`segment_series_stage`: normalised, resampled, in sliding windows); one without is
    called on the whole series.
    """
    task = tasks.task_of(model)
    if not task.is_segmentation or task.modality != "DCE":
        raise ConfigError(f"model: {getattr(model, 'name', 'model')} is a {task.name} model, not a DCE segmenter")
    plan = getattr(model, "plan", None)
    if plan is not None:
        from keras_liver.inference.dce_cascade import model_series_predictor, segment_series_stage

        if not isinstance(series, Volume) or not series.is_series:
            raise ConfigError("series: a 4D (t, z, y, x) DCE series Volume is needed")
        if plan.stage.roi is not None:
            raise ConfigError(f"model: {model.name} segments inside a liver box (a pipeline's stage 2); run it in a "
                              f"DCEPipeline")
        probs = segment_series_stage(model_series_predictor(model), series, plan.stage)
        return series.replace(probs.argmax(-1).astype(np.uint8), modality="SEG")
    return mask_from_outputs(model.predict(series_inputs(series, task), verbose=0), series)


def predict_series(model, series):
    """`classify_series` or `segment_series`, as the model's task says."""
    return segment_series(model, series) if tasks.task_of(model).is_segmentation else classify_series(model, series)


def classification_record(result: dict, *, source, model, version=None, class_names=None) -> dict:
    """The JSON record `keras-liver predict` and `keras-liver query` write for a classified series.

    Args:
        result: `classify_series` (local or a client's) result.
        source: The input path.
        model: The model file or the servable name.
        version: The served version (``None`` for a local model).
        class_names: All class names in index order, when known.

    Returns:
        ``{"input", "model", "version", "task", "label", "class", "class_names", "probabilities"}``
        (probabilities a list in class-index order).
    """
    return {"input": str(source), "model": str(model), "version": None if version is None else int(version),
            "task": "dce_classification", "label": int(result["label"]), "class": result["class_name"],
            "class_names": None if not class_names else [str(c) for c in class_names],
            "probabilities": [float(p) for p in result["probabilities"]]}
