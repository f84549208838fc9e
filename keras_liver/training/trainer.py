"""`train(config) -> run_dir`: one training run with `keras.Model.fit`."""

import json
import logging
import math
import os
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from keras_liver import losses, metrics
from keras_liver.errors import ConfigError
from keras_liver.io.atomic import write_text_atomic
from keras_liver.training.callbacks import MetricAliases
from keras_liver.training.train_config import TrainConfig

logger = logging.getLogger(__name__)


def split_cases(ids, val_fraction: float, seed: int, val_cases=None, strata=None):
    """``(train_ids, val_ids)``: a seeded split by case (stratified when ``strata`` are given)."""
    ids = [str(i) for i in ids]
    if val_cases is not None:
        val = [str(v) for v in val_cases]
        missing = sorted(set(val) - set(ids))
        if missing:
            raise ConfigError(f"val_cases: {missing} are not in the data")
        return [i for i in ids if i not in val], val
    rng = np.random.default_rng(seed)
    groups = {}
    for i, s in zip(ids, strata if strata is not None else [0] * len(ids)):
        groups.setdefault(s, []).append(i)
    val = []
    for members in groups.values():
        members = list(rng.permutation(members))
        k = int(round(val_fraction * len(members)))
        if val_fraction > 0 and len(ids) > 1:
            k = max(k, 1) if len(members) > 1 else k
        val += members[:k]
    train = [i for i in ids if i not in set(val)]
    if not train:
        raise ConfigError("val_fraction leaves no training case")
    return train, val


def _precision_policy(setting) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if setting == "auto":
        return "mixed_float16" if gpus else "float32"
    return "mixed_float16" if setting is True or setting == "mixed_float16" else "float32"


def _strategy():
    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def _build_model(config: TrainConfig, input_shape, extra=None):
    from keras_liver import models

    args = dict(config.model_args)
    args.setdefault("input_shape", list(input_shape))
    if extra:
        args.setdefault("extra_inputs", extra)
    return getattr(models, config.model)(**args)


def build_data(config: TrainConfig, run_dir: pathlib.Path):
    """Datasets, steps and the model's input settings for a config.

    Returns:
        dict with ``train``, ``val``, ``steps``, ``val_steps``, ``input_shape``,
        ``extra``, ``class_names``, ``split``.
    """
    from keras_liver import data

    if config.task == "ct_segmentation":
        store = data.build_ct_cache(config.data, run_dir / "cache.h5", target_spacing=config.target_spacing,
                                    crop_margin_mm=config.crop_margin_mm)
        ids, images, labels = data.load_store(store)
        train_ids, val_ids = split_cases(ids, config.val_fraction, config.seed, config.val_cases)
        pick = lambda wanted: ([images[ids.index(i)] for i in wanted], [labels[ids.index(i)] for i in wanted])  # noqa
        patch = tuple(int(p) for p in config.patch_size)
        sampler = data.PatchSampler(*pick(train_ids), patch, tumour_fraction=config.tumour_fraction,
                                    foreground_fraction=config.foreground_fraction, seed=config.seed)
        keys = _output_keys(config)
        common = dict(output_keys=keys, hog_orientations=config.hog_orientations)
        train = data.patch_dataset(sampler, config.batch_size, seed=config.seed, augment=config.augment,
                                   augment_options=config.augment_args, **common)
        val = None
        if val_ids:
            val_sampler = data.PatchSampler(*pick(val_ids), patch, tumour_fraction=config.tumour_fraction,
                                            foreground_fraction=config.foreground_fraction, seed=config.seed + 1)
            val = data.patch_dataset(val_sampler, config.batch_size, seed=config.seed + 1, augment=False,
                                     count=config.validation_steps * config.batch_size, **common).cache()
        extra = {"hog": config.hog_orientations} if config.hog_orientations else None
        return {"train": train, "val": val, "steps": config.steps_per_epoch or 50,
                "val_steps": config.validation_steps if val is not None else None,
                "input_shape": (None,) * len(patch) + (1,), "extra": extra, "class_names": None,
                "split": {"train": train_ids, "val": val_ids}}

    ids, series, seg, classes, names = data.load_dce_folder(config.data)
    if config.lesion_crop:
        crops = [data.lesion_crop(s, lab, tuple(int(v) for v in config.lesion_crop)) for s, lab in zip(series, seg)]
        series, seg = np.stack([c[0] for c in crops]), np.stack([c[1] for c in crops])
    strata = classes if config.task == "dce_classification" else None
    train_ids, val_ids = split_cases(ids, config.val_fraction, config.seed, config.val_cases, strata)
    tr = np.array([ids.index(i) for i in train_ids])
    va = np.array([ids.index(i) for i in val_ids], dtype=int)
    targets = classes if config.task == "dce_classification" else seg
    curves = None
    input_shape = (None,) + series.shape[2:] + (1,)
    if config.model == "CurveLSTM":
        from keras_liver.features import time_intensity_curves

        curves = np.stack([time_intensity_curves(s, lab) for s, lab in zip(series, seg)])
        input_shape = (None, curves.shape[-1])
    steps = config.steps_per_epoch or math.ceil(len(tr) / config.batch_size)
    keys = ("probabilities", "label") if config.task == "dce_classification" else ("probabilities", "mask")
    if config.series_patch is not None:
        return _series_patch_data(config, series, seg, tr, va, steps, keys, {"train": train_ids, "val": val_ids})
    train = data.dce_dataset(series[tr], targets[tr], config.batch_size, seed=config.seed, augment=config.augment,
                             target_keys=keys,
                             epochs_hint=config.epochs * max(1, math.ceil(steps * config.batch_size / len(tr))) + 1,
                             curves=None if curves is None else curves[tr])
    val = None
    if len(va):
        val = data.dce_dataset(series[va], targets[va], config.batch_size, shuffle=False, augment=False,
                               target_keys=keys, curves=None if curves is None else curves[va]).cache()
    return {"train": train, "val": val, "steps": steps, "val_steps": None, "input_shape": input_shape,
            "extra": None, "class_names": names if config.task == "dce_classification" else None,
            "split": {"train": train_ids, "val": val_ids}}


