"""`cascade_predict`: the two-stage CT cascade on a volume, for a local `CTCascade` or a served one."""

import logging

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.inference.postprocess import postprocess_liver_tumour
from keras_liver.inference.predict_volume import segment_with_predictor
from keras_liver.io.volume import Volume
from keras_liver.preprocess.spatial import bounding_box, shift_affine

logger = logging.getLogger(__name__)
MIN_LESION_MM3 = 100.0  # measured on held-out phantoms: false positives 12.1 -> 4.6 per case, recall unchanged
MIN_LESION_PROBABILITY = 0.9  # measured: false positives 15.0 -> 2.2 per case, recall unchanged (docs/RESULTS.md)
LESION_THRESHOLD = 0.3  # hysteresis low side, chosen on validation phantoms (docs/RESULTS.md, design 5)
LIVER_GATE_MM = 3.0  # stage 2 keeps only what lies within this of stage 1's liver (docs/RESULTS.md, design 3)


def liver_box(liver: np.ndarray, spacing, margin_mm) -> tuple[tuple, tuple]:
    """``(start, stop)`` voxel box of a liver mask widened by ``margin_mm`` (z, y, x) on each side."""
    margin = [int(np.ceil(float(m) / float(s))) for m, s in zip(margin_mm, spacing)]
    return bounding_box(liver, margin)


DEFAULT_SETTINGS = {"flip_tta": False, "min_lesion_mm3": MIN_LESION_MM3,
                    "min_lesion_probability": MIN_LESION_PROBABILITY, "liver_gate_mm": LIVER_GATE_MM,
                    "lesion_threshold": LESION_THRESHOLD, "boundary_from_probabilities": False}


def cascade_settings(plan, settings=None) -> dict:
    """`run_cascade`'s settings: its defaults, then the plan's chosen ones, then ``settings``.

    Raises:
        ConfigError: A setting (the plan's or the caller's) is unknown or of the wrong kind.
    """
    from keras_liver.models.ct_cascade import CTCascade
    from keras_liver.plans import check_settings

    chosen = check_settings((plan.fingerprint or {}).get("postprocess"), CTCascade.POSTPROCESS_KEYS,
                            "plan postprocess")
    given = check_settings(dict(settings or {}), CTCascade.POSTPROCESS_KEYS, "cascade settings")
    return {**DEFAULT_SETTINGS, **chosen, **given}


