"""``keras-liver export`` -> ``keras-liver serve`` (a real subprocess) -> ``keras-liver query``."""

import json

import numpy as np
from serving_models import DCE_CLASSES, tiny_classifier, tiny_segmenter

from keras_liver.cli.main import main
from keras_liver.inference import predict_volume
from keras_liver.io import load_volume, save_volume
from keras_liver.io.volume import Volume
from keras_liver.serving import DevServerProcess


def test_export_serve_query_end_to_end(tmp_path, capsys):
    seg = tiny_segmenter(21)
    seg.save(tmp_path / "seg.keras")
    dce = tiny_classifier(22)
    dce.save(tmp_path / "dce.keras")
    base = tmp_path / "models"
    assert main(["export", "--model", str(tmp_path / "seg.keras"), "--base", str(base), "--name", "liver_seg",
                 "--version", "1", "--patch", "1,16,16"]) == 0
    assert main(["export", "--model", str(tmp_path / "dce.keras"), "--base", str(base), "--name", "dce_cls",
                 "--version", "1", "--skip-cli-check"]) == 0
    capsys.readouterr()
    assert main(["export", "--model", str(tmp_path / "dce.keras"), "--base", str(base), "--name", "dce_cls",
                 "--version", "1", "--skip-cli-check"]) == 2
    assert "already exists" in capsys.readouterr().err

    config = tmp_path / "models.config"
    config.write_text(f'model_config_list {{\n  config {{ name: "liver_seg" base_path: "{base / "liver_seg"}" '
                      f'model_platform: "tensorflow" }}\n  config {{ name: "dce_cls" base_path: "{base / "dce_cls"}" '
                      f'model_platform: "tensorflow" }}\n}}\n')
    server = DevServerProcess("--model-config-file", config, "--poll-seconds", "0.2").start()
    port, rest_port = server.target.split(":")[1], server.rest_target.split(":")[1]

    rng = np.random.default_rng(5)
    ct = Volume(rng.uniform(-200, 300, (3, 33, 27)).astype(np.float32), spacing=(3.0, 0.9, 0.9))
    save_volume(ct, tmp_path / "ct.nii.gz")
    assert main(["query", str(tmp_path / "ct.nii.gz"), "--target", f"127.0.0.1:{port}", "--model", "liver_seg",
                 "--output", str(tmp_path / "mask.nii.gz"), "--patch", "1,16,16"]) == 0
    mask = load_volume(tmp_path / "mask.nii.gz")
    ct_back = load_volume(tmp_path / "ct.nii.gz")
    local = predict_volume(seg.inference_model(), ct_back, patch_size=(1, 16, 16))
    np.testing.assert_allclose(mask.affine, ct_back.affine)
    np.testing.assert_array_equal(mask.array, local.array)

    series = Volume(rng.uniform(80, 400, (5, 4, 12, 12)).astype(np.float32), spacing=(3.0, 1.5, 1.5))
    save_volume(series, tmp_path / "dce.nii.gz")
    for extra in ([], ["--rest"]):
        target = f"127.0.0.1:{rest_port if extra else port}"
        out = tmp_path / f"dce{len(extra)}.json"
        assert main(["query", str(tmp_path / "dce.nii.gz"), "--target", target, "--model", "dce_cls",
                     "--output", str(out), *extra]) == 0
        result = json.loads(out.read_text())
        want = dce.predict({"sequence": load_volume(tmp_path / "dce.nii.gz").array[None, ..., None]}, verbose=0)
        assert result["label"] == int(want["label"][0]) and result["class"] == DCE_CLASSES[result["label"]]
        assert np.max(np.abs(np.array(result["probabilities"]) - want["probabilities"][0])) <= 1e-5
        assert result["model"] == "dce_cls" and result["version"] == 1
    # the same model run locally writes the same record (one schema for predict and query)
    assert main(["predict", "--model", str(tmp_path / "dce.keras"), "--input", str(tmp_path / "dce.nii.gz"),
                 "--output", str(tmp_path / "local.json")]) == 0
    local = json.loads((tmp_path / "local.json").read_text())
    assert set(local) == set(result) and local["task"] == result["task"] == "dce_classification"
    assert (local["label"], local["class"]) == (result["label"], result["class"])
    assert result["class_names"] == local["class_names"] == list(DCE_CLASSES)  # the served plan names them
    assert np.max(np.abs(np.array(local["probabilities"]) - np.array(result["probabilities"]))) <= 1e-5

    capsys.readouterr()
    assert main(["query", str(tmp_path / "dce.nii.gz"), "--target", f"127.0.0.1:{port}", "--model", "nope",
                 "--output", str(tmp_path / "x.json")]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err

    assert server.stop() == 0  # SIGTERM: a clean shutdown


def test_dev_server_process_reports_a_failed_start(tmp_path):
    import pytest

    from keras_liver.errors import ServingError

    with pytest.raises(ServingError, match="no such model config file"):
        DevServerProcess("--model-config-file", tmp_path / "missing.config").start()


def test_serve_refuses_conflicting_arguments(tmp_path, capsys):
    assert main(["serve", "--model-name", "x"]) == 2
    assert "--model-base-path" in capsys.readouterr().err
    assert main(["serve", "--model-config-file", str(tmp_path / "missing.config")]) == 2
    assert "no such model config file" in capsys.readouterr().err


def test_export_records_the_run_beside_the_model(tmp_path, capsys):
    from keras_liver.export import read_warmup_requests

    for task, model, patch in (("dce_classification", tiny_classifier(23), [32, 96, 96]),
                               ("ct_segmentation", tiny_segmenter(24), [16, 20])):
        run = tmp_path / task
        run.mkdir()
        model.save(run / "model.keras")
        (run / "config.json").write_text(json.dumps({"task": task, "patch_size": patch, "target_spacing": None}))
        (run / "split.json").write_text(json.dumps({"train": ["0", "1", "2"], "val": ["3"]}))
        assert main(["export", "--model", str(run / "model.keras"), "--base", str(tmp_path / "models"),
                     "--name", task, "--skip-cli-check"]) == 0
        meta = json.loads((tmp_path / "models" / task / "1" / "metadata.json").read_text())
        assert meta["training"]["config"]["task"] == task and meta["training"]["cases"] == {"train": 3, "val": 1}
        warm = read_warmup_requests(tmp_path / "models" / task / "1" / "assets.extra" / "tf_serving_warmup_requests")
        if task == "ct_segmentation":
            assert meta["patch_size"] == [16, 20]
            assert tuple(warm[0].inputs["image"].tensor_shape.dim[i].size for i in (1, 2)) == (16, 20)
        else:
            assert meta["patch_size"] is None  # a DCE run's patch_size is not an input size


def test_window_arguments_are_checked(capsys):
    import pytest

    for bad in ("a,b", "0,16,16", "16"):
        with pytest.raises(SystemExit) as caught:
            main(["query", "scan.nii.gz", "--model", "m", "--output", "o.nii.gz", "--patch", bad])
        assert caught.value.code == 2
        assert "window" in capsys.readouterr().err


def test_ordinary_argument_mistakes_are_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as z:
        z.writestr("metadata.json", "{}")  # a zip named .keras without config.json
    tiny_segmenter(5).save(tmp_path / "seg.keras")  # depth 2: windows divisible by 4
    save_volume(Volume(np.zeros((3, 16, 16), np.float32), spacing=(3.0, 1.0, 1.0)), tmp_path / "ct.nii.gz")
    predict = ["predict", "--model", str(tmp_path / "seg.keras"), "--input", str(tmp_path / "ct.nii.gz"),
               "--output", str(tmp_path / "m.nii.gz"), "--patch"]
    cases = [(predict + ["1,15,15"], "divisible by 4"), (predict + ["1,100000,100000"], "limit"),
             (["predict", "--model", str(tmp_path / "empty.keras"), "--input", "x", "--output", "y"], "config.json"),(["serve", "--model-name", "m", "--model-base-path", str(tmp_path), "--port", "70000"], "70000"),
             (["serve", "--model-name", "m", "--model-base-path", str(tmp_path / "missing")], "no such folder"),
             (["export", "--model", "m.keras", "--base", str(tmp_path / "file"), "--name", "m"], "is a file"),
             (["phantoms", "ct", "--cases", "1", "--out", str(tmp_path / "file")], "is a file")]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, (argv, err)
