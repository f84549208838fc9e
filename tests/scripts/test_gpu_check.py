"""scripts/gpu_check.py: its timing wrapper, the share it reports, and what it does without a GPU."""

import numpy as np
import pytest
from helpers import load_script


@pytest.fixture(scope="module")
def gpu_check():
    return load_script("gpu_check")


def test_timed_predictor_counts_windows_and_model_seconds(gpu_check):
    timed = gpu_check.TimedPredictor(lambda batch: batch * 2)
    out = timed(np.ones((3, 5, 7, 1), np.float32))
    timed(np.ones((2, 5, 7, 1), np.float32))
    assert out.shape == (3, 5, 7, 1) and float(out.max()) == 2.0
    assert timed.windows == 5 and timed.calls == 2 and timed.seconds > 0
    assert timed.row()["windows_per_s"] == pytest.approx(5 / timed.seconds, rel=0.01)


def test_sliding_window_share_is_the_time_outside_the_models(gpu_check):
    a, b = gpu_check.TimedPredictor(None), gpu_check.TimedPredictor(None)
    a.seconds, b.seconds = 3.0, 1.0
    assert gpu_check.sliding_window_share(10.0, a, b) == pytest.approx(0.6)
    assert gpu_check.sliding_window_share(3.5, a, b) == 0.0  # clock jitter never gives a negative share


def test_without_a_gpu_it_says_so_and_measures_nothing(gpu_check, tmp_path, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert gpu_check.main(["--out", str(tmp_path / "out")]) == 0
    assert "no GPU on this machine" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_an_unknown_stage_is_refused_by_name(gpu_check):
    with pytest.raises(SystemExit, match="--stages: unknown"):
        gpu_check.main(["--stages", "ct_liver,stage3"])
