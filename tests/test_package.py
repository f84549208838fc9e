import subprocess
import sys

import keras_liver


def test_version_is_exposed():
    assert keras_liver.__version__.count(".") == 2


def test_numpy_only_subpackages_never_import_tensorflow():
    code = (
        "import sys, keras_liver.io, keras_liver.cli.main, keras_liver.plotting, keras_liver.tasks\n"
        "import keras_liver.phantoms, keras_liver.preprocess, keras_liver.features\n"
        "import keras_liver.evaluation.preprocess_figures\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
