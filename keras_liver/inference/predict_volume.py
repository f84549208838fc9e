"""`predict_volume`: a whole CT volume through a segmentation model, back onto the source grid."""

import logging

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError
from keras_liver.inference.postprocess import drop_uncertain_lesions, lesion_labels, postprocess_liver_tumour
from keras_liver.inference.sliding_window import model_predictor, sliding_window_predict
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)
MAX_WINDOW_BYTES = 4 << 30  # one batch of float32 windows; far above any real window, far below an absurd one


def default_patch_size(image_shape, spatial_dims: int) -> tuple:
    """The window for an ``image`` input of shape ``image_shape`` (no batch): its fixed size, else a default.

    2D models get ``(1, y, x)`` (default 1 x 128 x 128), 3D models
    ``(z, y, x)`` (default 32 x 96 x 96).
    """
    fixed = tuple(image_shape[:-1])
    if fixed and None not in fixed:
        return ((1,) + fixed) if spatial_dims == 2 else fixed
    return (1, 128, 128) if spatial_dims == 2 else (32, 96, 96)


def predict_volume(model, image: Volume, *, patch_size=None, target_spacing=None, plan=None, **options):
    """Segment a CT volume with a `FusedUNet` (or any model with an ``image`` input).

    The model's plan (`keras_liver.plans`, saved with it by training) says
    the spacing to resample to and the window; ``patch_size`` and
    ``target_spacing`` override it. A model without a plan predicts at the
    scan's own spacing, as before plans, and a warning says so.

    Args:
        model: Keras model with inputs ``image`` (raw HU; intensity handling
            is inside the graph) and optionally ``hog``; output ``probabilities``.
        image: 3D CT `Volume` (HU), any orientation.
        patch_size: Window ``(z, y, x)``; 2D models use ``(1, y, x)``.
            Default: the plan's, else the model's fixed input size, else
            1 x 128 x 128 (2D) or 32 x 96 x 96 (3D).
        target_spacing: ``(z, y, x)`` mm to resample to; default: the plan's.
        plan: A `Plan` to use instead of the model's.
        **options: `segment_with_predictor` settings (``crop_to_liver``,
            ``overlap``, ``batch_size``, ``flip_tta``, ``postprocess``,
            ``min_lesion_mm3``, ``hog_window``, ``return_probabilities``).

    Returns:
        uint8 label `Volume` on ``image``'s grid (and the probabilities if asked).
    """
    task = tasks.task_of(model)
    if task.modality != "CT":
        raise ConfigError(f"model: {model.name} is a {task.name} model; predict_volume segments CT volumes")
    predictor = model_predictor(model)
    plan = resolve_plan(plan if plan is not None else getattr(model, "plan", None), task.name,
                        lambda: default_patch_size(tuple(model.input[task.main_input(model.input)].shape[1:]),
                                                   predictor[1]),
                        model.name, spacing=target_spacing, patch_size=patch_size)
    stage = plan.stage
    if stage.roi is not None and not options.get("crop_to_liver"):
        logger.warning("%s was trained inside liver boxes (plan ROI %s): on a whole volume it may call tumour "
                       "outside the liver; run it as stage 2 of `keras-liver cascade`, or with --crop-to-liver",
                       model.name, stage.roi.get("rule"))
    multiple = int(getattr(model, "size_multiple", 1))
    spatial = stage.patch_size[-predictor[1]:]
    if any(p % multiple for p in spatial):
        raise ConfigError(f"patch_size {stage.patch_size}: {model.name} needs window sizes divisible by {multiple} "
                          f"(2**depth), e.g. {tuple(max(multiple, p // multiple * multiple) for p in spatial)}")
    return segment_with_predictor(predictor, image, **{**stage.inference_options(), **options})


def resolve_plan(plan, task_name: str, default_window, source_name: str, *, spacing=None, patch_size=None):
    """The plan inference runs: the model's (or server's) with the user's overrides, or a legacy one.

    Args:
        plan: A `Plan` or ``None`` (a model saved before plans).
        task_name: The model's task.
        default_window: Callable giving the window for a model without a plan.
        source_name: The model, for the legacy warning.
        spacing, patch_size: The user's overrides (``--spacing``, ``--patch``).
    """
    from keras_liver.plans import legacy_plan

    spacing = None if spacing is None else tuple(float(v) for v in spacing)
    patch_size = None if patch_size is None else tuple(int(v) for v in patch_size)
    if plan is None:
        if spacing is None:
            plan = legacy_plan(task_name, patch_size or default_window(), source_name)
        else:
            from keras_liver.plans import Plan, StagePlan

            plan = Plan(task=task_name, stages=(StagePlan("liver_tumour", spacing, patch_size or default_window()),),
                        source="override")
        return plan.with_overrides(patch_size=patch_size)
    return plan.with_overrides(spacing=spacing, patch_size=patch_size)


