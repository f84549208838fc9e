"""The DCE lesion pipeline on a series: liver (coarse), lesions in its box (fine), one class per lesion.

`run_dce_cascade` takes window predictors, so the same steps run a local `DCEPipeline` and
one served by TF Serving. A series stage's predictor maps windows ``(n, z, y, x, t)`` (time
as the channels of `sliding_window_predict`) to ``(n, z, y, x, classes)``.
"""

import logging

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.inference.postprocess import (drop_lesions_outside_liver, drop_uncertain_lesions, lesion_labels,
                                              postprocess_liver_tumour, split_lesions)
from keras_liver.inference.sliding_window import sliding_window_predict
from keras_liver.io.volume import Volume
from keras_liver.preprocess.roi import largest_component

logger = logging.getLogger(__name__)
MIN_LESION_MM3 = 100.0  # a 5.8 mm sphere: about 3 voxels across at 3 mm pixels, under the smallest phantom lesion
# No gate by default: stage 1 calls large dark lesions background, and a gate at 6 mm from its liver
# cut them in half (validation lesion Dice 0.763 with it, 0.846 without; docs/RESULTS.md). The box is enough.
LIVER_GATE_MM = None
# Stage 2 trained with Dice per patch finds small lesions but also calls doubtful specks lesion: its
# false positives peak at 0.5-0.9, its true lesions above 0.9. Chosen on validation series (seeds 9000):
# precision >= 10 mm 0.76 -> 0.88 at unchanged recall (docs/RESULTS.md, DCE design 2).
MIN_LESION_PROBABILITY = 0.9


def series_window_predictor(call, input_name: str = "sequence", output_name: str = "probabilities",
                            spatial_dims: int = 3):
    """A window predictor for a DCE series model from a ``{input: batch} -> {output: batch}`` callable.

    Windows come as ``(n, z, y, x, t)``; a 3D model takes ``(n, t, z, y, x, 1)``, a 2D + time
    model (``spatial_dims = 2``, windows of depth 1) ``(n, t, y, x, 1)``.
    """

    def predict(batch):
        x = np.moveaxis(np.asarray(batch, np.float32), -1, 1)
        if spatial_dims == 2:
            if x.shape[2] != 1:
                raise ConfigError(f"window: a 2D + time model takes windows one slice deep, got {x.shape[2]}")
            out = np.asarray(call({input_name: np.ascontiguousarray(x[:, :, 0, ..., None])})[output_name])
            return out[:, None]
        return np.asarray(call({input_name: np.ascontiguousarray(x[..., None])})[output_name])

    return predict


def model_series_predictor(model):
    """`series_window_predictor` of a local Keras DCE segmenter (3D, or 2D + time).

    A series with another number of frames than the model was built for is refused with
    one line (`ConfigError`) instead of a shape error from deep inside Keras.
    """
    shape = model.input["sequence"].shape
    dims, frames = len(shape) - 3, shape[1]
    predict = series_window_predictor(model.predict_on_batch, spatial_dims=dims)

    def checked(batch):
        if frames is not None and batch.shape[-1] != frames:
            raise ConfigError(f"series: {batch.shape[-1]} frames, but {model.name} was trained on series of "
                              f"{frames} frames; resample the series in time or retrain")
        return predict(batch)

    return checked


