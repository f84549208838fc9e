"""`load_model`: open a ``.keras`` file that uses keras-liver's registered classes."""

import pathlib

from keras_liver.errors import FileFormatError, MissingPathError


def load_model(path, compile: bool = True):
    """``keras.saving.load_model`` after registering every keras-liver class.

    A ``.keras`` file names its classes (``keras_liver>FusedUNet``, losses,
    metrics); Keras finds them only once their modules are imported, which
    this function does first.

    Args:
        path: The ``.keras`` file.
        compile: Restore the optimizer, loss and metrics too.

    Returns:
        The model.
    """
    import keras

    import keras_liver.layers  # noqa: F401  (registration side effects)
    import keras_liver.losses  # noqa: F401
    import keras_liver.metrics  # noqa: F401
    import keras_liver.models  # noqa: F401

    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such model file")
    try:
        return keras.saving.load_model(path, compile=compile)
    except (ValueError, OSError, TypeError) as exc:
        raise FileFormatError(f"{path}: cannot load as a Keras model ({exc})") from None
