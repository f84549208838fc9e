"""The command line shows the package's lines, not TensorFlow's (unless asked)."""

import os
import re
import subprocess
import sys

from serving_models import tiny_segmenter

from keras_liver.io import save_volume
from keras_liver.phantoms import ct_case

TF_LINE = re.compile(r"^(?:[IWEF]\d{4} |WARNING: All log messages|.*(?:oneDNN|cpu_feature_guard|cuda|absl))", re.M)


def _predict(tmp_path, **env):
    model = tmp_path / "seg.keras"
    if not model.exists():
        tiny_segmenter(3).save(model)
        save_volume(ct_case(2, shape=(4, 32, 32)).image, tmp_path / "ct.nii.gz")
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_LIVER_TF_LOG")}
    return subprocess.run([sys.executable, "-m", "keras_liver.cli", "predict", "--model", str(model), "--input",
                           str(tmp_path / "ct.nii.gz"), "--output", str(tmp_path / "m.nii.gz"), "--patch", "1,32,32"],
                          capture_output=True, text=True, timeout=300, env={**environment, **env})


def test_predict_prints_no_tensorflow_log_line(tmp_path):
    done = _predict(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path / "m.nii.gz")
    assert not TF_LINE.findall(done.stderr), done.stderr
    assert "INFO keras_liver.inference.predict_volume: predicted" in done.stderr  # the package's own line stays


def test_keras_liver_tf_log_brings_them_back(tmp_path):
    done = _predict(tmp_path, KERAS_LIVER_TF_LOG="0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert TF_LINE.findall(done.stderr)  # the check above can fail: these lines exist without the silencing