def run_cascade(liver_predictor, tumour_predictor, plan, image: Volume, *, batch_size: int = 4,
                postprocess: bool = True, return_stages: bool = False, **settings):
    """Stage 1 on the whole volume, stage 2 in the stage-1 liver box, pasted back on ``image``'s grid.

    Args:
        liver_predictor, tumour_predictor: Window predictors of the two stages
            (`model_predictor` of local models, `dict_predictor` of served signatures).
        plan: The cascade's two-stage `Plan` (spacings, windows, overlap, margin).
        image: 3D CT `Volume` in HU.
        batch_size: Windows per model call, both stages.
        postprocess: One liver, tumours only inside it, no lesion under ``min_lesion_mm3``.
        return_stages: Also return ``{"liver": stage-1 labels, "box": (start, stop),
            "tumour_probability": stage 2's tumour probability on ``image``'s grid (0
            outside the box)}``.
        **settings: The inference settings below. The plan's ``fingerprint["postprocess"]``
            (chosen on validation for this cascade, `CTCascade`'s ``postprocess``) replaces
            the defaults; a setting given here wins (``None`` turns a step off).

    Settings:
        flip_tta: Mirror test-time augmentation in both stages (default off).
        min_lesion_mm3: Default 100 mm^3, about a 5.8 mm sphere: at stage 2's fine spacing
            smaller components were nearly all false (docs/RESULTS.md, the lesion-size sweep).
        min_lesion_probability: Stage 2's lesion components whose peak tumour probability
            is lower become liver (`drop_uncertain_lesions`; ``None``: keep all). Default 0.9:
            on held-out phantoms it cut false positives from 15.0 to 2.2 per case at the
            same recall (docs/RESULTS.md, the probability sweep).
        liver_gate_mm: Stage 2's labels further than this from stage 1's liver become
            background (``None``: no gate). Stage 1 sees the whole abdomen, stage 2 only the
            box, so organs beside the liver (kidney, spleen, stomach) are stage 2's errors
            more than stage 1's; default 3 mm (one stage-1 voxel), measured on the real
            unenhanced scan and the held-out phantoms (docs/RESULTS.md, design 3).
        lesion_threshold: Stage 2's foreground voxels whose tumour probability reaches
            this are tumour even where its liver class wins (`lesion_labels`: with the
            floor above, a hysteresis); ``None``: arg-max.
        boundary_from_probabilities: Both stages decide background against
            foreground on ``image``'s grid from their resampled probabilities
            (`segment_with_predictor`) instead of the nearest model voxel (default off).

    Returns:
        uint8 label `Volume` (0 background, 1 liver, 2 tumour) on ``image``'s grid.

    Raises:
        ConfigError: The plan is not a two-stage liver-box cascade, or a setting is unknown.
    """
    settings = cascade_settings(plan, settings)
    min_lesion_mm3, liver_gate_mm = settings["min_lesion_mm3"] or 0.0, settings["liver_gate_mm"]
    if len(plan.stages) != 2 or (plan.stages[1].roi or {}).get("rule") != "liver_box":
        raise ConfigError("plan: a cascade needs two stages, the second with the ROI rule liver_box")
    first, second = plan.stages
    common = dict(batch_size=batch_size, flip_tta=bool(settings["flip_tta"]),
                  boundary_from_probabilities=bool(settings["boundary_from_probabilities"]))
    coarse = segment_with_predictor(liver_predictor, image, **first.inference_options(), postprocess=True,
                                    min_lesion_mm3=min_lesion_mm3, **common)
    liver = coarse.array > 0
    out = np.zeros(image.shape, np.uint8)
    box = None
    tumour_probability = np.zeros(image.shape, np.float32) if return_stages else None
    if not liver.any():
        logger.warning("%s: stage 1 found no liver; the mask is empty", image.meta.get("source", "volume"))
    else:
        margin = second.roi.get("margin_mm", 15.0)
        margin = [float(margin)] * 3 if isinstance(margin, (int, float)) else list(margin)
        box = liver_box(liver, image.spacing, margin)
        region = tuple(slice(a, b) for a, b in zip(*box))
        crop = Volume(image.array[region], shift_affine(image.affine, box[0]), meta=dict(image.meta))
        fine = segment_with_predictor(tumour_predictor, crop, **second.inference_options(), postprocess=False,
                                      min_lesion_probability=settings["min_lesion_probability"],
                                      lesion_threshold=settings["lesion_threshold"],
                                      return_probabilities=return_stages,
                                      **common)
        if return_stages:
            fine, probs = fine
            tumour_probability[region] = probs[..., 2]
        fine_labels = fine.array
        if liver_gate_mm is not None:
            far = ndimage.distance_transform_edt(~liver[region], sampling=image.spacing) > float(liver_gate_mm)
            fine_labels = np.where(far, 0, fine_labels).astype(np.uint8)
        out[region] = fine_labels
        if postprocess:
            out = postprocess_liver_tumour(out, image.spacing, min_lesion_mm3=min_lesion_mm3)
    result = image.replace(out, modality="SEG")
    logger.info("cascade on %s: liver box %s, liver %d voxels, tumour %d voxels", image.meta.get("source", "volume"),
                box, int((out > 0).sum()), int((out == 2).sum()))
    if return_stages:
        return result, {"liver": coarse.array, "box": box, "tumour_probability": tumour_probability}
    return result


def cascade_predict(cascade, image: Volume, **options):
    """Segment a CT volume with a local `CTCascade` (see `run_cascade` for ``options``)."""
    from keras_liver.inference.sliding_window import model_predictor

    if image.is_series:
        raise ConfigError("image: the CT cascade takes a 3D volume, got a 4D series")
    return run_cascade(model_predictor(cascade.liver_stage), model_predictor(cascade.tumour_stage), cascade.plan,
                       image, **options)
