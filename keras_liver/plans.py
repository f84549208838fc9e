"""`Plan`: how a model expects its input, carried with the model wherever it goes.

nnU-Net's idea (Isensee et al., Nature Methods 2021): a training run derives from the
data-set fingerprint and its config the spacing to resample to, the window, the intensity
handling and the labels, and inference applies exactly that. Here the plan travels inside
the saved ``.keras`` model (its config), in the run folder (``plan.json``), in an export's
``metadata.json`` and behind the SavedModel's ``plan`` signature, so a client that knows
only a server address and a model name resamples correctly.

A plan has one `StagePlan` per stage (one for a plain model; a cascade has more, each with
the rule that chooses its region). This module is TensorFlow-free.

Example:
    >>> plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", (3.0, 0.8, 0.8), (1, 128, 128)),))
    >>> Plan.from_json(plan.to_json()) == plan
    True
"""

import dataclasses
import json
import logging

import numpy as np

from keras_liver.errors import ConfigError, FileFormatError

logger = logging.getLogger(__name__)

FORMAT = 1
ANISOTROPY_RATIO = 3.0
ROI_RULES = ("liver_box",)


def target_spacing_of(spacings) -> tuple:
    """The spacing to resample a data set to: nnU-Net's rule on its cases' ``(z, y, x)`` spacings.

    The median spacing per axis; when the coarsest axis of the median is more than
    three times the finest (thick-slice CT), that axis takes the 10th percentile of its
    spacings instead, but never finer than the other axes.
    """
    spacings = np.asarray(spacings, dtype=np.float64).reshape(-1, 3)
    if not len(spacings) or not np.all(np.isfinite(spacings)) or np.any(spacings <= 0):
        raise ConfigError(f"spacings: need one or more positive (z, y, x) spacings, got {spacings.tolist()}")
    target = np.median(spacings, axis=0)
    worst = int(np.argmax(target))
    if target[worst] > ANISOTROPY_RATIO * target.min():
        others = np.delete(target, worst)
        target[worst] = max(np.percentile(spacings[:, worst], 10), others.max())
    return tuple(round(float(v), 4) for v in target)


def check_settings(settings, kinds: dict, what: str = "postprocess") -> dict:
    """Inference settings chosen for a model (nnU-Net keeps its post-processing beside the model) as a plain dict.

    Args:
        settings: ``None`` or a dict of settings.
        kinds: Known setting names, each ``float`` (a number >= 0 or ``None``: the step off) or ``bool``.
        what: The name in error messages.

    Raises:
        ConfigError: ``settings`` is not a dict, names an unknown setting, or a value of the wrong kind.
    """
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{what}: a dict of inference settings, got {type(settings).__name__}")
    out = {}
    for key, value in settings.items():
        kind = kinds.get(key)
        if kind is None:
            raise ConfigError(f"{what}: unknown setting {key!r}; known: {', '.join(sorted(kinds))}")
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{what}: {key} must be true or false, got {value!r}")
            out[key] = value
        elif value is None:
            out[key] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(f"{what}: {key} must be a number >= 0 or null, got {value!r}")
        else:
            out[key] = float(value)
    return out


def _triple(value, what, integer=False, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        out = tuple((int(v) if integer else float(v)) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"plan: {what} must be three numbers (z, y, x), got {value!r}") from None
    if len(out) != 3 or not all(np.isfinite(out)) or min(out) <= 0:
        raise ConfigError(f"plan: {what} must be three positive numbers (z, y, x), got {value!r}")
    return out


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """One stage: the grid it works on, its window, and the region it sees.

    Args:
        name: The stage's name (``liver_tumour``; a cascade's ``liver`` and ``tumour``).
        target_spacing: ``(z, y, x)`` mm the input is resampled to; ``None`` keeps
            each scan's own spacing (models trained before plans existed).
        patch_size: Sliding window ``(z, y, x)``; ``(1, y, x)`` for 2D models.
        overlap: Window overlap used at inference.
        labels: Label names by value.
        intensity: How intensities are handled (in the graph: e.g. ``"window:abdomen"``).
        roi: ``None`` (whole volume) or the rule choosing the region, e.g.
            ``{"rule": "liver_box", "from_stage": "liver", "margin_mm": [10, 15, 15]}``.
        context_slices: Neighbouring slices on each side given as channels (2.5D).
        denoise: ``None``, or the `keras_liver.preprocess.threshold_denoise` arguments
            (``{}``: its defaults) applied to the resampled input before the model.
    """

    name: str
    target_spacing: tuple | None
    patch_size: tuple
    overlap: float = 0.5
    labels: tuple = ("background", "liver", "tumour")
    intensity: str = ""
    roi: dict | None = None
    context_slices: int = 0
    denoise: dict | None = None

    def __post_init__(self):
        object.__setattr__(self, "target_spacing", _triple(self.target_spacing, f"{self.name}.target_spacing",
                                                           allow_none=True))
        object.__setattr__(self, "patch_size", _triple(self.patch_size, f"{self.name}.patch_size", integer=True))
        object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))
        if not 0 <= float(self.overlap) < 1:
            raise ConfigError(f"plan: {self.name}.overlap must be in [0, 1), got {self.overlap!r}")
        if self.roi is not None:
            if not isinstance(self.roi, dict) or self.roi.get("rule") not in ROI_RULES:
                raise ConfigError(f"plan: {self.name}.roi must be None or a dict with rule in {ROI_RULES}, "
                                  f"got {self.roi!r}")
            object.__setattr__(self, "roi", dict(self.roi))
        if isinstance(self.context_slices, bool) or int(self.context_slices) < 0:
            raise ConfigError(f"plan: {self.name}.context_slices must be a count >= 0, got {self.context_slices!r}")
        if self.denoise is not None:
            if not isinstance(self.denoise, dict):
                raise ConfigError(f"plan: {self.name}.denoise must be None or a dict of threshold_denoise arguments, "
                                  f"got {self.denoise!r}")
            object.__setattr__(self, "denoise", dict(self.denoise))

    def inference_options(self) -> dict:
        """The `segment_with_predictor` arguments this stage fixes (grid, window, overlap, inputs)."""
        return {"patch_size": self.patch_size, "target_spacing": self.target_spacing, "overlap": self.overlap,
                "context_slices": self.context_slices, "denoise": self.denoise}

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key in ("target_spacing", "patch_size", "labels"):
            out[key] = None if out[key] is None else list(out[key])
        return out


