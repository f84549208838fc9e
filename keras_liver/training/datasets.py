"""`build_data`: the tf.data pipelines, split and input settings of a `TrainConfig`."""

import logging
import math
import pathlib

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError
from keras_liver.models import model_class
from keras_liver.training.model_setup import output_keys
from keras_liver.training.splits import split_cases
from keras_liver.training.train_config import TrainConfig

logger = logging.getLogger(__name__)


def ct_patch_samplers(config: TrainConfig, cache_path) -> dict:
    """The CT case cache and seeded patch samplers of a ``ct_folder`` task (shared by `train` and multi-worker).

    Args:
        config: The training config.
        cache_path: HDF5 case cache to build (or reuse) from ``config.data``.

    Returns:
        ``{"train": PatchSampler, "val": PatchSampler | None, "split": {"train": ids, "val": ids}, "plan": Plan}``.
    """
    from keras_liver import data
    from keras_liver.training.planning import data_spacings, make_plan, resolve_target_spacing

    spacings = data_spacings(config.data)
    target = resolve_target_spacing(config, spacings)
    roi = _val_roi(config) if config.val_roi_model else {}
    remap = (config.augment_args or {}).get("tissue_remap") is not None  # per-tissue randomisation
    tissue = remap or bool(float(config.mass_fraction))  # mass-centred draws read the tissue maps too
    store = data.build_ct_cache(config.data, pathlib.Path(cache_path), target_spacing=target,
                                crop_margin_mm=config.crop_margin_mm, denoise=config.denoise_args, tissue=tissue,
                                **roi)
    ids, images, labels, *tissues = data.load_store(store, tissue=tissue)
    train_ids, val_ids = split_cases(ids, config.val_fraction, config.seed, config.val_cases)
    patch = tuple(int(p) for p in config.patch_size)
    options = dict(tumour_fraction=config.tumour_fraction, foreground_fraction=config.foreground_fraction,
                   context_slices=config.context_slices, hard_fraction=config.hard_fraction, hard_hu=config.hard_hu,
                   tumour_sampling=config.tumour_sampling, outside_fraction=config.outside_fraction,
                   outside_voxels=config.outside_voxels, tumour_jitter=config.tumour_jitter)

    def sampler(wanted, seed, training=False):
        maps = [tissues[0][ids.index(i)] for i in wanted] if training and remap else None
        masses = None
        if training and float(config.mass_fraction):
            from keras_liver.phantoms.anatomy import Tissue

            masses = [tissues[0][ids.index(i)] == Tissue.MASS for i in wanted]
        return data.PatchSampler([images[ids.index(i)] for i in wanted], [labels[ids.index(i)] for i in wanted],
                                 patch, seed=seed, tissues=maps, masses=masses,
                                 mass_fraction=config.mass_fraction if training else 0.0, **options)

    return {"train": sampler(train_ids, config.seed, training=True),
            "val": sampler(val_ids, config.seed + 1) if val_ids else None,
            "split": {"train": train_ids, "val": val_ids}, "plan": make_plan(config, spacings, target)}


def _val_roi(config: TrainConfig) -> dict:
    """`build_ct_cache` arguments that crop the validation cases at ``val_roi_model``'s predicted liver."""
    from keras_liver.errors import MissingPathError
    from keras_liver.io import find_lits_cases

    path = pathlib.Path(config.val_roi_model)
    if not path.is_file():
        raise MissingPathError(f"val_roi_model: {path}: no such model file")
    ids = [str(c.case_id) for c in find_lits_cases(config.data)]
    _, val_ids = split_cases(ids, config.val_fraction, config.seed, config.val_cases)
    model = None

    def mask_of(case_id, image):
        nonlocal model
        if case_id not in val_ids:
            return None
        from keras_liver.inference import predict_volume
        from keras_liver.models import load_model

        model = model or load_model(path, compile=False)
        liver = predict_volume(model, image).array > 0
        if not liver.any():
            logger.warning("val_roi_model found no liver in case %s; its true liver box is "
                                                "used", case_id)
            return None
        return liver

    return {"roi_masks": mask_of, "roi_source": f"{path.resolve()}@{path.stat().st_mtime_ns}"}


