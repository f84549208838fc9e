"""`TrainConfig`: everything a training run needs, read from YAML or JSON."""

import dataclasses
import json
import pathlib
import types

from keras_liver import tasks
from keras_liver.errors import ConfigError, MissingPathError

SCHEDULES = ("cosine", "plateau", "constant")
INIT_STAGES = (None, "liver", "tumour", "lesion", "classifier")
PRECISIONS = ("auto", True, False, "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class TrainConfig:
    """A training run. Unknown keys in a file are an error, so a typo never passes silently.

    Every setting is checked when the config is made, before any data is
    read: the task (`keras_liver.tasks`), the model and that it belongs to the
    task, the ``model_args`` keys its constructor takes, the loss (one the task
    allows) and its ``loss_args``, schedule, deep-supervision scheme and monitor.

    Attributes:
        task: ``"ct_segmentation"`` (LiTS folder of CT volumes), ``"dce_classification"``
            or ``"dce_segmentation"`` (a ``keras-liver phantoms dce`` folder).
        data: The data folder.
        out_dir: Run directory (created); a second run with the same folder
            resumes from its backup.
        model: Model class name: ``FusedUNet``, ``UNet``, ``DCEClassifier``,
            ``DCESegmenter``, ``SinglePhaseCNN`` or ``CurveLSTM``.
        model_args: Constructor arguments of the model (``input_shape`` is
            filled in from ``patch_size`` or the data when missing).
        val_fraction: Share of cases held out for validation (by case, seeded).
        val_cases: Explicit validation case ids (overrides ``val_fraction``).
        patch_size: CT: ``(z, y, x)`` for 3D models or ``(y, x)`` for 2D.
        series_patch: DCE segmentation: train and validate on random ``(z, y, x)``
            patches of the series (``(y, x)`` slices for a 2D + time model), a share
            ``tumour_fraction`` of them centred on a lesion voxel and ``foreground_fraction`` of the rest on the liver
            (``None``: whole series, where the lesion is under 1 % of the voxels).
            Such a run plans its spacing, window and intensity (``series:baseline``):
            inference slides the patch over the whole series (`segment_series`).
        batch_size: Samples per step (global, over all replicas).
        epochs: Epochs.
        steps_per_epoch: Steps per epoch; ``None``: 50 for CT patches, one pass over the cases for DCE.
        validation_steps: CT and ``series_patch``: validation batches per epoch.
        learning_rate: Initial Adam learning rate.
        schedule: ``"cosine"`` decay to 0 over the run, ``"plateau"``
            (halve when the monitored metric stalls for 3 epochs) or ``"constant"``.
        loss: ``"dice_ce"``, ``"dice"``, ``"focal"``, ``"tversky"`` or ``"cross_entropy"``
            (``None``: the task's default, ``dice_ce`` for segmentation, ``cross_entropy`` for classification).
        loss_args: Loss constructor arguments.
        deep_supervision_scheme: ``"equal"`` or ``"deep_first"`` head weights.
        target_spacing: CT and ``series_patch``: the ``(z, y, x)`` mm cases are resampled to: ``"auto"``
            (default) plans it from the data's spacings (nnU-Net's median rule),
            ``"native"`` (or ``null``) keeps each case's own, three numbers fix it.
            It goes into the model's plan, which inference applies.
        crop_margin_mm: CT and ``series_patch``: crop cases to the liver plus this margin
            (``None``: whole volume); the stage 2 of a cascade.
        tumour_fraction: CT and ``series_patch``: share of tumour-centred patches.
        foreground_fraction: CT and ``series_patch``: share of liver-centred patches among the rest.
        tumour_sampling: CT and ``series_patch``: ``"voxel"`` (a random tumour voxel: large lesions dominate) or
            ``"lesion"`` (a lesion chosen uniformly, then a voxel in it; see `PatchSampler`).
        hard_fraction: CT: share of the non-tumour patches centred on hard negatives, liver
            voxels unlike the liver (vessels; see `PatchSampler`).
        hard_hu: CT: how far (HU, local mean) from the case's median liver a hard negative is.
        outside_fraction: CT and ``series_patch``: share of the remaining patches centred on
            background within ``outside_voxels`` of the liver (`PatchSampler`: the gallbladder,
            bowel and kidney at its border).
        outside_voxels: How far outside the liver those centres may lie (voxels, at least 1).
        mass_fraction: CT phantoms: share of the non-tumour, non-hard-negative patches centred on
            a mass outside the liver (the phantom's tissue map, `PatchSampler`; the data must
            have ``tissue-N`` maps).
        tumour_jitter: CT and ``series_patch``: how far from the patch's centre a tumour draw's
            voxel may lie, as a share of half the patch (0: centred; see `PatchSampler`).
        register_frames: DCE with ``series_patch``: undo each frame's breathing shift before
            training (`load_dce_cases`); the plan records it, so inference aligns the frames too.
        augment: Random augmentation on or off.
        augment_args: Extra `augment_patch` arguments.
        hog_orientations: CT: > 0 feeds a HOG map with this many bins as input ``hog``.
        context_slices: CT with 2D patches: the ``k`` slices on each side of a patch's slice
            as extra ``image`` channels (2.5D; the model input has ``2k + 1`` channels).
        denoise: CT: threshold-denoise every case after resampling (``true``: the defaults of
            `threshold_denoise`, or a mapping of its arguments); the plan carries it, so
            inference denoises the same way.
        val_roi_model: CT or DCE with ``crop_margin_mm``: a stage-1 model (``.keras``) whose predicted
            liver, rather than the true one, gives the validation cases' boxes, as the
            cascade's stage 1 will at inference (training boxes stay the true liver's).
        lesion_crop: DCE: crop every series to this ``(z, y, x)`` box around its largest
            lesion (from the segmentation) before training (``None``: whole series).
        lesion_crop_each: With ``lesion_crop``: one crop per lesion of every series, each
            with its own class (the series' sidecar), as a pipeline classifies every
            predicted lesion; the split stays by series.
        seed: Seed of the split, the patches, the augmentation and the weights.
        mixed_precision: ``"auto"`` (mixed_float16 when a GPU is visible), ``True`` (mixed_float16),
            ``False`` (float32), or a policy name: ``"float32"``, ``"mixed_float16"``,
            ``"mixed_bfloat16"`` (bfloat16 compute; faster on CPUs with AVX512-BF16 or AMX).
        xla: Compile the training step with XLA.
        time_budget_s: Stop after this many seconds of training (``epochs`` is then an upper
            bound); with ``schedule: cosine`` the rate decays over the budget's time instead
            of the steps, so runs of different speed compare at equal time.
        early_stopping_patience: Epochs without improvement before stopping (``None``: never).
        init_from: Start from the weights of a trained model: a preset name
            (``ct_liver_tumour``), a preset folder or a ``.keras`` file (fine-tuning). Without
            ``model_args`` its architecture is taken; with ``target_spacing: auto`` its plan's
            spacing (so the weights see the scale they learned).
        init_stage: Which model of a cascade or pipeline ``init_from`` gives: ``liver``,
            ``tumour`` (or ``lesion``) or ``classifier``; default: the classifier for DCE
            classification, else the second (tumour or lesion) stage.
        monitor: Metric for the best checkpoint and early stopping (default:
            ``val_dice_2`` for segmentation, ``val_macro_f1`` for DCE
            classification); a ``...loss`` is minimised, any other maximised.
        verbose: Keras progress output (1 bar, 2 one line per epoch, 0 none).
    """

    task: str = "ct_segmentation"
    data: str = "data/ct"
    out_dir: str = "runs/ct"
    model: str = "FusedUNet"
    model_args: dict = dataclasses.field(default_factory=dict)
    val_fraction: float = 0.2
    val_cases: list | None = None
    patch_size: list = dataclasses.field(default_factory=lambda: [32, 96, 96])
    series_patch: list | None = None
    batch_size: int = 2
    epochs: int = 10
    steps_per_epoch: int | None = None
    validation_steps: int = 10
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    loss: str | None = None
    loss_args: dict = dataclasses.field(default_factory=dict)
    deep_supervision_scheme: str = "equal"
    target_spacing: list | str | None = "auto"
    crop_margin_mm: float | None = None
    tumour_fraction: float = 0.34
    foreground_fraction: float = 0.5
    tumour_sampling: str = "voxel"
    hard_fraction: float = 0.0
    outside_fraction: float = 0.0
    outside_voxels: int = 4
    mass_fraction: float = 0.0
    tumour_jitter: float = 0.0
    register_frames: bool = False
    hard_hu: float = 25.0
    augment: bool = True
    augment_args: dict = dataclasses.field(default_factory=dict)
    hog_orientations: int = 0
    context_slices: int = 0
    denoise: bool | dict = False
    val_roi_model: str | None = None
    lesion_crop: list | None = None
    lesion_crop_each: bool = False
    seed: int = 0
    mixed_precision: str | bool = "auto"
    xla: bool = False
    time_budget_s: float | None = None
    early_stopping_patience: int | None = None
    init_from: str | None = None
    init_stage: str | None = None
    monitor: str | None = None
    verbose: int = 2

    def __post_init__(self):
        self._check_types()
        if self.init_stage not in INIT_STAGES:
            raise ConfigError(f"init_stage: one of {INIT_STAGES}, got {self.init_stage!r}")
        if self.init_stage is not None and self.init_from is None:
            raise ConfigError("init_stage: needs init_from (the cascade or pipeline to take the stage from)")
        task = tasks.get(self.task)
        self._check_model(task)
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("batch_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.denoise is not False and tasks.get(self.task).data != "ct_folder":
            raise ConfigError(f"denoise: for CT tasks (a LiTS folder) only, got it for task {self.task!r}")
        if float(self.hard_fraction) and tasks.get(self.task).data != "ct_folder":
            raise ConfigError(f"hard_fraction: for CT tasks (a LiTS folder) only, got it for task {self.task!r}")
        from keras_liver.data.patch_sampler import TUMOUR_SAMPLING

        if self.tumour_sampling not in TUMOUR_SAMPLING:
            raise ConfigError(f"tumour_sampling: one of {list(TUMOUR_SAMPLING)}, got {self.tumour_sampling!r}")
        patches = tasks.get(self.task).data == "ct_folder" or self.series_patch is not None
        if self.tumour_sampling != "voxel" and not patches:
            raise ConfigError(f"tumour_sampling: for patch training (CT, or DCE with series_patch) only, got it for "
                              f"task {self.task!r} without series_patch")
        if self.crop_margin_mm is not None and not patches:
            raise ConfigError(f"crop_margin_mm: for patch training (CT, or DCE with series_patch) only, got it for "
                              f"task {self.task!r} without series_patch")
        if float(self.outside_fraction) and not patches:
            raise ConfigError(f"outside_fraction: for patch training (CT, or DCE with series_patch) only, got it for "
                              f"task {self.task!r} without series_patch")
        if not 0 <= float(self.outside_fraction) <= 1 or int(self.outside_voxels) < 1:
            raise ConfigError(f"outside_fraction: a share in [0, 1] and outside_voxels: at least 1, got "
                              f"{self.outside_fraction} and {self.outside_voxels}")
        if not 0 <= float(self.mass_fraction) <= 1:
            raise ConfigError(f"mass_fraction: a share in [0, 1], got {self.mass_fraction}")
        if float(self.mass_fraction) and tasks.get(self.task).data != "ct_folder":
            raise ConfigError(f"mass_fraction: for CT tasks (a LiTS folder of phantoms) only, got it for task "
                              f"{self.task!r}")
        if not 0 <= float(self.tumour_jitter) <= 1:
            raise ConfigError(f"tumour_jitter: a share of half the patch in [0, 1], got {self.tumour_jitter}")
        if float(self.tumour_jitter) and not patches:
            raise ConfigError(f"tumour_jitter: for patch training (CT, or DCE with series_patch) only, got it for "
                              f"task {self.task!r} without series_patch")
        if self.register_frames and (tasks.get(self.task).data == "ct_folder" or self.series_patch is None):
            raise ConfigError(f"register_frames: for DCE training on series patches (series_patch) only, got it for "
                              f"task {self.task!r}" + (" without series_patch" if self.series_patch is None else ""))
        if not 0 <= float(self.hard_fraction) <= 1 or float(self.hard_hu) <= 0:
            raise ConfigError(f"hard_fraction: a share in [0, 1] and hard_hu: HU above 0, got {self.hard_fraction} "
                              f"and {self.hard_hu}")
        if self.val_roi_model is not None and self.crop_margin_mm is None:
            raise ConfigError("val_roi_model: needs crop_margin_mm (it replaces the validation cases' liver boxes)")
        if self.time_budget_s is not None and float(self.time_budget_s) <= 0:
            raise ConfigError(f"time_budget_s: seconds of training, more than 0, got {self.time_budget_s}")
        if self.mixed_precision not in PRECISIONS:
            raise ConfigError(f"mixed_precision: one of {list(PRECISIONS)}, got {self.mixed_precision!r}")
        if not 0 <= float(self.val_fraction) < 1:
            raise ConfigError(f"val_fraction: must be in [0, 1), got {self.val_fraction}")
        if float(self.learning_rate) <= 0:
            raise ConfigError(f"learning_rate: must be positive, got {self.learning_rate}")
        if int(self.context_slices) < 0 or (self.context_slices and (
                tasks.get(self.task).data != "ct_folder" or len(self.patch_size) != 2)):
            raise ConfigError(f"context_slices: a count >= 0 of neighbouring slices for 2D CT patches (y, x), got "
                              f"{self.context_slices} with patch_size {self.patch_size}")
        if self.series_patch is not None:
            dims = int((self.model_args or {}).get("spatial_dims", 3))
            if self.task != "dce_segmentation" or len(self.series_patch) != dims:
                raise ConfigError(f"series_patch: a (z, y, x) size (3D models) or (y, x) (spatial_dims: 2) for "
                                  f"task dce_segmentation only, got {self.series_patch} for task {self.task!r} "
                                  f"with a {dims}D model")
        if self.lesion_crop_each and not self.lesion_crop:
            raise ConfigError("lesion_crop_each: needs lesion_crop (the crop size)")
        self._check_loss(task)
        if self.monitor is None:
            self.monitor = task.default_monitor
        task.check_monitor(self.monitor)

    def _check_types(self) -> None:
        """`ConfigError` naming the first setting whose value has the wrong type (checked before anything else)."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            allowed = field.type.__args__ if isinstance(field.type, types.UnionType) else (field.type,)
            if isinstance(value, tuple) and list in allowed:
                value = list(value)
            elif isinstance(value, pathlib.PurePath) and str in allowed:
                value = str(value)  # Python callers may pass paths
            setattr(self, field.name, value)
            if value is None and type(None) in allowed:
                continue
            if isinstance(value, bool) and bool not in allowed:  # YAML's yes/true is not a number
                ok = False
            else:
                ok = any(isinstance(value, t) or (t is float and isinstance(value, int)) for t in allowed
                         if t is not type(None))
            if not ok:
                names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
                raise ConfigError(f"{field.name}: expected {names}, got {type(value).__name__} {value!r}")
        for name in ("patch_size", "series_patch", "lesion_crop"):
            value = getattr(self, name)
            if value is not None and not (value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                        for v in value)):
                raise ConfigError(f"{name}: a list of positive whole numbers, got {value!r}")
        if isinstance(self.target_spacing, str):
            if self.target_spacing not in ("auto", "native"):
                raise ConfigError(f"target_spacing: 'auto', 'native' or three positive numbers (z, y, x) in mm, got "
                                  f"{self.target_spacing!r}")
        elif self.target_spacing is not None and not (
                len(self.target_spacing) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                      and v > 0 for v in self.target_spacing)):
            raise ConfigError(f"target_spacing: three positive numbers (z, y, x) in mm, got {self.target_spacing!r}")

    @property
    def denoise_args(self) -> dict | None:
        """`threshold_denoise` arguments of ``denoise`` (``None`` when off)."""
        if self.denoise is False:
            return None
        return {} if self.denoise is True else dict(self.denoise)

    def _check_model(self, task) -> None:
        from keras_liver.models import model_class

        if not isinstance(self.model_args, dict):
            raise ConfigError(f"model_args: a mapping of {self.model} arguments, got {type(self.model_args).__name__}")
        cls = model_class(self.model)
        if cls.task != task.name:
            raise ConfigError(f"model: {self.model} is a {cls.task} model; task {task.name} takes one of "
                              f"{sorted(_models_of(task.name))}")
        cls.check_args(self.model_args)

    def _check_loss(self, task) -> None:
        from keras_liver import losses

        if self.loss is None:
            self.loss = task.default_loss
        if self.loss not in task.losses:
            raise ConfigError(f"loss: for task {task.name} one of {list(task.losses)}, got {self.loss!r}")
        if not isinstance(self.loss_args, dict):
            raise ConfigError(f"loss_args: a mapping of loss arguments, got {type(self.loss_args).__name__}")
        losses.get(self.loss, **self.loss_args)
        if self.deep_supervision_scheme not in losses.SCHEMES:
            raise ConfigError(f"deep_supervision_scheme: one of {list(losses.SCHEMES)}, got "
                              f"{self.deep_supervision_scheme!r}")

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "TrainConfig":
        """Build from a dict, refusing unknown keys."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path) -> "TrainConfig":
        """Read a ``.yaml``/``.yml`` or ``.json`` file."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise MissingPathError(f"{path}: no such config file")
        text = path.read_text()
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml and json raise different types
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            reason = " ".join(str(getattr(exc, "problem", None) or exc).split())
            if "python/" in reason:
                reason += " (Python tags are refused: configs are loaded with yaml.safe_load)"
            raise ConfigError(f"{path}: cannot parse ({where}{reason})") from None
        if data is None:
            raise ConfigError(f"{path}: the config is empty; give at least task, data and model")
        return cls.from_dict(data, source=str(path))

    @classmethod
    def coerce(cls, config) -> "TrainConfig":
        """A `TrainConfig` from a `TrainConfig`, a dict or a YAML/JSON path."""
        if isinstance(config, cls):
            return config
        if isinstance(config, dict):
            return cls.from_dict(config)
        return cls.from_file(config)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


def _models_of(task_name: str) -> list:
    from keras_liver import models

    return [n for n in models.__all__ if getattr(getattr(models, n), "task", None) == task_name]
