"""`write_preset`: a trained model into a preset folder, atomically; `float16_keras_file` for its storage."""

import json
import os
import pathlib
import shutil
import tempfile
import zipfile

import numpy as np

from keras_liver.errors import ConfigError
from keras_liver.presets.preset import MANIFEST, sha256

FLOAT16_LIMIT = 60000.0  # float16's largest finite value is 65504: weights beyond this stay float32
WEIGHTS = "model.weights.h5"


def float16_keras_file(src, dst) -> dict:
    """Copy a ``.keras`` file with its float32 weights stored as float16, deflate-compressed.

    Keras casts the stored values to each variable's own dtype when it loads them, so the
    model loads and computes in float32 as before; only the stored precision is halved.
    Arrays with values beyond float16's range stay float32.

    Returns:
        ``{"converted": arrays stored as float16, "kept": float32 arrays kept,
        "max_abs_change": largest change of any weight}``.
    """
    import h5py

    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if WEIGHTS not in members:
        raise ConfigError(f"{src}: a .keras file without {WEIGHTS}")
    stats = {"converted": 0, "kept": 0, "max_abs_change": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        old, new = pathlib.Path(tmp) / "old.h5", pathlib.Path(tmp) / "new.h5"
        old.write_bytes(members[WEIGHTS])
        with h5py.File(old, "r") as fin, h5py.File(new, "w") as fout:
            fout.attrs.update(dict(fin.attrs))

            def copy(name, item):
                if isinstance(item, h5py.Group):
                    fout.require_group(name).attrs.update(dict(item.attrs))
                    return
                data = item[()]
                if isinstance(data, np.ndarray) and data.dtype == np.float32:
                    if data.size == 0 or np.abs(data).max() <= FLOAT16_LIMIT:
                        half = data.astype(np.float16)
                        change = float(np.abs(half.astype(np.float32) - data).max()) if data.size else 0.0
                        stats["max_abs_change"] = max(stats["max_abs_change"], change)
                        stats["converted"] += 1
                        data = half
                    else:
                        stats["kept"] += 1
                fout.create_dataset(name, data=data).attrs.update(dict(item.attrs))

            fin.visititems(copy)
        members[WEIGHTS] = new.read_bytes()
    dst = pathlib.Path(dst)
    tmp_dst = dst.with_name(f".{dst.name}.tmp")
    with zipfile.ZipFile(tmp_dst, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    os.replace(tmp_dst, dst)
    return stats


def _package_versions() -> dict:
    import keras
    import tensorflow as tf

    from keras_liver.version import __version__

    return {"keras_liver": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__}


def write_preset(model, folder, *, name: str, version: str, recipe: dict, figures: dict, card: str,
                 float16: bool = True, description: str = "") -> pathlib.Path:
    """Write ``model`` as a preset folder (built beside it, then renamed into place).

    Args:
        model: A keras-liver model, `CTCascade` or `DCEPipeline` (its plan goes into the manifest).
        folder: The preset folder (replaced if it exists).
        name: The preset's name (the folder's name when shipped).
        version: Its version string.
        recipe: How it was trained: commands, configs, data and seeds.
        figures: Its measured figures (held-out phantoms, real scans, float16 difference).
        card: The model card's Markdown (``README.md``).
        float16: Store the weights as float16 (`float16_keras_file`).
        description: One line for ``keras-liver presets``.

    Returns:
        The folder.
    """
    from keras_liver import tasks
    from keras_liver.models import save_model

    folder = pathlib.Path(folder)
    task = tasks.task_of(model)
    build = folder.with_name(f".{folder.name}.building")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    try:
        model_file = build / "model.keras"
        save_model(model, model_file)
        storage = {"weights": "float32"}
        if float16:
            storage = {"weights": "float16", **float16_keras_file(model_file, model_file)}
        storage["bytes"] = model_file.stat().st_size
        (build / "README.md").write_text(card if card.endswith("\n") else card + "\n")
        plan = getattr(model, "plan", None)
        info = {"name": name, "version": str(version), "description": description, "task": task.name,
                "architecture": type(model).__name__, "model": model_file.name,
                "inputs": {k: v for k, v in task.expects.items() if k in task.inputs[:1] or k in task.optional_inputs},
                "outputs": list(task.serving_outputs), "plan": plan.to_dict() if plan is not None else None,
                "recipe": recipe, "figures": figures, "storage": storage, "packages": _package_versions(),
                "use": "research and teaching; not for diagnosis",
                "files": {p.name: sha256(p) for p in sorted(build.iterdir()) if p.name != MANIFEST}}
        (build / MANIFEST).write_text(json.dumps(info, indent=1) + "\n")
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(build, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return folder