def _series_patch_data(config, series, seg, tr, va, steps, keys, split):
    """DCE segmentation on lesion-oversampled ``(t, *series_patch)`` patches (`PatchSampler` over series)."""
    from keras_liver import data

    patch = tuple(int(p) for p in config.series_patch)
    if any(p > n for p, n in zip(patch, series.shape[2:])):
        raise ConfigError(f"series_patch: {list(patch)} is larger than the series' (z, y, x) {series.shape[2:]}")
    options = dict(tumour_fraction=config.tumour_fraction, foreground_fraction=config.foreground_fraction)
    sampler = data.PatchSampler(list(series[tr]), list(seg[tr]), patch, seed=config.seed, **options)
    train = data.patch_dataset(sampler, config.batch_size, seed=config.seed, augment=config.augment,
                               output_keys=keys)
    val = None
    if len(va):
        val_sampler = data.PatchSampler(list(series[va]), list(seg[va]), patch, seed=config.seed + 1, **options)
        val = data.patch_dataset(val_sampler, config.batch_size, seed=config.seed + 1, augment=False,
                                 count=config.validation_steps * config.batch_size, output_keys=keys).cache()
    return {"train": train, "val": val, "steps": steps, "val_steps": config.validation_steps if val is not None else None,
            "input_shape": (series.shape[1],) + patch + (1,), "extra": None, "class_names": None, "split": split,
            "full_shape": series.shape[1:] + (1,)}


def _output_keys(config: TrainConfig):
    if config.model == "FusedUNet" and config.model_args.get("deep_supervision"):
        depth = int(config.model_args.get("depth", 4))
        return ["probabilities"] + [f"head_{j}" for j in range(1, depth + 1)]
    return ["probabilities"]


