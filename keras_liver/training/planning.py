"""The plan of a training run: its data's spacings, the spacing it resamples to, its window.

`target_spacing` of a config is ``"auto"`` (default: nnU-Net's rule on the training data's
spacings, `keras_liver.plans.target_spacing_of`), ``"native"`` (each case at its own spacing,
the behaviour before plans) or three numbers.
"""

import logging

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError
from keras_liver.plans import Plan, StagePlan, target_spacing_of
from keras_liver.training.train_config import TrainConfig

logger = logging.getLogger(__name__)


def data_spacings(folder) -> list:
    """``(z, y, x)`` spacing of every case of a LiTS-style folder, read from headers only."""
    from keras_liver.io import find_lits_cases, load_volume
    from keras_liver.io.nifti import is_nifti_path, read_nifti_geometry

    spacings = []
    for case in find_lits_cases(folder):
        if case.label_path is None:
            continue
        if is_nifti_path(case.image_path):
            spacings.append(read_nifti_geometry(case.image_path)[1])
        else:
            spacings.append(load_volume(case.image_path).spacing)
    return spacings


def dce_spacings(folder) -> list:
    """``(z, y, x)`` spacing of every series of a DCE phantom folder, read from headers only."""
    import pathlib

    from keras_liver.data.dce_cases import read_cases_table
    from keras_liver.io.nifti import read_nifti_geometry

    return [read_nifti_geometry(pathlib.Path(folder) / f"dce-{row['case']}.nii.gz")[1]
            for row in read_cases_table(folder)]


def resolve_target_spacing(config: TrainConfig, spacings) -> tuple | None:
    """The spacing the cache resamples to: ``None`` for ``"native"``, else a ``(z, y, x)`` tuple."""
    value = config.target_spacing
    if value is None or value == "native":
        return None
    if value == "auto":
        if not spacings:
            raise ConfigError(f"data: {config.data} holds no labelled case to plan a spacing from")
        return target_spacing_of(spacings)
    return tuple(float(v) for v in value)


def window_of(config: TrainConfig) -> tuple:
    """The training patch as a ``(z, y, x)`` window (2D patches get ``z = 1``; DCE: ``series_patch``)."""
    patch = tuple(int(p) for p in (config.series_patch if config.series_patch is not None else config.patch_size))
    return (1,) + patch if len(patch) == 2 else patch


def make_plan(config: TrainConfig, spacings, target) -> Plan:
    """The plan a CT run (or a DCE run on series patches) stores in its model, ``plan.json`` and exports."""
    task = tasks.get(config.task)
    arr = np.asarray(spacings, dtype=np.float64).reshape(-1, 3)
    fingerprint = {"n_cases": int(len(arr)), "spacing_rule": str(config.target_spacing if isinstance(
        config.target_spacing, str) or config.target_spacing is None else "given")}
    if len(arr):
        fingerprint.update(median_spacing=[round(float(v), 4) for v in np.median(arr, axis=0)],
                           min_spacing=[round(float(v), 4) for v in arr.min(axis=0)],
                           max_spacing=[round(float(v), 4) for v in arr.max(axis=0)])
    if config.register_frames:
        fingerprint["frames"] = "aligned"  # trained on series whose breathing shifts were undone: so is inference
    intensity = config.model_args.get("intensity", "") if isinstance(config.model_args, dict) else ""
    intensity = f"window:{intensity}" if intensity else ""
    if task.modality == "DCE":
        intensity = "series:baseline"  # `baseline_normalize` of the whole series before any crop
    roi = None
    if config.crop_margin_mm is not None:  # trained on liver boxes: it must be given one at inference too
        roi = {"rule": "liver_box", "margin_mm": float(config.crop_margin_mm)}
    stage = StagePlan("liver_tumour", target, window_of(config), labels=task.label_names or (),
                      intensity=intensity, roi=roi,
                      context_slices=int(config.context_slices), denoise=config.denoise_args)
    return Plan(task=task.name, stages=(stage,), fingerprint=fingerprint)
