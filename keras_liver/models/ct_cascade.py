"""`CTCascade`: liver first at coarse spacing, then liver and tumour inside its box at fine spacing."""

import keras

from keras_liver import tasks
from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class CTCascade(keras.Model):
    """Two CT segmentation models that run as one: the nnU-Net / LiTS cascade.

    Stage 1 (``liver_stage``) segments the liver on the whole volume at its
    plan's coarse spacing; stage 2 (``tumour_stage``) segments liver and
    tumour inside the stage-1 liver's bounding box plus a margin, at its plan's
    fine spacing (`keras_liver.inference.cascade_predict` runs the steps). Both
    stages are ordinary CT segmentation models (`FusedUNet` for the paper's
    method) and keep their own plans; the cascade's `plan` has one stage for
    each, the second with the ROI rule ``liver_box``.

    One ``.keras`` file holds both (inputs ``liver_image`` and
    ``tumour_image``, plus ``<stage>_<name>`` for a stage's extra inputs such
    as ``tumour_hog``; outputs ``liver_probabilities`` and ``probabilities``,
    one path each); an export is one SavedModel whose signatures ``liver`` and
    ``serving_default`` are the two stages and whose ``plan`` signature tells a
    client how to chain them.

    Args:
        liver_stage: Stage 1; its label 1 or 2 is taken as liver.
        tumour_stage: Stage 2 (labels background, liver, tumour).
        margin_mm: Margin around the stage-1 liver box (z, y, x), default the
            stage-2 plan's training margin, else 15 mm.
        postprocess: The inference settings chosen for these two stages on validation
            phantoms (`run_cascade`'s ``min_lesion_probability``, ``lesion_threshold``,
            ``min_lesion_mm3``, ``liver_gate_mm`` and ``flip_tta``;
            ``scripts/lesion_probability_sweep.py --choose`` picks them). A stage 2
            retrained with other augmentations can be more or less confident than the one
            the library's defaults were measured on, so the floor on its lesion
            probability belongs to the model. They travel in the plan
            (``fingerprint["postprocess"]``, so a served cascade has them too) and are the
            defaults of every run; a caller's explicit option wins. ``None``:
            `run_cascade`'s defaults.

    Example:
        >>> cascade = CTCascade(load_model("runs/liver/model.keras"),
        ...                     load_model("runs/tumour/model.keras"))          # doctest: +SKIP
        >>> mask = cascade_predict(cascade, load_volume("scan.nii.gz"))         # doctest: +SKIP
    """

    task = "ct_segmentation"
    POSTPROCESS_KEYS = {"min_lesion_probability": float, "lesion_threshold": float, "min_lesion_mm3": float,
                        "liver_gate_mm": float, "flip_tta": bool, "boundary_from_probabilities": bool}

    def __init__(self, liver_stage, tumour_stage, margin_mm=None, postprocess=None, name: str = "ct_cascade",
                 **kwargs):
        for what, stage in (("liver_stage", liver_stage), ("tumour_stage", tumour_stage)):
            if not isinstance(stage, keras.Model) or tasks.task_of(stage).name != "ct_segmentation":
                raise ConfigError(f"{what}: needs a CT segmentation model, got {type(stage).__name__}")
        if liver_stage is tumour_stage:
            raise ConfigError("tumour_stage: must be another model than liver_stage")
        # Keras needs unique layer names inside one model, and two runs of one recipe share theirs.
        liver_stage.name, tumour_stage.name = "liver_stage", "tumour_stage"
        liver_in, tumour_in = _stage_inputs("liver", liver_stage), _stage_inputs("tumour", tumour_stage)
        outputs = {"liver_probabilities": liver_stage(liver_in)["probabilities"],
                   "probabilities": tumour_stage(tumour_in)["probabilities"]}
        inputs = {f"liver_{k}": v for k, v in liver_in.items()} | {f"tumour_{k}": v for k, v in tumour_in.items()}
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.liver_stage = liver_stage
        self.tumour_stage = tumour_stage
        if margin_mm is None:
            roi = tumour_stage.plan.stage.roi if getattr(tumour_stage, "plan", None) is not None else None
            margin_mm = (roi or {}).get("margin_mm", 15.0)
        margin = [float(margin_mm)] * 3 if isinstance(margin_mm, (int, float)) else [float(m) for m in margin_mm]
        if len(margin) != 3 or min(margin) < 0:
            raise ConfigError(f"margin_mm: one or three numbers >= 0 (z, y, x), got {margin_mm!r}")
        self.margin_mm = margin
        from keras_liver.plans import check_settings

        self.postprocess = check_settings(postprocess, self.POSTPROCESS_KEYS)

    @property
    def plan(self):
        """The cascade's `Plan`: stage ``liver`` then stage ``tumour`` (ROI ``liver_box``)."""
        import dataclasses

        from keras_liver.inference.predict_volume import default_patch_size
        from keras_liver.plans import Plan, StagePlan

        stages = []
        for name, model in (("liver", self.liver_stage), ("tumour", self.tumour_stage)):
            plan = getattr(model, "plan", None)
            if plan is None:
                window = default_patch_size(tuple(model.input["image"].shape[1:]),
                                            len(model.input["image"].shape) - 2)
                stage = StagePlan(name, None, window)
            else:
                stage = dataclasses.replace(plan.stage, name=name)
            stages.append(stage)
        stages[1] = dataclasses.replace(stages[1], roi={"rule": "liver_box", "from_stage": "liver",
                                                         "margin_mm": list(self.margin_mm)})
        return Plan(task="ct_segmentation", stages=tuple(stages),
                    fingerprint={"liver": dict(getattr(self.liver_stage.plan, "fingerprint", {}) or {}),
                                 "tumour": dict(getattr(self.tumour_stage.plan, "fingerprint", {}) or {}),
                                 **({"postprocess": dict(self.postprocess)} if self.postprocess else {})})

    def get_config(self):
        return {"liver_stage": keras.saving.serialize_keras_object(self.liver_stage),
                "tumour_stage": keras.saving.serialize_keras_object(self.tumour_stage),
                "margin_mm": list(self.margin_mm), "postprocess": dict(self.postprocess), "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        liver = keras.saving.deserialize_keras_object(config.pop("liver_stage"))
        tumour = keras.saving.deserialize_keras_object(config.pop("tumour_stage"))
        return cls(liver, tumour, **config)


def _stage_inputs(prefix: str, stage) -> dict:
    """Fresh inputs for every input of ``stage``, keyed by the stage's own names, named ``<prefix>_<name>``."""
    return {key: keras.Input(tuple(t.shape[1:]), name=f"{prefix}_{key}") for key, t in stage.input.items()}
