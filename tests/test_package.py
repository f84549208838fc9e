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


def test_plain_keras_loads_a_saved_run_after_import_keras_liver(tmp_path):
    code = (
        "import sys, keras_liver\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules  # still cheap\n"
        "import keras\n"
        "from keras_liver.models import FusedUNet\n"
        "from keras_liver import losses\n"
        "m = FusedUNet(input_shape=(None, None, 1), depth=1, filters=2)\n"
        "m.compile(loss={'probabilities': losses.get('dice_ce')})\n"
        f"m.save({str(tmp_path / 'm.keras')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    load = (f"import keras_liver, keras\nm = keras.saving.load_model({str(tmp_path / 'm.keras')!r})\n"
            "assert type(m).__name__ == 'FusedUNet' and type(m.loss['probabilities']).__name__ == 'DiceCELoss'\n")
    subprocess.run([sys.executable, "-c", load], check=True)
    without = subprocess.run([sys.executable, "-c", load.replace("import keras_liver, keras", "import keras")],
                             capture_output=True, text=True)
    assert without.returncode != 0  # the registration is what makes it work