def segment_series_stage(predict, series: Volume, stage, *, crop_mask=None, batch_size: int = 2,
                         flip_tta: bool = False):
    """One stage of the DCE cascade on a series, as its plan says.

    Steps: `baseline_normalize` of the whole series (plan intensity ``series:baseline``),
    crop to ``crop_mask`` plus the stage's ROI margin, resampling to the stage's spacing,
    sliding windows of the stage's patch (Gaussian blending), and the probabilities back on
    the series' grid (linear; outside the crop: background).

    Args:
        predict: Window predictor (`series_window_predictor`).
        series: 4D `Volume` ``(t, z, y, x)``.
        stage: The stage's `StagePlan`.
        crop_mask: Boolean ``(z, y, x)`` region (stage 1's liver) or ``None`` for the whole series.
        batch_size: Windows per call.
        flip_tta: Average every window's prediction with its mirror images
            (`sliding_window_predict`'s test-time augmentation).

    Returns:
        ``(z, y, x, classes)`` float32 probabilities on the series' grid.
    """
    from keras_liver.data.dce_cases import baseline_normalize
    from keras_liver.preprocess import SpatialPreprocessor

    if not series.is_series:
        raise ConfigError(f"series: a 4D (t, z, y, x) DCE series, got shape {series.shape}")
    work = series.replace(baseline_normalize(series.array)) if stage.intensity == "series:baseline" else series
    margin = (stage.roi or {}).get("margin_mm", 10.0)
    margin = float(margin if isinstance(margin, (int, float)) else max(margin))
    prep = SpatialPreprocessor(stage.target_spacing, crop_margin_mm=margin)
    image, _, record = prep(work, crop_mask=crop_mask)
    volume = np.moveaxis(image.array, 0, -1)  # (z, y, x, t): time as window channels
    probs = sliding_window_predict(predict, volume, stage.patch_size, overlap=stage.overlap, batch_size=batch_size,
                                   pad_value=float(volume.min()), flip_tta=flip_tta)
    return record.invert(probs, kind="probabilities").array.astype(np.float32)


def run_dce_cascade(liver_predict, lesion_predict, plan, series: Volume, *, batch_size: int = 2,
                    min_lesion_mm3: float = MIN_LESION_MM3, liver_gate_mm: float | None = LIVER_GATE_MM,
                    lesion_threshold: float | None = None,
                    min_lesion_probability: float | None = MIN_LESION_PROBABILITY,
                    min_shell_labelled: float | None = None, flip_tta: bool = False, register_frames: bool = False,
                    return_stages: bool = False):
    """Stage 1 (liver, coarse, whole series), then stage 2 (liver and lesion) inside its liver box.

    Args:
        liver_predict, lesion_predict: Window predictors of the two stages.
        plan: The pipeline's two-stage `Plan` (second stage with the ROI rule ``liver_box``).
        series: 4D `Volume` ``(t, z, y, x)`` of raw signal.
        batch_size: Windows per call.
        min_lesion_mm3: Smaller lesion components become liver.
        liver_gate_mm: Stage 2's labels further than this from stage 1's liver become
            background (``None``: no gate).
        lesion_threshold: Stage 2's foreground voxels whose lesion probability reaches this
            are lesion even where its liver class wins (`lesion_labels`); ``None``: arg-max.
        min_lesion_probability: Lesion components whose peak lesion probability stays under
            this become liver (`drop_uncertain_lesions`, the high side of the hysteresis);
            ``None``: kept.
        min_shell_labelled: Lesion components whose 2-voxel shell is labelled liver or lesion
            on less than this share become background (`drop_lesions_outside_liver`: fluid
            beside the liver is not wrapped in liver); ``None``: kept.
        flip_tta: Mirroring test-time augmentation in stage 2 (the lesion stage; stage 1's
            coarse liver does not need it). About 2x stage 2's time per extra axis.
        register_frames: Move every frame back to the series' mean position first
            (`keras_liver.preprocess.align_frames`: a rigid shift per frame, found on edges)
            and segment the aligned series.
        return_stages: Also return ``{"liver": stage-1 liver mask, "lesion_probability":
            stage 2's lesion probability on the series' grid}`` (and ``"frame_shifts"``, the
            ``(t, 3)`` voxel shifts undone, when ``register_frames``).

    Returns:
        uint8 label `Volume` (0 background, 1 liver, 2 lesion) on the series' spatial grid.
    """
    if len(plan.stages) != 2 or (plan.stages[1].roi or {}).get("rule") != "liver_box":
        raise ConfigError("plan: a DCE cascade needs two stages, the second with the ROI rule liver_box")
    first, second = plan.stages
    shifts = None
    if register_frames:
        series, shifts = registered(series)
    coarse = segment_series_stage(liver_predict, series, first, batch_size=batch_size)
    liver = largest_component(coarse.argmax(-1) > 0, connectivity=3)
    out = np.zeros(series.spatial_shape, np.uint8)
    lesion_probability = np.zeros(series.spatial_shape, np.float32)
    if not liver.any():
        logger.warning("%s: stage 1 found no liver; the mask is empty", series.meta.get("source", "series"))
    else:
        fine = segment_series_stage(lesion_predict, series, second, crop_mask=liver, batch_size=batch_size,
                                    flip_tta=flip_tta)
        out = lesion_labels(fine, lesion_threshold)
        lesion_probability = fine[..., 2] if fine.shape[-1] > 2 else lesion_probability
        if liver_gate_mm is not None:
            far = ndimage.distance_transform_edt(~liver, sampling=series.spacing) > float(liver_gate_mm)
            out[far] = 0
        out = postprocess_liver_tumour(out, series.spacing, min_lesion_mm3=min_lesion_mm3)
        if min_lesion_probability is not None:
            out = drop_uncertain_lesions(out, lesion_probability, float(min_lesion_probability))
        if min_shell_labelled is not None:
            out = drop_lesions_outside_liver(out, float(min_shell_labelled))
    result = series.replace(out, modality="SEG")
    logger.info("DCE cascade on %s: liver %d voxels, lesion %d voxels", series.meta.get("source", "series"),
                int((out > 0).sum()), int((out == 2).sum()))
    if return_stages:
        stages = {"liver": liver, "lesion_probability": lesion_probability}
        if shifts is not None:
            stages["frame_shifts"] = shifts
        return result, stages
    return result