def segment_with_predictor(predictor, image: Volume, *, patch_size, target_spacing=None, crop_to_liver: bool = False,
                           overlap: float = 0.5, batch_size: int = 4, flip_tta: bool = False,
                           postprocess: bool = True, min_lesion_mm3: float = 10.0, hog_window: str = "abdomen",
                           return_probabilities: bool = False, context_slices: int = 0, denoise: dict | None = None,
                           min_lesion_probability: float | None = None, lesion_threshold: float | None = None,
                           boundary_from_probabilities: bool = False):
    """Segment a CT volume with any window predictor (a local model or a model server).

    Steps: optional crop to `liver_roi` and resampling to ``target_spacing``
    (`SpatialPreprocessor`, recorded); optional `threshold_denoise`; the
    neighbouring slices of a 2.5D model; a HOG map when the model has more
    input channels than that; sliding-window prediction; arg-max; back to the
    source grid with the record's inverse; `postprocess_liver_tumour`.
    A 2.5D model (``context_slices = k``, from its plan) gets each slice with
    its ``k`` neighbours on either side as channels, edge slices repeated,
    as in training (`PatchSampler`).

    Args:
        predictor: ``(predict, spatial_dims, channels)`` from `dict_predictor`
            or `model_predictor`.
        image: 3D CT `Volume` (HU), any orientation.
        patch_size: Window ``(z, y, x)``; 2D models use ``(1, y, x)``.
        target_spacing: Resample to this ``(z, y, x)`` mm first (the training spacing).
        crop_to_liver: Crop to `liver_roi` first (faster; the rest is background).
        overlap, batch_size, flip_tta: `sliding_window_predict` settings.
        postprocess: Apply `postprocess_liver_tumour`.
        min_lesion_mm3: Smallest lesion kept by post-processing.
        hog_window: CT window for the HOG map input.
        return_probabilities: Also return the class probabilities on ``image``'s grid
            (``(z, y, x, classes)`` float32, resampled linearly).
        context_slices: Neighbouring slices per side as channels (2.5D models).
        denoise: `threshold_denoise` arguments applied after resampling (the plan's), or ``None``.
        min_lesion_probability: Drop lesion components whose peak tumour probability is
            lower (`drop_uncertain_lesions`, on the model's grid); ``None``: keep all.
        lesion_threshold: Foreground voxels whose tumour probability reaches this are
            tumour even where the liver class wins (`lesion_labels`); ``None``: arg-max.

    Returns:
        uint8 label `Volume` on ``image``'s grid (and the probabilities if asked).
    """
    from keras_liver.preprocess import SpatialPreprocessor, liver_roi

    if image.is_series:
        raise ConfigError("image: CT segmentation takes a 3D volume, got a 4D series")
    predict, spatial_dims, channels = predictor
    patch_size = tuple(int(p) for p in patch_size)
    window_bytes = 4 * int(batch_size) * channels * int(np.prod(patch_size, dtype=np.float64)) * (2 if flip_tta else 1)
    if min(patch_size) < 1 or window_bytes > MAX_WINDOW_BYTES:
        raise ConfigError(f"patch_size {patch_size}: a batch of {batch_size} such windows needs {window_bytes:,} bytes "
                          f"(limit {MAX_WINDOW_BYTES:,}); give a window of at most a few hundred voxels per axis")
    mask = liver_roi(image) if crop_to_liver else None
    prep = SpatialPreprocessor(target_spacing, crop_margin_mm=15.0)
    work, _, record = prep(image, crop_mask=mask)
    hu = work.array.astype(np.float32)
    if denoise is not None:
        from keras_liver.preprocess import threshold_denoise

        hu = threshold_denoise(hu, **denoise)
    k = int(context_slices)
    if k and spatial_dims != 2:
        raise ConfigError(f"context_slices: {k} neighbouring slices need a 2D model, this one is {spatial_dims}D")
    if channels < 2 * k + 1:
        raise ConfigError(f"context_slices: {k} per side needs {2 * k + 1} image channels, the model takes {channels}")
    depth = np.arange(hu.shape[0])
    stack = [hu[np.clip(depth + d, 0, hu.shape[0] - 1)][..., None] for d in range(-k, k + 1)]
    if channels > 2 * k + 1:
        from keras_liver.features import hog_map

        stack.append(hog_map(hu, window=hog_window, orientations=channels - 2 * k - 1))
    volume = np.concatenate(stack, axis=-1)
    probs = sliding_window_predict(predict, volume, patch_size, overlap=overlap, batch_size=batch_size,
                                   flip_tta=flip_tta, pad_value=float(hu.min()))
    labels = lesion_labels(probs, lesion_threshold)
    if min_lesion_probability is not None and probs.shape[-1] > 2:
        labels = drop_uncertain_lesions(labels, probs[..., 2], min_lesion_probability)
    back = record.invert(labels, kind="label")
    out = back.array
    if boundary_from_probabilities and any(step["op"] == "resample" for step in record.steps):
        two = np.stack([probs[..., 0], probs[..., 1:].max(axis=-1)], axis=-1)
        sides = record.invert(two, kind="probabilities", antialias=True).array
        foreground = sides[..., 1] > sides[..., 0]
        out = np.where(foreground, np.maximum(out, 1), 0).astype(np.uint8)
    if postprocess:
        out = postprocess_liver_tumour(out, image.spacing, min_lesion_mm3=min_lesion_mm3)
    result = image.replace(out, modality="SEG")
    logger.info("predicted %s: liver %d voxels, tumour %d voxels", image.meta.get("source", "volume"),
                int((out > 0).sum()), int((out == 2).sum()))
    if return_probabilities:
        return result, record.invert(probs, kind="probabilities").array.astype(np.float32)
    return result