@dataclasses.dataclass(frozen=True)
class Plan:
    """The stages of a model and the data they were planned from.

    Args:
        task: The `keras_liver.tasks` name.
        stages: One `StagePlan` per stage, in the order they run.
        fingerprint: What the plan was derived from (number of cases, median and
            range of their spacings); informative only.
        source: Who made the plan (``"trained"``, ``"legacy"`` for a model saved
            without one, ``"override"`` when a user's ``--spacing``/``--patch`` changed it).
    """

    task: str
    stages: tuple
    fingerprint: dict = dataclasses.field(default_factory=dict)
    source: str = "trained"

    def __post_init__(self):
        stages = tuple(s if isinstance(s, StagePlan) else StagePlan(**s) for s in self.stages)
        if not stages:
            raise ConfigError("plan: needs at least one stage")
        object.__setattr__(self, "stages", stages)
        object.__setattr__(self, "fingerprint", dict(self.fingerprint or {}))

    def __eq__(self, other):
        return isinstance(other, Plan) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(self.to_json())

    @property
    def stage(self) -> StagePlan:
        """The last (finest) stage, the one a single-stage model runs."""
        return self.stages[-1]

    def with_overrides(self, *, spacing=None, patch_size=None) -> "Plan":
        """This plan with the last stage's spacing and/or window replaced (a user's ``--spacing``/``--patch``)."""
        if spacing is None and patch_size is None:
            return self
        stage = dataclasses.replace(self.stage, target_spacing=spacing or self.stage.target_spacing,
                                    patch_size=patch_size or self.stage.patch_size)
        return dataclasses.replace(self, stages=self.stages[:-1] + (stage,), source="override")

    def to_dict(self) -> dict:
        return {"format": FORMAT, "task": self.task, "source": self.source, "fingerprint": self.fingerprint,
                "stages": [s.to_dict() for s in self.stages]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data, source: str = "plan") -> "Plan":
        """Parse and check a plan dict (`FileFormatError` naming ``source`` when it is not one)."""
        if not isinstance(data, dict) or "stages" not in data or "task" not in data:
            raise FileFormatError(f"{source}: not a keras-liver plan (needs task and stages)")
        if int(data.get("format", FORMAT)) > FORMAT:
            raise FileFormatError(f"{source}: plan format {data['format']} is newer than this keras-liver "
                                  f"understands ({FORMAT}); upgrade keras-liver")
        try:
            return cls(task=str(data["task"]), stages=tuple(data["stages"]),
                       fingerprint=data.get("fingerprint") or {}, source=str(data.get("source", "trained")))
        except (TypeError, ConfigError) as exc:
            raise FileFormatError(f"{source}: invalid plan ({exc})") from None

    @classmethod
    def from_json(cls, text, source: str = "plan") -> "Plan":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise FileFormatError(f"{source}: plan is not JSON ({exc})") from None
        return cls.from_dict(data, source)


def legacy_plan(task: str, patch_size, source_name: str = "model") -> Plan:
    """The plan of a model saved before plans existed: each scan's own spacing, one warning line."""
    logger.warning("%s has no plan (saved before keras-liver 0.3): predicting at each scan's own spacing; give "
                   "--spacing Z,Y,X (the training spacing) for scans of another resolution", source_name)
    return Plan(task=task, stages=(StagePlan("liver_tumour", None, tuple(patch_size)),), source="legacy")
