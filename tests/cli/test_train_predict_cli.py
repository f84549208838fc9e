import json

import numpy as np
import pytest
import yaml

from helpers import tiny_ct_config
from keras_liver.cli.main import main
from keras_liver.io import load_volume
from keras_liver.phantoms import write_ct_dataset, write_dce_dataset
from keras_liver.training import TrainConfig


@pytest.mark.parametrize("name", ["ct_fused_unet.yaml", "ct_fused_unet_45min.yaml", "dce_classifier.yaml",
                                  "dce_classifier_45min.yaml", "dce_segmenter.yaml", "dce_segmenter_45min.yaml"])
def test_example_configs_parse(name):
    import pathlib

    config = TrainConfig.from_file(pathlib.Path(__file__).parents[2] / "configs" / name)
    assert config.data.startswith("data/") and config.out_dir.startswith("runs/")


def test_train_predict_evaluate_on_ct(tmp_path, capsys):
    write_ct_dataset(tmp_path / "ct", 3, seed=0, shape=(12, 40, 40))
    config = tiny_ct_config(tmp_path / "ct", tmp_path / "run", model_args={"depth": 1, "filters": 2,
                                                                             "intensity": "abdomen"},
                            patch_size=[16, 16], epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 0
    model = tmp_path / "run" / "model.keras"
    assert model.exists()
    out = tmp_path / "pred"
    out.mkdir()
    # predict case 0's volume written in another orientation; the mask comes back on that file's grid
    assert main(["predict", "--model", str(model), "--input", str(tmp_path / "ct" / "volume-0.nii.gz"),
                 "--output", str(out / "segmentation-0.nii.gz"), "--patch", "1,16,16"]) == 0
    mask, image = load_volume(out / "segmentation-0.nii.gz"), load_volume(tmp_path / "ct" / "volume-0.nii.gz")
    assert mask.shape == image.shape and np.allclose(mask.affine, image.affine)
    assert set(np.unique(mask.array)) <= {0, 1, 2}
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(out), "--truth", str(tmp_path / "ct")]) == 0
    assert "liver Dice" in capsys.readouterr().out
    report = json.loads((out / "evaluation" / "evaluation.json").read_text())
    assert set(report["cases"]) == {"0"} and 0 <= report["liver_dice"]["global"] <= 1
    assert (out / "evaluation" / "overlay-0.png").stat().st_size > 5_000


def test_predict_classifies_a_dce_series(tmp_path, capsys):
    write_dce_dataset(tmp_path / "dce", 5, seed=0, balanced=True, shape=(6, 16, 16), n_frames=4)
    config = {"task": "dce_classification", "data": str(tmp_path / "dce"), "out_dir": str(tmp_path / "run"),
              "model": "DCEClassifier", "model_args": {"encoder_filters": [2], "lstm_filters": [2]},
              "batch_size": 5, "epochs": 1, "val_fraction": 0.0, "verbose": 0}
    (tmp_path / "c.json").write_text(json.dumps(config))
    assert main(["train", "--config", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "run" / "model.keras"), "--input",
                 str(tmp_path / "dce" / "dce-2.nii.gz"), "--output", str(tmp_path / "out.json")]) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["class"] in ("hcc", "metastasis", "haemangioma", "cyst", "fnh")
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("task: ct_segmentation\nlearning_rat: 0.1\n")
    assert main(["train", "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "learning_rat" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "none.keras"), "--input", "x", "--output", "y"]) == 2
    assert "none.keras" in capsys.readouterr().err
    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--truth", str(tmp_path / "t")]) == 2
    assert "matches" in capsys.readouterr().err
