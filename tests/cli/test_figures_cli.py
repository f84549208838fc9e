import matplotlib.image
import numpy as np

from keras_liver.cli.main import main
from keras_liver.io import Volume, save_volume
from keras_liver.phantoms import ct_case, dce_case


def test_preprocess_figures_from_a_ct_file(tmp_path):
    case = ct_case(3, shape=(9, 72, 70))
    image = save_volume(case.image, tmp_path / "ct.nii.gz")
    label = save_volume(case.label, tmp_path / "seg.nii.gz")
    out = tmp_path / "figs"
    out.mkdir()
    assert main(["figures", "preprocess", str(image), "--label", str(label), "--out", str(out)]) == 0
    for name in ("denoise.png", "histogram.png", "hog.png"):
        png = matplotlib.image.imread(out / name)
        assert png.shape[0] > 200 and png.shape[1] > 300
        assert png[..., :3].std() > 0.05  # not a blank canvas


def test_preprocess_figures_from_a_dce_series_frame(tmp_path):
    case = dce_case(1, shape=(6, 40, 40), n_frames=4)
    path = save_volume(case.image, tmp_path / "dce.nii.gz")
    assert main(["figures", "preprocess", str(path), "--frame", "2", "--slice", "3", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "hog.png").stat().st_size > 5_000


def test_bad_slice_frame_and_folder_are_one_line_errors(tmp_path, capsys):
    path = save_volume(Volume(np.zeros((4, 32, 32), np.int16)), tmp_path / "x.nii.gz")
    assert main(["figures", "preprocess", str(path), "--slice", "9", "--out", str(tmp_path)]) == 2
    assert "slice 9" in capsys.readouterr().err
    assert main(["figures", "preprocess", str(path), "--out", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    series = save_volume(Volume(np.ones((3, 4, 32, 32), np.float32)), tmp_path / "s.nii.gz")
    assert main(["figures", "preprocess", str(series), "--frame", "5", "--out", str(tmp_path)]) == 2
    assert "frame 5" in capsys.readouterr().err
