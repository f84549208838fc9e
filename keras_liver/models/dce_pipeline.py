"""`DCEPipeline`: DCE-MRI lesions segmented (liver first, lesions in its box) and each lesion classified."""

import keras

from keras_liver import tasks
from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class DCEPipeline(keras.Model):
    """Three DCE models that run as one pipeline on a 4D series.

    Stage 1 (``liver_stage``, a `DCESegmenter` trained at coarse spacing on whole series)
    finds the liver; stage 2 (``lesion_stage``, a `DCESegmenter` trained on lesion-rich
    patches of liver boxes at the series' resolution) labels liver and lesion inside the
    stage-1 liver's box; each predicted lesion (a connected component) is cropped from the
    series and classified by ``classifier`` (a `DCEClassifier` trained on lesion-centred
    crops). `keras_liver.inference.pipeline_predict` runs the steps and returns the label
    map and one record per lesion.

    One ``.keras`` file holds all three (inputs ``liver_sequence``, ``lesion_sequence`` and
    ``classifier_sequence``; outputs ``liver_probabilities``, ``probabilities`` and
    ``class_probabilities``, one path each); the segmenters keep their plans and the
    classifier its class names and crop size.

    Args:
        liver_stage: Stage 1 (``dce_segmentation``; label 1 or 2 is liver).
        lesion_stage: Stage 2 (``dce_segmentation``, background / liver / lesion).
        classifier: ``dce_classification`` model with a fixed ``(t, z, y, x, 1)`` crop input.
        margin_mm: Margin around the stage-1 liver box; default stage 2's training margin, else 10 mm.
        postprocess: The inference settings chosen for these stages on validation series
            (`run_dce_cascade`'s ``lesion_threshold``, ``min_lesion_probability``,
            ``min_shell_labelled``, ``min_lesion_mm3``, ``liver_gate_mm``, ``flip_tta``, ``register_frames`` and
            `run_dce_pipeline`'s ``split_probability``), as nnU-Net keeps the post-processing
            chosen for a model beside it. They travel in the plan (``fingerprint["postprocess"]``,
            so a served pipeline has them too) and are the defaults of every run; a caller's
            explicit option wins. ``None``: `run_dce_cascade`'s defaults.
    """

    POSTPROCESS_KEYS = {"lesion_threshold": float, "min_lesion_probability": float, "min_shell_labelled": float,
                        "min_lesion_mm3": float, "liver_gate_mm": float, "flip_tta": bool, "split_probability": float,
                        "register_frames": bool}

    task = "dce_segmentation"

    def __init__(self, liver_stage, lesion_stage, classifier, margin_mm=None, postprocess=None,
                 name: str = "dce_pipeline", **kwargs):
        for what, model, task in (("liver_stage", liver_stage, "dce_segmentation"),
                                  ("lesion_stage", lesion_stage, "dce_segmentation"),
                                  ("classifier", classifier, "dce_classification")):
            if not isinstance(model, keras.Model) or tasks.task_of(model).name != task:
                raise ConfigError(f"{what}: needs a {task} model, got {type(model).__name__}")
        if len({id(liver_stage), id(lesion_stage), id(classifier)}) != 3:
            raise ConfigError("liver_stage, lesion_stage, classifier: must be three different models")
        for what, model in (("liver_stage", liver_stage), ("lesion_stage", lesion_stage)):
            if getattr(model, "plan", None) is None:
                raise ConfigError(f"{what}: {model.name} has no plan; train it on series patches "
                                  f"(series_patch) so it records its spacing and window")
        crop = tuple(classifier.input["sequence"].shape[2:5])
        if any(s is None for s in crop):
            raise ConfigError(f"classifier: needs a fixed (z, y, x) crop input, got {crop}")
        liver_stage.name, lesion_stage.name, classifier.name = "liver_stage", "lesion_stage", "classifier"
        ins = {f"{p}_sequence": keras.Input(tuple(m.input["sequence"].shape[1:]), name=f"{p}_sequence")
               for p, m in (("liver", liver_stage), ("lesion", lesion_stage), ("classifier", classifier))}
        classifier_feed = {"sequence": ins["classifier_sequence"]}
        if "masks" in classifier.input:  # a classifier with lesion_masks: each lesion's mask and the liver's
            ins["classifier_masks"] = classifier_feed["masks"] = keras.Input(
                tuple(classifier.input["masks"].shape[1:]), name="classifier_masks")
        outputs = {"liver_probabilities": liver_stage({"sequence": ins["liver_sequence"]})["probabilities"],
                   "probabilities": lesion_stage({"sequence": ins["lesion_sequence"]})["probabilities"],
                   "class_probabilities": classifier(classifier_feed)["probabilities"]}
        super().__init__(inputs=ins, outputs=outputs, name=name, **kwargs)
        self.liver_stage, self.lesion_stage, self.classifier = liver_stage, lesion_stage, classifier
        if margin_mm is None:
            margin_mm = (lesion_stage.plan.stage.roi or {}).get("margin_mm", 10.0)
        margin = [float(margin_mm)] * 3 if isinstance(margin_mm, (int, float)) else [float(m) for m in margin_mm]
        if len(margin) != 3 or min(margin) < 0:
            raise ConfigError(f"margin_mm: one or three numbers >= 0 (z, y, x), got {margin_mm!r}")
        self.margin_mm = margin
        self.postprocess = self.check_postprocess(postprocess)

    @classmethod
    def check_postprocess(cls, postprocess) -> dict:
        """``postprocess`` as a plain dict of known settings (each a number, ``None`` or, for ``flip_tta``, a bool)."""
        from keras_liver.plans import check_settings

        return check_settings(postprocess, cls.POSTPROCESS_KEYS)

    @property
    def crop_size(self) -> tuple:
        """The classifier's ``(z, y, x)`` lesion crop."""
        return tuple(int(s) for s in self.classifier.input["sequence"].shape[2:5])

    @property
    def class_names(self) -> list:
        """The classifier's class names (index order)."""
        names = getattr(self.classifier, "class_names", None)
        if not names:
            from keras_liver.phantoms import LESION_CLASSES

            names = list(LESION_CLASSES)
        return [str(n) for n in names]

    @property
    def plan(self):
        """The pipeline's `Plan`: stage ``liver`` then stage ``lesion`` (ROI ``liver_box``)."""
        import dataclasses

        from keras_liver.plans import Plan

        liver = dataclasses.replace(self.liver_stage.plan.stage, name="liver", roi=None)
        lesion = dataclasses.replace(self.lesion_stage.plan.stage, name="lesion",
                                     roi={"rule": "liver_box", "from_stage": "liver", "margin_mm": list(self.margin_mm)})
        return Plan(task="dce_segmentation", stages=(liver, lesion),
                    fingerprint={"liver": dict(self.liver_stage.plan.fingerprint or {}),
                                 "lesion": dict(self.lesion_stage.plan.fingerprint or {}),
                                 "classifier": {"crop_size": list(self.crop_size), "class_names": self.class_names,
                                                "lesion_masks": "masks" in self.classifier.input},
                                 "postprocess": dict(self.postprocess)})

    def get_config(self):
        return {"liver_stage": keras.saving.serialize_keras_object(self.liver_stage),
                "lesion_stage": keras.saving.serialize_keras_object(self.lesion_stage),
                "classifier": keras.saving.serialize_keras_object(self.classifier),
                "margin_mm": list(self.margin_mm), "postprocess": dict(self.postprocess), "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        stages = [keras.saving.deserialize_keras_object(config.pop(k))
                  for k in ("liver_stage", "lesion_stage", "classifier")]
        return cls(*stages, **config)
