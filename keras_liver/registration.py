"""Register keras-liver's Keras classes as soon as Keras is imported, without importing Keras early.

A ``.keras`` file written by `keras_liver.training.train` names its classes
(``keras_liver>FusedUNet``, ``keras_liver>DiceCELoss`` ...); Keras finds
them only once their modules have run. ``import keras_liver`` calls
`register_when_keras_loads`: if Keras is already imported the classes are
registered at once, otherwise a one-shot import hook registers them right
after Keras' own import finishes. ``import keras_liver`` therefore stays
free of TensorFlow, and plain ``keras.saving.load_model`` opens any model
the package saved.
"""

import importlib.abc
import importlib.util
import sys

_MODULES = ("keras_liver.layers", "keras_liver.losses", "keras_liver.metrics", "keras_liver.models")


def register_now() -> None:
    """Import the modules whose classes are registered with Keras."""
    for name in _MODULES:
        importlib.import_module(name)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of ``keras`` so `register_now` runs after it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot, and lets the real finders answer below
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            register_now()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads() -> None:
    """Register now if Keras is loaded, else as soon as it is."""
    if "keras" in sys.modules:
        register_now()
    elif not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