def registered(series: Volume):
    """``(series with its frames aligned, (t, 3) voxel shifts undone)`` (`align_frames`)."""
    from keras_liver.preprocess import align_frames

    aligned, shifts = align_frames(series.array)
    logger.info("%s: frames aligned, largest shift %.2f voxels", series.meta.get("source", "series"),
                float(np.abs(shifts).max()) if shifts.size else 0.0)
    return series.replace(aligned), shifts


def classify_lesions(classify, series, instance: np.ndarray, crop_size, class_names, *, liver=None) -> list[dict]:
    """Each lesion of an instance map cropped from the series and classified.

    Args:
        classify: ``{"sequence": (n, t, z, y, x, 1)}`` float32 crops (and ``"masks"``
            ``(n, z, y, x, 2)`` when ``liver`` is given) -> ``(n, classes)`` probabilities.
        series: ``(t, z, y, x)`` raw series.
        instance: ``(z, y, x)`` lesion ids 1..n (0 elsewhere).
        crop_size: The classifier's ``(z, y, x)`` crop.
        class_names: Names by class index.
        liver: Boolean ``(z, y, x)`` liver parenchyma, for a classifier that takes each
            lesion's mask and the liver's (`lesion_mask_crops`); ``None``: crops only.

    Returns:
        One ``{"class", "probabilities": {name: p}}`` per lesion id, in id order.
    """
    from keras_liver.data.lesion_crop import lesion_crops, lesion_mask_crops  # imports TensorFlow: not at import

    crops = lesion_crops(series, instance, crop_size)
    if not crops:
        return []
    feed = {"sequence": np.stack(crops)[..., None].astype(np.float32)}
    if liver is not None:
        feed["masks"] = np.stack(lesion_mask_crops(instance, liver, crop_size)).astype(np.float32)
    probs = np.asarray(classify(feed), np.float64)
    if probs.shape != (len(crops), len(class_names)):
        raise ConfigError(f"classifier: returned {probs.shape} for {len(crops)} lesions of {len(class_names)} classes")
    return [{"class": str(class_names[int(p.argmax())]),
             "probabilities": {str(n): round(float(v), 4) for n, v in zip(class_names, p)}} for p in probs]


