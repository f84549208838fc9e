import json
import pathlib

import numpy as np
import pytest
import yaml

from helpers import tiny_ct_config
from keras_liver import tasks
from keras_liver.cli.main import main
from keras_liver.inference import classify_series, predict_volume
from keras_liver.io import load_volume
from keras_liver.models import load_model, model_class
from keras_liver.phantoms import write_ct_dataset, write_dce_dataset
from keras_liver.training import TrainConfig

CONFIGS = pathlib.Path(__file__).parents[2] / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_example_configs_parse_and_name_a_model_of_their_task(name):
    config = TrainConfig.from_file(CONFIGS / name)
    assert config.data.startswith("data/") and config.out_dir.startswith("runs/")
    assert model_class(config.model).task == config.task
    assert config.loss in tasks.get(config.task).losses


def _dice(pred, truth, values):
    p, t = np.isin(pred, values), np.isin(truth, values)
    return 2 * (p & t).sum() / (p.sum() + t.sum()) if p.sum() + t.sum() else 1.0


def test_cli_predict_equals_in_process_predict_volume_and_evaluate_equals_its_oracle(tmp_path, capsys):
    write_ct_dataset(tmp_path / "ct", 3, seed=0, shape=(12, 40, 40))
    config = tiny_ct_config(tmp_path / "ct", tmp_path / "run", model_args={"depth": 1, "filters": 2,
                                                                             "intensity": "abdomen"},
                            patch_size=[16, 16], epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path / "run"))  # the run folder is printed
    model_path = tmp_path / "run" / "model.keras"
    out = tmp_path / "pred"
    out.mkdir()
    source = tmp_path / "ct" / "volume-0.nii.gz"
    assert main(["predict", "--model", str(model_path), "--input", str(source),
                 "--output", str(out / "segmentation-0.nii.gz"), "--patch", "1,16,16", "--overlap", "0.25"]) == 0
    mask, image = load_volume(out / "segmentation-0.nii.gz"), load_volume(source)
    local = predict_volume(load_model(model_path), image, patch_size=(1, 16, 16), overlap=0.25)
    np.testing.assert_array_equal(mask.array, local.array)  # the CLI adds nothing and loses nothing
    np.testing.assert_allclose(mask.affine, image.affine)

    capsys.readouterr()
    assert main(["evaluate", "--pred", str(out), "--truth", str(tmp_path / "ct")]) == 0
    report = json.loads((out / "evaluation" / "evaluation.json").read_text())
    truth = load_volume(tmp_path / "ct" / "segmentation-0.nii.gz").array
    assert set(report["cases"]) == {"0"}
    assert report["liver_dice"]["global"] == pytest.approx(_dice(mask.array, truth, (1, 2)))
    assert report["tumour_dice"]["global"] == pytest.approx(_dice(mask.array, truth, (2,)))
    assert f"{report['liver_dice']['global']:.4f}" in capsys.readouterr().out
    assert (out / "evaluation" / "overlay-0.png").stat().st_size > 5_000


def test_cli_classification_record_equals_in_process_classify_series(tmp_path, capsys):
    write_dce_dataset(tmp_path / "dce", 5, seed=0, balanced=True, shape=(6, 16, 16), n_frames=4)
    config = {"task": "dce_classification", "data": str(tmp_path / "dce"), "out_dir": str(tmp_path / "run"),
              "model": "DCEClassifier", "model_args": {"encoder_filters": [2], "lstm_filters": [2]},
              "batch_size": 5, "epochs": 1, "val_fraction": 0.0, "verbose": 0}
    (tmp_path / "c.json").write_text(json.dumps(config))
    assert main(["train", "--config", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    source = tmp_path / "dce" / "dce-2.nii.gz"
    assert main(["predict", "--model", str(tmp_path / "run" / "model.keras"), "--input", str(source),
                 "--output", str(tmp_path / "out.json")]) == 0
    record = json.loads((tmp_path / "out.json").read_text())
    assert json.loads(capsys.readouterr().out) == record  # printed and written alike
    model = load_model(tmp_path / "run" / "model.keras")
    want = classify_series(model, load_volume(source))
    assert set(record) == {"input", "model", "version", "task", "label", "class", "class_names", "probabilities"}
    assert record["label"] == want["label"] and record["class"] == model.class_names[want["label"]]
    np.testing.assert_allclose(record["probabilities"], want["probabilities"], atol=1e-6)
    assert record["class_names"] == model.class_names and record["version"] is None


@pytest.mark.parametrize("change, words", [
    ({"loss": "dicee"}, ["loss", "dicee", "dice_ce"]),
    ({"model": "FusedUNett"}, ["model", "FusedUNett", "FusedUNet"]),
    ({"model": "DCEClassifier"}, ["DCEClassifier", "dce_classification", "ct_segmentation"]),
    ({"model_args": {"depht": 2}}, ["model_args", "depht", "depth"]),
    ({"schedule": "cosin"}, ["schedule", "cosin"]),
    ({"monitor": "val_dice_3"}, ["monitor", "val_dice_3"]),
    ({"deep_supervision_scheme": "deepest"}, ["deep_supervision_scheme", "deepest"]),
    ({"loss_args": {"gama": 2}}, ["loss_args", "gama"]),
])
def test_config_mistakes_are_one_line_before_any_data_is_read(tmp_path, capsys, change, words):
    config = {"task": "ct_segmentation", "data": str(tmp_path / "missing"), "out_dir": str(tmp_path / "run"),
              **change}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and all(w in err for w in words), err
    assert not (tmp_path / "run").exists()  # nothing made, no data looked at (the data folder does not exist)


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
