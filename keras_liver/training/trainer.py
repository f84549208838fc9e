"""`train(config) -> run_dir`: one training run with `keras.Model.fit`."""

import json
import logging
import pathlib
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from keras_liver import losses, metrics, tasks
from keras_liver.io.atomic import write_text_atomic
from keras_liver.models import save_model
from keras_liver.errors import TrainingDivergedError
from keras_liver.training.callbacks import Diverged, MetricAliases, StopOnNonFinite, TimeBudget
from keras_liver.training.datasets import build_data
from keras_liver.training.init_from import adopt_source, copy_weights, init_source
from keras_liver.training.model_setup import build_model, output_keys
from keras_liver.training.train_config import TrainConfig

logger = logging.getLogger(__name__)


def _precision_policy(setting) -> str:
    """The Keras dtype policy of a config's ``mixed_precision`` (validated by `TrainConfig`)."""
    if setting == "auto":
        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    if setting is True:
        return "mixed_float16"
    return "float32" if setting is False else str(setting)


def _strategy():
    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def compile_model(model, config: TrainConfig, steps_per_epoch: int, num_classes: int):
    """Adam with the configured schedule, the task's loss(es) and metrics."""
    total = max(1, config.epochs * steps_per_epoch)
    step_cosine = config.schedule == "cosine" and config.time_budget_s is None  # else TimeBudget decays it
    lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, total) if step_cosine else config.learning_rate
    optimizer = keras.optimizers.Adam(lr)
    if tasks.get(config.task).is_segmentation:
        found = [metrics.SegmentationScore(1, "dice", name="dice_1"),
                 metrics.SegmentationScore(2, "dice", name="dice_2"),
                 metrics.SegmentationScore(2, "precision", name="precision_2"),
                 metrics.SegmentationScore(2, "recall", name="recall_2")]
    else:
        found = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), metrics.MacroF1(num_classes),
                 metrics.MacroAUC(num_classes)]
    heads = [k for k in output_keys(config) if k.startswith("head_")] or ["probabilities"]
    weights = losses.deep_supervision_weights(len(heads), config.deep_supervision_scheme) if heads[0] != \
        "probabilities" else None
    loss = {k: losses.get(config.loss, **config.loss_args) for k in heads}
    model.compile(optimizer=optimizer, loss=loss, loss_weights=weights, metrics={"probabilities": found},
                  jit_compile=config.xla)
    return model


def _diverged(run_dir: pathlib.Path, where: str) -> TrainingDivergedError:
    kept = [name for name in ("best.keras", "backup") if (run_dir / name).exists()]
    return TrainingDivergedError(
        f"{run_dir}: training diverged ({where}); model.keras not written"
        + (f"; kept {' and '.join(kept)} (the last good state): rerun the same config to resume" if kept else "")
        + ", or lower learning_rate")