def build_data(config: TrainConfig, run_dir: pathlib.Path) -> dict:
    """Datasets, steps and the model's input settings for a config.

    Returns:
        dict with ``train``, ``val``, ``steps``, ``val_steps``, ``input_shape``,
        ``extra``, ``class_names``, ``split`` (and ``plan`` for CT and DCE series patches).
    """
    if tasks.get(config.task).data == "ct_folder":
        return _ct_data(config, run_dir)
    return _dce_data(config)


def _ct_data(config, run_dir):
    from keras_liver import data

    samplers = ct_patch_samplers(config, pathlib.Path(run_dir) / "cache.h5")
    common = dict(output_keys=output_keys(config), hog_orientations=config.hog_orientations)
    train = data.patch_dataset(samplers["train"], config.batch_size, seed=config.seed, augment=config.augment,
                               augment_options=config.augment_args, **common)
    val = None
    if samplers["val"] is not None:
        val = data.patch_dataset(samplers["val"], config.batch_size, seed=config.seed + 1, augment=False,
                                 count=config.validation_steps * config.batch_size, **common).cache()
    extra = {"hog": config.hog_orientations} if config.hog_orientations else None
    return {"train": train, "val": val, "steps": config.steps_per_epoch or 50,
            "val_steps": config.validation_steps if val is not None else None,
            "input_shape": (None,) * len(config.patch_size) + (2 * config.context_slices + 1,), "extra": extra, "class_names": None,
            "split": samplers["split"], "plan": samplers["plan"]}


def _dce_data(config):
    from keras_liver import data

    task = tasks.get(config.task)
    if config.series_patch is not None:
        return _series_patch_data(config, task)
    owner = None  # the series of each sample, when a series gives several (one crop per lesion)
    masks = None  # a DCEClassifier with lesion_masks takes each lesion's own mask and the liver's
    wants_masks = bool((config.model_args or {}).get("lesion_masks"))
    if wants_masks and not (config.lesion_crop and config.lesion_crop_each):
        raise ConfigError("model_args.lesion_masks: needs lesion_crop and lesion_crop_each (one crop per lesion)")
    if config.lesion_crop and config.lesion_crop_each:
        crops = data.load_lesion_crops(config.data, config.lesion_crop)
        masks = crops["masks"] if wants_masks else None
        ids, classes, names = crops["case_ids"], crops["case_classes"], crops["class_names"]
        series, seg, owner = crops["series"], crops["labels"], crops["cases"]
    elif config.lesion_crop:  # crop each series as it is read: 500 whole series would need 8.4 GB
        size = tuple(int(v) for v in config.lesion_crop)
        cases = data.load_dce_cases(config.data, normalize=False, index_lesion_only=True,
                                    transform=lambda s, lab: data.lesion_crop(s, lab, size))
        ids, classes, names = cases["ids"], cases["classes"], cases["class_names"]
        series, seg = np.stack(cases["series"]), np.stack(cases["labels"])
    else:
        ids, series, seg, classes, names = data.load_dce_folder(config.data)
    strata = classes if task.stratified_split else None
    train_ids, val_ids = split_cases(ids, config.val_fraction, config.seed, config.val_cases, strata)
    if owner is None:
        tr = np.array([ids.index(i) for i in train_ids])
        va = np.array([ids.index(i) for i in val_ids], dtype=int)
    else:  # split by series, then every lesion of a series goes where its series goes
        chosen, held = set(train_ids), set(val_ids)
        tr = np.array([k for k, case in enumerate(owner) if case in chosen])
        va = np.array([k for k, case in enumerate(owner) if case in held], dtype=int)
        classes = crops["classes"]
    targets = seg if task.is_segmentation else classes
    keys = output_keys(config)
    steps = config.steps_per_epoch or math.ceil(len(tr) / config.batch_size)
    split = {"train": train_ids, "val": val_ids}
    curves = None
    input_shape = (None,) + series.shape[2:] + (1,)
    if model_class(config.model).input_name() == "curves":
        from keras_liver.features import time_intensity_curves

        curves = np.stack([time_intensity_curves(s, lab) for s, lab in zip(series, seg)])
        input_shape = (None, curves.shape[-1])
    train = data.dce_dataset(series[tr], targets[tr], config.batch_size, seed=config.seed, augment=config.augment,
                             target_keys=keys,
                             epochs_hint=config.epochs * max(1, math.ceil(steps * config.batch_size / len(tr))) + 1,
                             curves=None if curves is None else curves[tr], masks=None if masks is None else masks[tr])
    val = None
    if len(va):
        val = data.dce_dataset(series[va], targets[va], config.batch_size, shuffle=False, augment=False,
                               target_keys=keys, curves=None if curves is None else curves[va],
                               masks=None if masks is None else masks[va]).cache()
    return {"train": train, "val": val, "steps": steps, "val_steps": None, "input_shape": input_shape,
            "extra": None, "class_names": None if task.is_segmentation else names, "split": split}


