"""``metadata.json`` written beside each exported SavedModel version."""

import datetime
import json
import pathlib
import platform


def package_versions() -> dict:
    """Versions of the packages that wrote the export."""
    import keras
    import numpy
    import tensorflow as tf

    from keras_liver.version import __version__

    return {"keras_liver": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def _shape(shape) -> list:
    return [None if s is None else int(s) for s in shape]


def run_summary(model_path) -> dict:
    """Training facts from a run directory (``config.json``, ``summary.json``, ``split.json``) beside a model file.

    Args:
        model_path: ``RUN/model.keras`` (or ``best.keras``).

    Returns:
        ``{"config": ..., "summary": ..., "cases": {...}}`` with what exists; ``{}`` if none.
    """
    run = pathlib.Path(model_path).parent
    out = {}
    for key, name in (("config", "config.json"), ("summary", "summary.json")):
        path = run / name
        if path.is_file():
            out[key] = json.loads(path.read_text())
    split = run / "split.json"
    if split.is_file():
        out["cases"] = {k: len(v) for k, v in json.loads(split.read_text()).items()}
    if out:
        out["run_dir"] = str(run)
    return out


def build_metadata(serving, name: str, version: int, *, signature: str, training=None, patch_size=None,
                   trained_policies=(), verification=None) -> dict:
    """The ``metadata.json`` document for one export.

    Args:
        serving: The `ServingModel`.
        name, version: Model name and version.
        signature: Signature name.
        training: `run_summary` of the run (or any dict).
        patch_size: The window a client should send (spatial, without channels).
        trained_policies: dtype policies of the trained model.
        verification: Results of the export check.
    """
    model = serving.model
    training = dict(training or {})
    config = training.get("config", {})
    task = serving.task
    inputs = {}
    for key, shape in serving.input_shapes.items():
        entry = {"shape": [None, *_shape(shape)], "dtype": "float32", "expects": task.expects.get(key)}
        if key == task.main_input(serving.input_shapes):
            entry["intensity_in_graph"] = _intensity_of(model)
        inputs[key] = entry
    meanings = {"probabilities": ("float32", "softmax over labels"), "mask": ("uint8", "arg-max label per voxel"),
                "label": ("int32", "index of the most probable class"),
                "class_name": ("string", "name of the most probable class")}
    outputs = {key: {"dtype": meanings[key][0], "meaning": meanings[key][1]} for key in task.serving_outputs}
    outputs["probabilities"]["shape"] = [None, *_shape(model.output["probabilities"].shape[1:])]
    return {
        "name": name,
        "version": int(version),
        "signature": signature,
        "task": task.kind,
        "task_name": task.name,
        "model_class": serving.source_class or type(model).__name__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
        "outputs": outputs,
        "labels": list(serving.labels),
        "patch_size": None if patch_size is None else [int(p) for p in patch_size],
        "spacing_mm": (list(serving.plan.stage.target_spacing) if serving.plan is not None and
                       serving.plan.stage.target_spacing else config.get("target_spacing")),
        "plan": json.loads(serving.plan_json(patch_size)),
        "precision": {"trained": sorted(set(trained_policies)) or ["float32"], "exported": "float32"},
        "training": training,
        "verification": verification or {},
        "versions": package_versions(),
    }


def _intensity_of(model):
    """The in-graph intensity step of the main input (window, fingerprint or series normalisation), if any."""
    from keras_liver.layers import FingerprintNormalization, IntensityWindow, SeriesNormalization
    from keras_liver.models import iter_layers

    for layer in iter_layers(model):
        if isinstance(layer, SeriesNormalization):
            return "series normalisation by pre-contrast statistics"
        if isinstance(layer, (IntensityWindow, FingerprintNormalization)):
            return {"layer": type(layer).__name__, **{k: v for k, v in layer.get_config().items()
                                                      if k not in ("name", "trainable", "dtype")}}
    return None