def compile_model(model, config: TrainConfig, steps_per_epoch: int, num_classes: int):
    """Adam with the configured schedule, the loss(es) and the metrics."""
    total = max(1, config.epochs * steps_per_epoch)
    lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, total) if config.schedule == "cosine" \
        else config.learning_rate
    optimizer = keras.optimizers.Adam(lr)
    if config.task == "dce_classification":
        loss = {"probabilities": losses.get("cross_entropy", **config.loss_args)}
        found = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), metrics.MacroF1(num_classes),
                 metrics.MacroAUC(num_classes)]
        model.compile(optimizer=optimizer, loss=loss, metrics={"probabilities": found}, jit_compile=config.xla)
        return model
    seg_metrics = [metrics.SegmentationScore(1, "dice", name="dice_1"), metrics.SegmentationScore(2, "dice",
                                                                                                   name="dice_2"),
                   metrics.SegmentationScore(2, "precision", name="precision_2"),
                   metrics.SegmentationScore(2, "recall", name="recall_2")]
    keys = _output_keys(config) if config.task == "ct_segmentation" else ["probabilities"]
    heads = [k for k in keys if k.startswith("head_")]
    if heads:
        weights = losses.deep_supervision_weights(len(heads), config.deep_supervision_scheme)
        loss = {k: losses.get(config.loss, **config.loss_args) for k in heads}
        model.compile(optimizer=optimizer, loss=loss, loss_weights=weights,
                      metrics={"probabilities": seg_metrics}, jit_compile=config.xla)
    else:
        model.compile(optimizer=optimizer, loss={"probabilities": losses.get(config.loss, **config.loss_args)},
                      metrics={"probabilities": seg_metrics}, jit_compile=config.xla)
    return model


def _rebuild_for_series(model, run_dir, full_shape):
    """A patch-trained DCE model (and ``best.keras``) rebuilt for whole series."""
    from keras_liver.models import load_model, with_input_shape

    best = run_dir / "best.keras"
    if best.is_file():
        save_model_atomic(with_input_shape(load_model(best, compile=False), full_shape), best)
    return with_input_shape(model, full_shape)


def save_model_atomic(model, path) -> pathlib.Path:
    """``model.save`` to a temporary name, then rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


def train(config: TrainConfig | dict | str, callbacks=None) -> pathlib.Path:
    """Train one model; a rerun with the same ``out_dir`` resumes from the last finished epoch.

    The run directory holds ``config.json`` (resolved), ``split.json``,
    ``history.csv``, ``curves.png`` (loss and accuracy/Dice per epoch),
    ``logs/`` (TensorBoard), ``backup/`` (while running), ``best.keras``
    (best ``monitor`` so far), ``model.keras`` (final) and ``summary.json``.

    Args:
        config: A `TrainConfig`, a dict, or a YAML/JSON path.
        callbacks: Extra Keras callbacks.

    Returns:
        The run directory.
    """
    config = TrainConfig.coerce(config)
    run_dir = pathlib.Path(config.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    keras.utils.set_random_seed(config.seed)
    policy = _precision_policy(config.mixed_precision)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    started = time.time()
    try:
        found = build_data(config, run_dir)
        write_text_atomic(run_dir / "split.json", json.dumps(found["split"], indent=1) + "\n")
        with _strategy().scope():
            model = _build_model(config, found["input_shape"], found["extra"])
            if found["class_names"] is not None and hasattr(model, "class_names") and model.class_names is None:
                model.class_names = list(found["class_names"])
            compile_model(model, config, found["steps"], getattr(model, "num_classes", 3))
        monitor = config.monitor if found["val"] is not None else config.monitor.replace("val_", "", 1)
        cbs = [MetricAliases(),
               keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
               keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor, mode="max",
                                               save_best_only=True),
               keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
               keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
               keras.callbacks.TerminateOnNaN()]
        if config.schedule == "plateau":
            cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max", factor=0.5, patience=3))
        if config.early_stopping_patience is not None:
            cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, mode="max",
                                                     patience=int(config.early_stopping_patience),
                                                     restore_best_weights=False))
        cbs += list(callbacks or [])
        logger.info("training %s (%s) in %s, policy %s", config.model, config.task, run_dir, policy)
        history = model.fit(found["train"], steps_per_epoch=found["steps"], epochs=config.epochs,
                            validation_data=found["val"], validation_steps=found["val_steps"], callbacks=cbs,
                            verbose=config.verbose)
        if found.get("full_shape") is not None:
            model = _rebuild_for_series(model, run_dir, found["full_shape"])
        save_model_atomic(model, run_dir / "model.keras")
        from keras_liver.evaluation.reports import training_curves_figure

        training_curves_figure(run_dir / "history.csv", run_dir / "curves.png", f"{config.model}, {config.task}")
        summary = {"seconds": round(time.time() - started, 1), "epochs_run": len(history.epoch),
                   "params": int(model.count_params()), "policy": policy, "monitor": monitor,
                   "last": {k: float(v[-1]) for k, v in history.history.items() if v},
                   "best": {k: float(max(v)) for k, v in history.history.items() if v and "loss" not in k}}
        write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    finally:
        keras.config.set_dtype_policy(previous)
    return run_dir
