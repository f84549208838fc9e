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
    inputs = {}
    for key, shape in serving.input_shapes.items():
        entry = {"shape": [None, *_shape(shape)], "dtype": "float32"}
        if key == "image":
            entry["expects"] = "raw CT intensities in HU"
            entry["intensity_in_graph"] = _intensity_of(model)
        elif key == "sequence":
            entry["expects"] = "raw DCE-MRI signal, (time, z, y, x, 1), frames in acquisition order"
            entry["intensity_in_graph"] = ("series normalisation by pre-contrast statistics"
                                           if _has_layer(model, "series_normalization") else None)
        elif key == "hog":
            entry["expects"] = "keras_liver.features.hog_map of the image (client side)"
        inputs[key] = entry
    outputs = {"probabilities": {"shape": None, "dtype": "float32", "meaning": "softmax over labels"}}
    if serving.task == "classification":
        outputs["label"] = {"dtype": "int32", "meaning": "index of the most probable class"}
        outputs["class_name"] = {"dtype": "string", "meaning": "name of the most probable class"}
    else:
        outputs["mask"] = {"dtype": "uint8", "meaning": "arg-max label per voxel"}
    outputs["probabilities"]["shape"] = [None, *_shape(model.output["probabilities"].shape[1:])]
    return {
        "name": name,
        "version": int(version),
        "signature": signature,
        "task": serving.task,
        "model_class": serving.source_class or type(model).__name__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
        "outputs": outputs,
        "labels": list(serving.labels),
        "patch_size": None if patch_size is None else [int(p) for p in patch_size],
        "spacing_mm": config.get("target_spacing"),
        "precision": {"trained": sorted(set(trained_policies)) or ["float32"], "exported": "float32"},
        "training": training,
        "verification": verification or {},
        "versions": package_versions(),
    }


def _has_layer(model, name: str) -> bool:
    return any(layer.name == name for layer in model._flatten_layers(include_self=False))


def _intensity_of(model):
    for layer in model._flatten_layers(include_self=False):
        if type(layer).__name__ in ("IntensityWindow", "FingerprintNormalization"):
            return {"layer": type(layer).__name__, **{k: v for k, v in layer.get_config().items()
                                                      if k not in ("name", "trainable", "dtype")}}
    return None