def train(config: TrainConfig | dict | str, callbacks=None) -> pathlib.Path:
    """Train one model; a rerun with the same ``out_dir`` resumes from the last finished epoch.

    The run directory holds ``config.json`` (resolved), ``split.json``,
    ``plan.json`` (CT: the spacing and window inference uses; also inside the models),
    ``history.csv``, ``curves.png`` (loss and accuracy/Dice per epoch),
    ``logs/`` (TensorBoard), ``backup/`` (while running), ``best.keras``
    (best ``monitor`` so far), ``model.keras`` (final) and ``summary.json``.

    Args:
        config: A `TrainConfig`, a dict, or a YAML/JSON path.
        callbacks: Extra Keras callbacks.

    Returns:
        The run directory.

    Raises:
        TrainingDivergedError: A training loss or the final weights were not
            finite. ``model.keras`` is then not written; ``best.keras`` and
            ``backup/`` (the last finished epoch) are kept, so a rerun resumes.
        KerasLiverError: bad data or settings; a run folder this call created
            is removed again when nothing in it could be resumed.
    """
    config = TrainConfig.coerce(config)
    run_dir = pathlib.Path(config.out_dir)
    fresh = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _train_in(config, run_dir, callbacks)
    except TrainingDivergedError:
        raise  # its run folder is kept on purpose: a rerun resumes from backup/
    except BaseException:
        if fresh and not any((run_dir / name).exists() for name in ("backup", "best.keras", "model.keras")):
            # Nothing worth resuming (the data could not be read, the model not built, or the
            # first epoch never ended): leave no half-made run folder behind.
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _train_in(config: TrainConfig, run_dir: pathlib.Path, callbacks) -> pathlib.Path:
    write_text_atomic(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    keras.utils.set_random_seed(config.seed)
    policy = _precision_policy(config.mixed_precision)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    started = time.time()
    try:
        source = None
        if config.init_from is not None:  # fine-tuning: its architecture and spacing before the data is planned
            source = init_source(config)
            adopt_source(config, source)
            write_text_atomic(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
        found = build_data(config, run_dir)
        write_text_atomic(run_dir / "split.json", json.dumps(found["split"], indent=1) + "\n")
        with _strategy().scope():
            model = build_model(config, found["input_shape"], found["extra"])
            if found["class_names"] is not None and hasattr(model, "class_names") and model.class_names is None:
                model.class_names = list(found["class_names"])
            if source is not None:
                copy_weights(model, source, config.init_from)
            compile_model(model, config, found["steps"], getattr(model, "num_classes", 3))
        if found.get("plan") is not None:
            model.plan = found["plan"]  # saved inside best.keras and model.keras
            write_text_atomic(run_dir / "plan.json", json.dumps(found["plan"].to_dict(), indent=2) + "\n")
        monitor = config.monitor if found["val"] is not None else config.monitor.replace("val_", "", 1)
        mode = "min" if monitor.endswith("loss") else "max"
        cbs = [MetricAliases(),
               keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
               keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor, mode=mode,
                                               save_best_only=True),
               keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
               keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
               StopOnNonFinite()]
        if config.schedule == "plateau":
            cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5, patience=3))
        budget = None
        if config.time_budget_s is not None:
            budget = TimeBudget(config.time_budget_s,
                                cosine_from=config.learning_rate if config.schedule == "cosine" else None)
            cbs.insert(1, budget)  # before the checkpoints, so the last epoch's validation is still saved
        if config.early_stopping_patience is not None:
            cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                     patience=int(config.early_stopping_patience),
                                                     restore_best_weights=False))
        cbs += list(callbacks or [])
        logger.info("training %s (%s) in %s, policy %s", config.model, config.task, run_dir, policy)
        try:
            history = model.fit(found["train"], steps_per_epoch=found["steps"], epochs=config.epochs,
                                validation_data=found["val"], validation_steps=found["val_steps"], callbacks=cbs,
                                verbose=config.verbose, shuffle=False)  # the pipeline shuffles itself
        except Diverged as exc:
            raise _diverged(run_dir, str(exc)) from None
        bad = [w.path for w in model.weights if not np.isfinite(np.asarray(w)).all()]
        if bad:
            raise _diverged(run_dir, f"{len(bad)} weight arrays non-finite after the last epoch (first {bad[0]})")
        save_model(model, run_dir / "model.keras")
        from keras_liver.plotting import training_curves_figure

        training_curves_figure(run_dir / "history.csv", run_dir / "curves.png", f"{config.model}, {config.task}")
        summary = {"seconds": round(time.time() - started, 1), "epochs_run": len(history.epoch),
                   "stopped_by_time_budget": bool(budget is not None and budget.stopped),
                   "steps_run": budget.steps if budget is not None else len(history.epoch) * found["steps"],
                   "params": int(model.count_params()), "policy": policy, "monitor": monitor,
                   "last": {k: float(v[-1]) for k, v in history.history.items() if v},
                   "best": {k: float(max(v)) for k, v in history.history.items() if v and "loss" not in k}}
        write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    finally:
        keras.config.set_dtype_policy(previous)
    return run_dir