def run_dce_pipeline(liver_predict, lesion_predict, classify, plan, series: Volume, *, return_stages: bool = False,
                     **options):
    """`run_dce_cascade`, then `lesion_table` and `classify_lesions`: what `lesions.json` holds.

    Args:
        liver_predict, lesion_predict: Window predictors of the two segmentation stages.
        classify: The classifier's feed (`classify_lesions`) -> ``(n, classes)`` probabilities.
        plan: The pipeline's `Plan`; its fingerprint's ``classifier`` entry gives the crop
            size, the class names and whether it takes masks (`DCEPipeline.plan`).
        series: 4D `Volume` ``(t, z, y, x)``.
        return_stages: Also return `run_dce_cascade`'s stages (stage 1's liver, stage 2's
            lesion probability) as a fourth item.
        **options: `run_dce_cascade` settings (``register_frames`` aligns the frames once, for
            the segmentation and the classifier's crops alike), and ``split_probability``: split touching lesions
            whose lesion probability has separate cores reaching this (`split_lesions`; ``None``:
            one lesion per connected component). The plan's ``fingerprint["postprocess"]`` (the
            settings chosen on validation for this pipeline, `DCEPipeline`'s ``postprocess``)
            are the defaults; an option given here wins (``None`` turns a step off).
            ``register_frames`` defaults to on when a stage was trained on aligned frames (its
            plan's fingerprint says ``"frames": "aligned"``).

    Returns:
        ``(labels, instance, lesions)`` as `pipeline_predict` (and the stages).
    """
    from keras_liver.inference.lesion_table import lesion_table

    if not series.is_series:
        raise ConfigError(f"series: the DCE pipeline takes a 4D (t, z, y, x) series, got shape {series.shape}")
    info = (plan.fingerprint or {}).get("classifier") or {}
    if not info.get("crop_size") or not info.get("class_names"):
        raise ConfigError("plan: a DCE pipeline's plan names its classifier's crop_size and class_names")
    fingerprint = plan.fingerprint or {}
    aligned = any((fingerprint.get(stage) or {}).get("frames") == "aligned" for stage in ("liver", "lesion"))
    options = {"register_frames": aligned, **dict(fingerprint.get("postprocess") or {}), **options}
    split_probability = options.pop("split_probability", None)
    shifts = None
    if options.pop("register_frames", False):  # once, here: the classifier's crops come from the aligned series too
        series, shifts = registered(series)
    labels, stages = run_dce_cascade(liver_predict, lesion_predict, plan, series, return_stages=True, **options)
    if shifts is not None:
        stages["frame_shifts"] = shifts
    ids = None
    if split_probability is not None:
        ids = split_lesions(labels.array, stages["lesion_probability"], float(split_probability))
    instance, rows = lesion_table(labels, instance=ids)
    liver = np.asarray(labels.array) == 1 if info.get("lesion_masks") else None
    classes = classify_lesions(classify, series.array, instance, info["crop_size"], info["class_names"], liver=liver)
    lesions = [{"id": r["id"], **c, **{k: r[k] for k in ("volume_ml", "centroid_mm", "max_diameter_mm", "voxels")}}
               for r, c in zip(rows, classes)]
    if return_stages:
        return labels, labels.replace(instance), lesions, stages
    return labels, labels.replace(instance), lesions


def pipeline_predict(pipeline, series: Volume, **options):
    """Run a local `DCEPipeline` on a series: labels, lesion ids and one record per lesion.

    Args:
        pipeline: `DCEPipeline`.
        series: 4D `Volume` ``(t, z, y, x)``.
        **options: `run_dce_cascade` settings (``batch_size``, ``min_lesion_mm3``, ``liver_gate_mm``,
            ``lesion_threshold``, ``min_lesion_probability``, ``min_shell_labelled``, ``flip_tta``) and
            `run_dce_pipeline`'s ``return_stages`` and ``split_probability``; the pipeline's own
            ``postprocess`` settings are the defaults.

    Returns:
        ``(labels, instance, lesions)``: the uint8 label `Volume` (0 background, 1 liver,
        2 lesion), the uint16 lesion-id `Volume` and the records of `lesions.json` (``id``,
        ``class``, ``probabilities``, ``volume_ml``, ``centroid_mm`` world RAS,
        ``max_diameter_mm``, ``voxels``).
    """
    def classify(feed):
        return pipeline.classifier.predict_on_batch(feed)["probabilities"]

    return run_dce_pipeline(model_series_predictor(pipeline.liver_stage), model_series_predictor(pipeline.lesion_stage),
                            classify, pipeline.plan, series, **options)
