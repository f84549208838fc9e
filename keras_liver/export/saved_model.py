"""`export_saved_model`: a versioned, verified SavedModel for TensorFlow Serving."""

import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import uuid

import numpy as np

from keras_liver.errors import ConfigError, ExportError

logger = logging.getLogger(__name__)

SIGNATURE = "serving_default"
LIVER_SIGNATURE = "liver"  # a cascade's stage 1
CLASSIFY_SIGNATURE = "classify"  # a DCE pipeline's lesion classifier
PLAN_SIGNATURE = "plan"  # input plan_format (int32 scalar, ignored), output plan (string: the plan's JSON)
TOLERANCE = 1e-5
STALE_AFTER_S = 3600.0  # a hidden export folder untouched this long belongs to a killed export
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def model_versions(model_dir) -> list[int]:
    """Version numbers present under ``<base>/<name>`` (numeric folders holding a ``saved_model.pb``)."""
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").is_file())


def export_saved_model(model, base_dir, name: str, version: int | None = None, *, overwrite: bool = False,
                       mode: str = "accurate", level: int | None = None, warmup: bool = True,
                       warmup_batch_sizes=(1, 4), example_shapes=None, patch_size=None, training=None,
                       verify: bool = True) -> pathlib.Path:
    """Export a trained model to ``<base_dir>/<name>/<version>/`` for TF Serving.

    The export's ``plan`` signature returns the model's plan (spacing,
    window, labels; `keras_liver.plans`) as JSON for clients that know only
    the server; ``metadata.json`` holds it too. Its ``serving_default`` signature has the model's
    named float32 inputs (``image`` [+ ``hog``], or ``sequence``) and a
    dynamic batch axis, and dict outputs ``probabilities`` plus ``mask``
    (uint8, segmenters) or ``label`` (int32) and ``class_name`` (string,
    classifiers). Intensity
    handling stays inside the graph, so clients send raw HU or raw signal.
    A model trained with mixed precision is exported as a float32 copy;
    deep-supervision heads are dropped (`FusedUNet.inference_model`).

    Everything is written into a hidden temporary folder beside the target
    (TF Serving only considers numeric folder names), checked, and then
    renamed into place, so a server polling ``<base_dir>/<name>`` never
    sees a half-written version.

    Args:
        model: Trained Keras model (named inputs, dict output with ``probabilities``).
        base_dir: Model base path of the server (``--model_base_path``'s parent).
        name: Model name (the servable name clients ask for).
        version: Version number; default one more than the highest present.
        overwrite: Replace an existing version (otherwise `ExportError`).
        mode, level: Head selection for deep supervision (``"accurate"`` = mean of heads).
        warmup: Write ``assets.extra/tf_serving_warmup_requests``.
        warmup_batch_sizes: One warm-up request per batch size.
        example_shapes: ``{input: shape}`` (no batch) for the warm-up and check
            inputs where the model has ``None`` sizes; default from ``patch_size``.
        patch_size: The window clients should send (spatial axes), stored in
            the metadata; used for the examples when ``example_shapes`` is not given.
        training: Training facts for the metadata (see `run_summary`).
        verify: Reload the SavedModel and compare it with the Keras model
            (max abs difference <= 1e-5, labels equal); `ExportError` otherwise.

    Returns:
        The version directory.

    Example:
        >>> path = export_saved_model(load_model("runs/ct/model.keras"), "models", "liver_seg", 1)
        >>> # tensorflow_model_server --model_base_path=$PWD/models/liver_seg --model_name=liver_seg
    """
    import keras

    from keras_liver.export.float32 import dtype_policies
    from keras_liver.export.metadata import build_metadata
    from keras_liver.export.serving_model import ServingModel
    from keras_liver.export.warmup import write_warmup_requests
    from keras_liver.io.atomic import write_text_atomic

    if not _NAME.match(str(name)):
        raise ConfigError(f"name: {name!r} is not a valid model name (letters, digits, '_', '-', '.')")
    model_dir = pathlib.Path(base_dir) / str(name)
    if version is None:
        version = (model_versions(model_dir) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or int(version) < 1:
        raise ConfigError(f"version: a positive integer, got {version!r}")
    version = int(version)
    target = model_dir / str(version)
    if target.exists() and not overwrite:
        raise ExportError(f"{target}: version {version} of {name!r} already exists (pass overwrite=True to replace it)")

    trained_policies = dtype_policies(model)
    from keras_liver.models.ct_cascade import CTCascade
    from keras_liver.models.dce_pipeline import DCEPipeline

    stages = {}
    if isinstance(model, CTCascade):  # one SavedModel: serving_default = stage 2, "liver" = stage 1, "plan" chains them
        stages[LIVER_SIGNATURE] = ServingModel.from_keras(model.liver_stage, mode=mode, level=level)
        serving = ServingModel.from_keras(model.tumour_stage, mode=mode, level=level)
        serving.plan = model.plan
    elif isinstance(model, DCEPipeline):  # the same, and "classify" = the per-lesion classifier
        stages[LIVER_SIGNATURE] = ServingModel.from_keras(model.liver_stage, mode=mode, level=level)
        stages[CLASSIFY_SIGNATURE] = ServingModel.from_keras(model.classifier, mode=mode, level=level)
        serving = ServingModel.from_keras(model.lesion_stage, mode=mode, level=level)
        serving.plan = model.plan
    else:
        serving = ServingModel.from_keras(model, mode=mode, level=level)
    if patch_size is None and serving.plan is not None:
        patch_size = serving.plan.stage.patch_size
    shapes = example_shapes or _shapes_from_patch(serving, patch_size)
    model_dir.mkdir(parents=True, exist_ok=True)
    from keras_liver.io.atomic import remove_stale_temporaries

    for stale in remove_stale_temporaries(model_dir, ("tmp-", "old-"), older_than_s=STALE_AFTER_S):
        logger.info("removed %s, left by an export that was killed", stale)
    tmp = model_dir / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    try:
        archive = keras.export.ExportArchive()
        archive.track(serving.model)
        archive.add_endpoint(name=SIGNATURE, fn=serving.serving_fn(), input_signature=serving.tensor_specs())
        for signature, stage in stages.items():
            archive.track(stage.model)
            archive.add_endpoint(name=signature, fn=stage.serving_fn(), input_signature=stage.tensor_specs())
        import tensorflow as tf

        archive.add_endpoint(name=PLAN_SIGNATURE, fn=serving.plan_fn(patch_size),
                             input_signature=[tf.TensorSpec([], tf.int32, name="plan_format")])
        archive.write_out(str(tmp), verbose=False)
        if warmup:
            examples = [serving.example_inputs(b, shapes, seed=b) for b in warmup_batch_sizes]
            write_warmup_requests(tmp, str(name), examples, SIGNATURE)
        check = {}
        if verify:
            check = verify_saved_model(tmp, serving, serving.example_inputs(2, shapes, seed=123))
            for signature, stage in stages.items():
                window = model.plan.stages[0].patch_size if signature == LIVER_SIGNATURE else None
                stage_shapes = _shapes_from_patch(stage, window)
                check[signature] = verify_saved_model(tmp, stage, stage.example_inputs(2, stage_shapes, seed=7),
                                                      signature=signature)
            if trained_policies != {"float32"}:
                check["note"] = "compared with the float32 copy of a mixed-precision model"
        meta = build_metadata(serving, str(name), version, signature=SIGNATURE, training=training,
                              patch_size=patch_size, trained_policies=trained_policies, verification=check)
        if stages:
            meta["cascade"] = {"liver": LIVER_SIGNATURE, "tumour": SIGNATURE,
                               "liver_inputs": {k: [None, *[None if d is None else int(d) for d in v]]
                                                for k, v in stages[LIVER_SIGNATURE].input_shapes.items()}}
            if CLASSIFY_SIGNATURE in stages:
                meta["cascade"]["classify"] = CLASSIFY_SIGNATURE
        write_text_atomic(tmp / "metadata.json", json.dumps(meta, indent=2, default=_jsonable) + "\n")
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %s version %d to %s", name, version, target)
    return target


def _shapes_from_patch(serving, patch_size):
    if patch_size is None:
        return None
    patch = tuple(int(p) for p in patch_size)
    series = serving.task.modality == "DCE"  # inputs (t, z, y, x, c): the time axis is not part of the window
    shapes = {}
    for key, shape in serving.input_shapes.items():
        spatial = shape[1:-1] if series else shape[:-1]
        if len(patch) == len(spatial) + 1 and patch[0] == 1:
            patch = patch[1:]
        if len(patch) != len(spatial):
            raise ConfigError(f"patch_size: {patch_size} does not match input {key!r} with shape {shape}")
        lead = (shape[0] if shape[0] is not None else 6,) if series else ()
        shapes[key] = lead + patch + (shape[-1],)
    return shapes


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def _move_into_place(tmp: pathlib.Path, target: pathlib.Path, overwrite: bool) -> None:
    if target.exists():
        if not overwrite:
            raise ExportError(f"{target}: appeared while exporting; not replaced")
        old = target.with_name(f".old-{target.name}-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, target)


def verify_saved_model(path, serving, inputs: dict, signature: str = SIGNATURE) -> dict:
    """Reload a SavedModel and compare its ``serving_default`` with the Keras model.

    Args:
        path: SavedModel directory.
        serving: The `ServingModel` that was exported.
        inputs: ``{input: array}`` batch to run through both.

    Returns:
        ``{"max_abs_diff": float, "examples": n, "tolerance": 1e-5}``.

    Raises:
        ExportError: The outputs differ, or names are missing.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    if signature not in loaded.signatures:
        raise ExportError(f"{path}: no {signature!r} signature after reload")
    fn = loaded.signatures[signature]
    got = {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    want = serving.keras_outputs(inputs)
    if set(got) != set(want):
        raise ExportError(f"{path}: outputs {sorted(got)} after reload, expected {sorted(want)}")
    diff = float(np.max(np.abs(got["probabilities"] - want["probabilities"])))
    if diff > TOLERANCE:
        raise ExportError(f"{path}: SavedModel probabilities differ from the Keras model by {diff:.3g} "
                          f"(tolerance {TOLERANCE})")
    for key in set(want) - {"probabilities"}:
        if got[key].dtype != want[key].dtype or not np.array_equal(got[key], want[key]):
            raise ExportError(f"{path}: SavedModel output {key!r} differs from the Keras model")
    if signature != SIGNATURE:  # a cascade's stage-1 signature: the plan is checked with serving_default
        return {"max_abs_diff": diff, "examples": int(next(iter(inputs.values())).shape[0]), "tolerance": TOLERANCE}
    if PLAN_SIGNATURE not in loaded.signatures:
        raise ExportError(f"{path}: no {PLAN_SIGNATURE!r} signature after reload")
    plan = loaded.signatures[PLAN_SIGNATURE](plan_format=tf.constant(1))["plan"].numpy().decode()
    if json.loads(plan) != json.loads(serving.plan_json(None)) and serving.plan is not None:
        raise ExportError(f"{path}: the {PLAN_SIGNATURE!r} signature returns another plan than the model's")
    return {"max_abs_diff": diff, "examples": int(next(iter(inputs.values())).shape[0]), "tolerance": TOLERANCE,
            "input_shapes": {k: list(v.shape) for k, v in inputs.items()}}


def saved_model_cli_show(path, timeout: float = 120.0) -> str:
    """The text of ``saved_model_cli show --all --dir PATH`` (TensorFlow's own inspection tool)."""
    exe = pathlib.Path(sys.executable).with_name("saved_model_cli")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command + ["show", "--all", "--dir", str(path)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if done.returncode != 0:
        raise ExportError(f"{path}: saved_model_cli failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def check_signature_listing(path, inputs, outputs, text: str | None = None) -> None:
    """Raise `ExportError` unless ``saved_model_cli show --all`` lists ``serving_default`` with these names."""
    text = saved_model_cli_show(path) if text is None else text
    block = text.split(f"signature_def['{SIGNATURE}']:", 1)
    if len(block) != 2:
        raise ExportError(f"{path}: saved_model_cli lists no {SIGNATURE!r} signature")
    body = block[1].split("signature_def[", 1)[0]
    missing = [f"inputs['{n}']" for n in inputs if f"inputs['{n}']" not in body]
    missing += [f"outputs['{n}']" for n in outputs if f"outputs['{n}']" not in body]
    if missing:
        raise ExportError(f"{path}: saved_model_cli shows {SIGNATURE} without {', '.join(missing)}")
