"""Pretrained presets shipped inside the package (keras-hub's ``from_preset`` idea, our own code).

A preset is a folder under ``keras_liver/presets/``: the model (one ``.keras`` file: a model, a
`CTCascade` or a `DCEPipeline`, weights possibly stored as float16), ``preset.json`` (name,
version, task, inputs and outputs, plan, training recipe and seeds, held-out figures, package
versions, and the SHA-256 of every file) and a model card, ``README.md``. Loading checks every
checksum and uses Keras safe mode. Wherever keras-liver takes a model (``--model`` of
``predict``, ``export``, ``cascade``; `keras_liver.models.load_model`; ``init_from`` of a
training config), a preset name works too. Presets are for research and teaching, not diagnosis.

    >>> from keras_liver import presets
    >>> presets.names()
    >>> model = presets.load("ct_liver_tumour")
"""

from keras_liver.presets.preset import MANIFEST, PRESETS_DIR, Preset, names, resolve, sha256
from keras_liver.presets.writer import float16_keras_file, write_preset


def load(spec, compile: bool = False):
    """Load a preset by name or folder: checksums checked, Keras safe mode.

    Args:
        spec: A shipped preset's name (`names`) or a preset folder.
        compile: Restore the training configuration too (presets are saved without it).
    """
    preset = resolve(spec)
    if preset is None:
        from keras_liver.errors import ConfigError

        raise ConfigError(f"preset: one of {names()} or a preset folder, got {spec!r}")
    return preset.load(compile=compile)


def list_presets() -> list:
    """``preset.json`` of every shipped preset (with ``folder``), by name."""
    return [{**p.info, "folder": str(p.folder)} for p in map(Preset.from_name, names())]


__all__ = ["MANIFEST", "PRESETS_DIR", "Preset", "float16_keras_file", "list_presets", "load", "names", "resolve",
           "sha256", "write_preset"]