def _dce_val_roi(config: TrainConfig, val_ids: set):
    """``roi_masks`` for `load_dce_cases`: the validation series' liver from ``val_roi_model`` (a DCE stage 1)."""
    from keras_liver.errors import MissingPathError
    from keras_liver.inference import segment_series
    from keras_liver.preprocess.roi import largest_component
    from keras_liver.models import load_model

    path = pathlib.Path(config.val_roi_model)
    if not path.is_file():
        raise MissingPathError(f"val_roi_model: {path}: no such model file")
    model = load_model(path, compile=False)
    if tasks.task_of(model).name != "dce_segmentation" or getattr(model, "plan", None) is None:
        raise ConfigError(f"val_roi_model: {path} is not a DCE stage-1 model with a plan")

    def mask_of(case_id, series):
        if case_id not in val_ids:
            return None
        liver = largest_component(segment_series(model, series).array > 0, connectivity=3)
        if not liver.any():
            logger.warning("val_roi_model found no liver in series %s; its true liver box is used", case_id)
            return None
        return liver

    return mask_of


def _series_patch_data(config, task):
    """DCE segmentation on lesion-oversampled ``(t, *series_patch)`` patches (`PatchSampler` over series).

    Every series is normalised by its pre-contrast frame (`baseline_normalize`), resampled to
    the config's target spacing and, with ``crop_margin_mm``, cropped to its liver box (a
    cascade's stage 2), one at a time (`load_dce_cases`). The plan records all three, so
    inference prepares a series the same way.
    """
    from keras_liver import data
    from keras_liver.data.dce_cases import read_cases_table
    from keras_liver.training.planning import dce_spacings, make_plan, resolve_target_spacing

    patch = tuple(int(p) for p in config.series_patch)
    filters = (config.model_args or {}).get("filters", (16, 32, 64))
    multiple = 2 ** (len(filters) - 1)
    if any(p % multiple for p in patch):
        raise ConfigError(f"series_patch: {list(patch)}: each size must be a multiple of {multiple} (the "
                          f"{len(filters)} levels of filters {list(filters)} halve it {len(filters) - 1} times)")
    spacings = dce_spacings(config.data)
    target = resolve_target_spacing(config, spacings)
    all_ids = [row["case"] for row in read_cases_table(config.data)]
    train_ids, val_ids = split_cases(all_ids, config.val_fraction, config.seed, config.val_cases)
    roi = _dce_val_roi(config, set(val_ids)) if config.val_roi_model else None
    cases = data.load_dce_cases(config.data, target_spacing=target, crop_margin_mm=config.crop_margin_mm,
                                roi_masks=roi, register_frames=config.register_frames)
    ids, series, seg = cases["ids"], cases["series"], cases["labels"]
    options = dict(tumour_fraction=config.tumour_fraction, foreground_fraction=config.foreground_fraction,
                   tumour_sampling=config.tumour_sampling, outside_fraction=config.outside_fraction,
                   outside_voxels=config.outside_voxels, tumour_jitter=config.tumour_jitter)
    keys = output_keys(config)

    def sampler(wanted, seed):
        return data.PatchSampler([series[ids.index(i)] for i in wanted], [seg[ids.index(i)] for i in wanted],
                                 patch, seed=seed, **options)

    train = data.patch_dataset(sampler(train_ids, config.seed), config.batch_size, seed=config.seed,
                               augment=config.augment, output_keys=keys)
    val = None
    if val_ids:
        val = data.patch_dataset(sampler(val_ids, config.seed + 1), config.batch_size, seed=config.seed + 1,
                                 augment=False, count=config.validation_steps * config.batch_size,
                                 output_keys=keys).cache()
    frames = series[0].shape[0]
    return {"train": train, "val": val, "steps": config.steps_per_epoch or 50,
            "val_steps": config.validation_steps if val is not None else None,
            "input_shape": (frames,) + patch + (1,), "extra": None, "class_names": None,
            "split": {"train": train_ids, "val": val_ids}, "plan": make_plan(config, spacings, target)}
