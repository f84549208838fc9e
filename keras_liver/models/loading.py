"""`load_model`, `save_model` and `model_class`: keras-liver's models by file and by name."""

import os
import pathlib
import zipfile

from keras_liver.errors import FileFormatError, MissingPathError


def load_model(path, compile: bool = True, safe_mode: bool = True):
    """``keras.saving.load_model`` after registering every keras-liver class; a preset name works too.

    A ``.keras`` file names its classes (``keras_liver>FusedUNet``, losses,
    metrics); Keras finds them only once their modules are imported, which
    this function does first. ``path`` may also name a shipped preset
    (``"ct_liver_tumour"``) or a preset folder: its checksums are checked first
    (`keras_liver.presets`).

    Args:
        path: The ``.keras`` file, a preset name or a preset folder.
        compile: Restore the optimizer, loss and metrics too.
        safe_mode: Keras safe mode (no code from the file runs); always on for presets.

    Returns:
        The model.
    """
    import keras

    import keras_liver.layers  # noqa: F401  (registration side effects)
    import keras_liver.losses  # noqa: F401
    import keras_liver.metrics  # noqa: F401
    import keras_liver.models  # noqa: F401

    from keras_liver import presets

    preset = presets.resolve(path)
    if preset is not None:
        return preset.load(compile=compile)
    path = pathlib.Path(path)
    if not path.is_file():
        shipped = presets.names()
        hint = f" (nor a preset: {', '.join(shipped)})" if shipped and "/" not in str(path) else ""
        raise MissingPathError(f"{path}: no such model file{hint}")
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=safe_mode)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        raise FileFormatError(f"{path}: cannot load as a Keras model ({exc})") from None


def save_model(model, path) -> pathlib.Path:
    """``model.save`` to a temporary name beside ``path``, then rename (never a half-written file)."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def model_class(name: str):
    """The keras-liver model class called ``name`` (`ConfigError` naming the known ones)."""
    from keras_liver import models
    from keras_liver.errors import ConfigError
    from keras_liver.models.base import LiverModel

    known = sorted(n for n in models.__all__ if isinstance(getattr(models, n), type)
                   and issubclass(getattr(models, n), LiverModel))
    if name not in known:
        raise ConfigError(f"model: one of {known}, got {name!r}")
    return getattr(models, name)
