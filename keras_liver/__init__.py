"""keras-liver: liver and liver-tumour segmentation on CT and 4D DCE-MRI.

Importing the top-level package is cheap: TensorFlow is only imported by the
sub-packages that need it (``data``, ``layers``, ``models``, ``training``,
``export``, ``serving``). ``keras_liver.io``, ``keras_liver.phantoms``,
``keras_liver.preprocess``, ``keras_liver.features``, ``keras_liver.plotting``
and ``keras_liver.tasks`` (the task contract every module dispatches on)
never import it.
"""

from keras_liver.errors import KerasLiverError
from keras_liver.registration import register_when_keras_loads
from keras_liver.version import __version__

register_when_keras_loads()  # plain keras.saving.load_model then opens the package's models

__all__ = ["KerasLiverError", "__version__"]
