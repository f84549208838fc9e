"""``kill -9`` in the middle of writing: nothing broken under a final name, and the next run is clean."""

import os
import signal
import subprocess
import sys
import time

from keras_liver.io import load_volume


def _start(*argv):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "keras_liver.cli", *map(str, argv)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(process, ready, timeout=120):
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the process never reached the point to kill it at"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def test_phantoms_killed_mid_write_leave_only_complete_cases(tmp_path, casebook):
    out = tmp_path / "ct"
    process = _start("phantoms", "ct", "--cases", "30", "--out", out, "--shape", "24,64,64", "--seed", "3")
    _kill_when(process, lambda: out.is_dir() and len([p for p in out.iterdir() if p.name.startswith(".")]) > 0
               and len(list(out.glob("volume-*"))) >= 2)
    volumes = sorted(out.glob("volume-*.nii.gz"))
    for volume in volumes:  # every case that shows is whole: image and label, both readable
        label = out / volume.name.replace("volume-", "segmentation-")
        assert label.is_file(), label
        assert load_volume(volume).shape == load_volume(label).shape
    rerun = subprocess.run([sys.executable, "-m", "keras_liver.cli", "phantoms", "ct", "--cases", "3", "--out", out,
                            "--shape", "24,64,64", "--seed", "3"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the kill's temporaries are gone
    casebook("kill", "kill -9 while `phantoms` writes", "only whole cases; next run removes temporaries",
             f"{len(volumes)} complete cases after the kill")


def test_export_killed_mid_write_leaves_no_version(tmp_path, casebook):
    from serving_models import tiny_segmenter

    from keras_liver.export.float32 import float32_copy
    from keras_liver.models import save_model

    model = save_model(float32_copy(tiny_segmenter(5)).inference_model(), tmp_path / "m.keras")
    base = tmp_path / "models"
    process = _start("export", "--model", model, "--base", base, "--name", "liver", "--version", "1",
                     "--no-warmup", "--skip-cli-check")
    model_dir = base / "liver"
    _kill_when(process, lambda: model_dir.is_dir() and any(p.name.startswith(".tmp-") for p in model_dir.iterdir()))
    assert not (model_dir / "1").exists()  # a server polling the folder never sees a half-written version
    casebook("kill", "kill -9 while `export` writes", "no version folder appears",
             ", ".join(sorted(p.name.split("-")[0] + "-..." for p in model_dir.iterdir())))
