import csv
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
from helpers import tiny_ct_config

from keras_liver.errors import ConfigError
from keras_liver.training import TrainConfig, train


def _history(run):
    with open(run / "history.csv") as fh:
        return list(csv.DictReader(fh))


def test_ct_run_writes_its_directory(ct_folder, tmp_path):
    config = tiny_ct_config(ct_folder, tmp_path / "run", model_args={
        "depth": 1, "filters": 2, "deep_supervision": True, "intensity": "abdomen"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(config)
    assert not [w for w in caught if "shuffle" in str(w.message)]  # fit is told the pipeline shuffles itself
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "split.json", "history.csv", "logs", "best.keras", "model.keras", "summary.json",
            "curves.png"} <= names
    assert "backup" not in names  # removed once training finished
    assert [r["epoch"] for r in _history(run)] == ["0", "1"]
    assert "val_dice_2" in _history(run)[0]
    assert json.loads((run / "config.json").read_text())["model"] == "FusedUNet"
    model = keras.saving.load_model(run / "model.keras")
    assert sorted(model.output) == ["head_1", "probabilities"]
    # the summary is the history's: last row, best validation Dice, the model's size; the config is resolved
    history, summary = _history(run), json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["params"] == model.count_params()
    assert summary["last"]["loss"] == pytest.approx(float(history[-1]["loss"]))
    assert summary["best"]["val_dice_2"] == pytest.approx(max(float(r["val_dice_2"]) for r in history))
    resolved = json.loads((run / "config.json").read_text())
    assert resolved == TrainConfig.from_dict(config).to_dict() and resolved["loss"] == "dice_ce"
    # the plan: planned from the data's spacings, in plan.json and inside the model file (a copy keeps it)
    from keras_liver.io import load_volume
    from keras_liver.plans import Plan, target_spacing_of

    spacings = [load_volume(p).spacing for p in sorted(ct_folder.glob("volume-*.nii*"))]
    plan = Plan.from_dict(json.loads((run / "plan.json").read_text()))
    assert plan.stage.target_spacing == pytest.approx(target_spacing_of(spacings), abs=1e-4)
    assert plan.stage.patch_size == (4, 16, 16) and plan.stage.labels == ("background", "liver", "tumour")
    assert plan.fingerprint["n_cases"] == 3 and plan.stage.intensity == "window:abdomen"
    shutil.copy(run / "model.keras", tmp_path / "copied.keras")
    assert keras.saving.load_model(tmp_path / "copied.keras", compile=False).plan == plan
    assert keras.saving.load_model(run / "best.keras", compile=False).plan == plan


def test_a_run_can_start_from_a_trained_model_its_architecture_and_spacing(ct_folder, tmp_path):
    from keras_liver.models import CTCascade, save_model

    first = train(tiny_ct_config(ct_folder, tmp_path / "first", target_spacing=[3.0, 2.0, 2.0], epochs=1,
                                 model_args={"depth": 2, "filters": 3, "intensity": "abdomen"}))
    source = keras.saving.load_model(first / "model.keras")
    frozen = tiny_ct_config(ct_folder, tmp_path / "tuned", model_args={}, epochs=1, learning_rate=1e-12,
                            init_from=str(first / "model.keras"))
    tuned = train(frozen)
    saved = json.loads((tuned / "config.json").read_text())
    assert saved["model_args"]["depth"] == 2 and saved["model_args"]["filters"] == 3  # its architecture
    assert saved["target_spacing"] == [3.0, 2.0, 2.0]  # and the spacing its weights learned
    model = keras.saving.load_model(tuned / "model.keras")
    for got, want in zip(model.get_weights(), source.get_weights()):  # a rate of 1e-12 leaves them where they were
        if got.dtype.kind == "f" and got.ndim > 1:
            np.testing.assert_allclose(got, want, atol=1e-6)
    cascade = save_model(CTCascade(source, keras.saving.load_model(first / "model.keras")), tmp_path / "c.keras")
    train(tiny_ct_config(ct_folder, tmp_path / "stage", model_args={}, epochs=1, init_from=str(cascade),
                         init_stage="liver"))
    with pytest.raises(ConfigError, match="init_stage: .* has no classifier stage"):
        train(tiny_ct_config(ct_folder, tmp_path / "bad", model_args={}, init_from=str(cascade),
                             init_stage="classifier"))
    with pytest.raises(ConfigError, match="do not fit"):
        train(tiny_ct_config(ct_folder, tmp_path / "bad", init_from=str(first / "model.keras")))  # depth 1 != 2
    with pytest.raises(ConfigError, match="init_stage: needs init_from"):
        train(tiny_ct_config(ct_folder, tmp_path / "bad", init_stage="liver"))


def test_native_spacing_plans_no_resampling(ct_folder, tmp_path):
    run = train(tiny_ct_config(ct_folder, tmp_path / "run", target_spacing="native", epochs=1))
    assert keras.saving.load_model(run / "model.keras", compile=False).plan.stage.target_spacing is None


def test_xla_compiled_training_step_runs_on_cpu(ct_folder, tmp_path):
    # the GPU figures of issue 6 need a device; the XLA path itself is checked here
    run = train(tiny_ct_config(ct_folder, tmp_path / "run", xla=True, epochs=1))
    assert np.isfinite(float(_history(run)[0]["loss"]))
    assert keras.saving.load_model(run / "model.keras").jit_compile is True  # compiled with XLA, not ignored


@pytest.mark.slow  # flaky on tiny models: see the comment below; run with -m slow
def test_a_bfloat16_run_computes_in_bfloat16_and_loads_as_float32(ct_folder, tmp_path):
    class Policies(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seen = {layer.dtype_policy.name for layer in self.model.layers if layer.weights}

    policies = Policies()
    # Known issue (open): on these 2-4 filter models a bfloat16 run sometimes ends with non-finite weights
    # after its first updates (nondeterministic: it passed alone and failed after other runs in one
    # process); full-size models trained 2,759 steps in bfloat16 (docs/RESULTS.md, design 3).
    run = train(tiny_ct_config(ct_folder, tmp_path / "run", mixed_precision="mixed_bfloat16", epochs=1,
                               learning_rate=1e-4, model_args={"depth": 1, "filters": 4, "intensity": "abdomen"}),
                callbacks=[policies])
    assert policies.seen == {"mixed_bfloat16"}  # every layer with weights computed in bfloat16
    assert np.isfinite(float(_history(run)[0]["loss"]))
    assert json.loads((run / "summary.json").read_text())["policy"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored after training
    # loaded under the default policy the model is float32 (float32 variables were trained) and predicts
    model = keras.saving.load_model(run / "model.keras", compile=False)
    x = np.random.default_rng(0).normal(100, 40, (2, 4, 16, 16, 1)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model({"image": x})["probabilities"])
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_dce_classifier_run(dce_folder, tmp_path):
    run = train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
                 "model": "DCEClassifier", "model_args": {"encoder_filters": [2], "lstm_filters": [2]},
                 "batch_size": 4, "epochs": 1, "val_fraction": 0.5, "verbose": 0})
    row = _history(run)[0]
    assert {"val_accuracy", "val_macro_f1", "val_macro_auc"} <= set(row)
    split = json.loads((run / "split.json").read_text())
    assert len(split["val"]) == 5  # one of each class (stratified)
    model = keras.saving.load_model(run / "model.keras")
    assert model.class_names == ["hcc", "metastasis", "haemangioma", "cyst", "fnh"]


def test_dce_classifier_on_lesion_crops_takes_the_crop(dce_folder, tmp_path):
    run = train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
                 "model": "DCEClassifier", "model_args": {"encoder_filters": [2, 3], "lstm_filters": [2]},
                 "lesion_crop": [3, 6, 10], "batch_size": 4, "epochs": 1, "val_fraction": 0.5, "verbose": 0})
    model = keras.saving.load_model(run / "model.keras")
    assert tuple(model.input["sequence"].shape[2:5]) == (3, 6, 10)
    each = train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "each"),
                  "model": "DCEClassifier", "model_args": {"encoder_filters": [2, 3], "lstm_filters": [2]},
                  "lesion_crop": [3, 6, 10], "lesion_crop_each": True, "batch_size": 4, "epochs": 1,
                  "val_fraction": 0.5, "verbose": 0})
    split = json.loads((each / "split.json").read_text())
    assert sorted(split["train"] + split["val"], key=int) == [str(i) for i in range(10)]  # still by series
    masked = train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "masked"),
                    "model": "DCEClassifier", "model_args": {"encoder_filters": [2, 3], "lstm_filters": [2],
                                                             "lesion_masks": True, "curve_units": 2},
                    "lesion_crop": [3, 6, 10], "lesion_crop_each": True, "batch_size": 4, "epochs": 1,
                    "val_fraction": 0.5, "verbose": 0})
    model = keras.saving.load_model(masked / "model.keras")
    assert tuple(model.input["masks"].shape[1:]) == (3, 6, 10, 2)
    with pytest.raises(ConfigError, match="lesion_masks: needs lesion_crop"):
        train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "bad"),
               "model": "DCEClassifier", "model_args": {"lesion_masks": True}, "lesion_crop": [3, 6, 10]})
    with pytest.raises(ConfigError, match="lesion_crop_each"):
        train({"task": "dce_classification", "data": str(dce_folder), "out_dir": str(tmp_path / "bad"),
               "model": "DCEClassifier", "lesion_crop_each": True})


def test_dce_segmenter_on_series_patches_carries_a_plan_and_segments_whole_series(dce_folder, tmp_path):
    from keras_liver.inference import segment_series
    from keras_liver.io import load_volume

    run = train({"task": "dce_segmentation", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
                 "model": "DCESegmenter", "model_args": {"filters": [2, 3], "normalize_series": False,
                                                         "lstm_kernel": [1, 3]},
                 "series_patch": [4, 8, 8], "target_spacing": "native", "tumour_fraction": 0.5,
                 "tumour_sampling": "lesion", "tumour_jitter": 0.5, "batch_size": 2, "epochs": 2, "steps_per_epoch": 2,
                 "validation_steps": 2, "val_fraction": 0.2, "verbose": 0})
    assert {"val_dice_2", "val_recall_2"} <= set(_history(run)[0])
    plan = json.loads((run / "plan.json").read_text())
    assert plan["task"] == "dce_segmentation" and plan["stages"][0]["intensity"] == "series:baseline"
    assert plan["stages"][0]["patch_size"] == [4, 8, 8] and plan["stages"][0]["roi"] is None
    series = load_volume(dce_folder / "dce-0.nii.gz")
    for name in ("model.keras", "best.keras"):
        model = keras.saving.load_model(run / name)
        assert tuple(model.input_shape[1:]) == (4, 4, 8, 8, 1)  # the patch: whole series go through windows
        assert model.plan.stage.patch_size == (4, 8, 8)
        mask = segment_series(model, series)
        assert mask.shape == series.spatial_shape == (6, 16, 16) and set(np.unique(mask.array)) <= {0, 1, 2}
        np.testing.assert_allclose(mask.affine, series.affine)


def test_a_2d_plus_time_segmenter_trains_on_slices_and_segments_whole_series(dce_folder, tmp_path):
    from keras_liver.inference import segment_series
    from keras_liver.io import load_volume

    run = train({"task": "dce_segmentation", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
                 "model": "DCESegmenter", "model_args": {"filters": [2, 3], "normalize_series": False,
                                                         "spatial_dims": 2},
                 "series_patch": [8, 12], "target_spacing": "native", "batch_size": 2, "epochs": 1,
                 "steps_per_epoch": 2, "validation_steps": 1, "val_fraction": 0.2, "verbose": 0})
    model = keras.saving.load_model(run / "model.keras")
    assert tuple(model.input_shape[1:]) == (4, 8, 12, 1) and model.plan.stage.patch_size == (1, 8, 12)
    series = load_volume(dce_folder / "dce-0.nii.gz")
    mask = segment_series(model, series)
    assert mask.shape == (6, 16, 16) and set(np.unique(mask.array)) <= {0, 1, 2}
    with pytest.raises(ConfigError, match="spatial_dims"):
        train({"task": "dce_segmentation", "data": str(dce_folder), "out_dir": str(tmp_path / "bad"),
               "model": "DCESegmenter", "model_args": {"spatial_dims": 2}, "series_patch": [4, 8, 8]})


def test_dce_validation_boxes_can_come_from_a_stage_1_model(dce_folder, tmp_path):
    from keras_liver.io import load_volume
    from keras_liver.training.datasets import _dce_val_roi
    from keras_liver.training.train_config import TrainConfig

    common = {"task": "dce_segmentation", "data": str(dce_folder), "model": "DCESegmenter",
              "model_args": {"filters": [2, 3], "normalize_series": False}, "series_patch": [4, 8, 8],
              "target_spacing": "native", "batch_size": 2, "epochs": 1, "steps_per_epoch": 1,
              "validation_steps": 1, "val_cases": ["3"], "verbose": 0}
    stage1 = train({**common, "out_dir": str(tmp_path / "s1")}) / "model.keras"
    model = keras.saving.load_model(stage1)
    head = model.get_layer("probabilities_logits")
    head.set_weights([head.get_weights()[0] * 0, np.array([0.0, 8.0, 0.0], np.float32)])  # liver everywhere
    model.save(stage1)
    config = TrainConfig.from_dict({**common, "out_dir": str(tmp_path / "s2"), "crop_margin_mm": 3.0,
                                    "val_roi_model": str(stage1)})
    mask_of = _dce_val_roi(config, {"3"})
    series = load_volume(dce_folder / "dce-3.nii.gz")
    assert mask_of("0", series) is None  # training series keep their true liver box
    mask = mask_of("3", series)
    assert mask.shape == series.spatial_shape and mask.all()  # the stage-1 model's liver, not the true one
    run = train(config)
    assert "val_dice_2" in _history(run)[0]


def test_dce_stage_two_trains_inside_liver_boxes_at_a_planned_spacing(dce_folder, tmp_path):
    run = train({"task": "dce_segmentation", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
                 "model": "DCESegmenter", "model_args": {"filters": [2, 3], "normalize_series": False},
                 "series_patch": [4, 8, 8], "target_spacing": "auto", "crop_margin_mm": 5.0,
                 "batch_size": 2, "epochs": 1, "steps_per_epoch": 2, "validation_steps": 1,
                 "val_fraction": 0.2, "verbose": 0})
    stage = keras.saving.load_model(run / "model.keras").plan.stage
    assert stage.roi == {"rule": "liver_box", "margin_mm": 5.0}
    assert stage.target_spacing is not None and len(stage.target_spacing) == 3


def test_series_patch_is_checked(dce_folder, tmp_path):
    from keras_liver.errors import MissingPathError

    base = {"task": "dce_segmentation", "data": str(dce_folder), "out_dir": str(tmp_path / "run"),
            "model": "DCESegmenter", "verbose": 0}
    with pytest.raises(ConfigError, match="series_patch"):
        train({**base, "task": "dce_classification", "model": "DCEClassifier", "series_patch": [4, 8, 8]})
    with pytest.raises(ConfigError, match="crop_margin_mm"):
        train({**base, "crop_margin_mm": 5.0})  # boxes need patch training
    with pytest.raises(ConfigError, match="multiple of 2"):
        train({**base, "model_args": {"filters": [2, 3]}, "series_patch": [3, 8, 8]})
    with pytest.raises(MissingPathError, match="val_roi_model"):
        train({**base, "series_patch": [4, 8, 8], "crop_margin_mm": 5.0, "val_roi_model": "x.keras"})


KILL_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    import keras
    from keras_liver.training import train

    class KillInEpoch2(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 2 and batch == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    config = json.loads(sys.argv[1])
    kill = [KillInEpoch2()] if sys.argv[2] == "kill" else []
    train(config, callbacks=kill)
""")


def test_killed_run_resumes_from_its_last_epoch(ct_folder, tmp_path):
    config = tiny_ct_config(ct_folder, tmp_path / "run", epochs=4, steps_per_epoch=3)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.run([sys.executable, "-c", KILL_SCRIPT, json.dumps(config), "kill"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    run = pathlib.Path(config["out_dir"])
    assert [r["epoch"] for r in _history(run)] == ["0", "1"]  # killed inside epoch 2
    assert (run / "backup").is_dir() and not (run / "model.keras").exists()
    second = subprocess.run([sys.executable, "-c", KILL_SCRIPT, json.dumps(config), "go"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    # the second process went on with epochs 2 and 3 instead of starting again at 0
    assert [r["epoch"] for r in _history(run)] == ["0", "1", "2", "3"]
    assert (run / "model.keras").exists()


def test_two_workers_end_with_identical_weights(ct_folder, tmp_path):
    import socket

    config = tiny_ct_config(ct_folder, tmp_path / "run", epochs=1, steps_per_epoch=3, batch_size=4, val_fraction=0.0)
    (tmp_path / "config.json").write_text(json.dumps(config))
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker",
                                                                                       "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        procs.append(subprocess.Popen([sys.executable, "-m", "keras_liver.training.multi_worker", "--config",
                                       str(tmp_path / "config.json")], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    a = np.load(tmp_path / "run" / "workers" / "worker_0.npz")
    b = np.load(tmp_path / "run" / "workers" / "worker_1.npz")
    assert len(a.files) > 10
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    initial = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert not np.allclose(np.asarray(initial.weights[0]), 0)


class _Poison(keras.callbacks.Callback):
    """Turn one weight non-finite at the start of an epoch, as a saturated softmax's NaN gradient did."""

    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            weight = self.model.trainable_weights[0]
            weight.assign(np.full(weight.shape, np.nan, np.float32))


def test_diverging_run_fails_keeps_its_last_good_state_and_resumes(ct_folder, tmp_path, monkeypatch, capsys):
    import functools

    import yaml

    import keras_liver.training
    from keras_liver.cli.main import main
    from keras_liver.errors import TrainingDivergedError

    config = tiny_ct_config(ct_folder, tmp_path / "run", epochs=3)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr(keras_liver.training, "train", functools.partial(train, callbacks=[_Poison(1)]))
    assert main(["train", "--config", str(tmp_path / "c.yaml")]) == 2  # the CLI: exit 2 and one line
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "diverged" in err and "epoch 2" in err and "resume" in err, err
    run = tmp_path / "run"
    assert not (run / "model.keras").exists()  # never a non-finite model.keras
    assert (run / "backup").is_dir() and [r["epoch"] for r in _history(run)] == ["0"]
    monkeypatch.undo()

    with pytest.raises(TrainingDivergedError, match="diverged"):  # the library raises the same
        train(config, callbacks=[_Poison(1)])
    resumed = train(config)  # no poison: continues from the last finished epoch
    assert [r["epoch"] for r in _history(resumed)] == ["0", "1", "2"]
    model = keras.saving.load_model(resumed / "model.keras")
    assert all(np.isfinite(np.asarray(w)).all() for w in model.weights)


def test_a_2_5d_run_plans_its_context_and_predicts(ct_folder, tmp_path):
    from keras_liver.inference import predict_volume
    from keras_liver.io import load_volume

    run = train(tiny_ct_config(ct_folder, tmp_path / "run", patch_size=[16, 16], context_slices=1, epochs=1))
    model = keras.saving.load_model(run / "model.keras", compile=False)
    assert model.input["image"].shape[-1] == 3 and model.plan.stage.context_slices == 1
    image = load_volume(sorted(ct_folder.glob("volume-*.nii*"))[0])
    assert predict_volume(model, image).shape == image.shape
    with pytest.raises(ConfigError, match="context_slices"):
        TrainConfig.from_dict(tiny_ct_config(ct_folder, tmp_path / "bad", context_slices=1))  # 3D patch


def test_a_time_budget_stops_training_and_decays_the_rate_over_time():
    from keras_liver.training.callbacks import TimeBudget

    now = [100.0]
    budget = TimeBudget(10.0, cosine_from=0.01, clock=lambda: now[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.5), loss="mse")
    budget.set_model(model)
    budget.on_train_begin()
    rates = []
    for t in (100.0, 102.5, 105.0, 110.0):
        now[0] = t
        budget.on_train_batch_begin(0)
        rates.append(float(model.optimizer.learning_rate.numpy()))
        budget.on_train_batch_end(0)
    np.testing.assert_allclose(rates, [0.01, 0.01 * (1 + np.cos(np.pi / 4)) / 2, 0.005, 0.0], atol=1e-7)
    assert budget.stopped and model.stop_training and budget.steps == 4


def test_a_run_with_a_time_budget_stops_early_and_says_so(ct_folder, tmp_path):
    run = train(tiny_ct_config(ct_folder, tmp_path / "run", epochs=50, time_budget_s=0.001))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped_by_time_budget"] and summary["epochs_run"] == 1 and summary["steps_run"] == 1
    assert (run / "best.keras").is_file()


def test_a_denoising_run_caches_denoised_cases_and_plans_it(ct_folder, tmp_path):
    from keras_liver.data import load_store
    from keras_liver.io import load_volume
    from keras_liver.preprocess import threshold_denoise

    run = train(tiny_ct_config(ct_folder, tmp_path / "run", target_spacing="native", denoise={"k": 3.0}, epochs=1))
    assert keras.saving.load_model(run / "model.keras", compile=False).plan.stage.denoise == {"k": 3.0}
    ids, images, _ = load_store(run / "cache.h5")
    source = load_volume(ct_folder / f"volume-{ids[0]}.nii.gz").array.astype(np.float32)
    np.testing.assert_array_equal(images[0], np.rint(threshold_denoise(source, k=3.0)).astype(np.int16))
    with pytest.raises(ConfigError, match="denoise"):
        TrainConfig.from_dict({"task": "dce_classification", "model": "DCEClassifier", "denoise": True})


def test_validation_boxes_can_come_from_a_stage_1_model(ct_folder, tmp_path):
    from keras_liver.data import load_store
    from keras_liver.errors import MissingPathError

    stage1 = train(tiny_ct_config(ct_folder, tmp_path / "stage1", epochs=1)) / "model.keras"
    common = dict(crop_margin_mm=4.0, target_spacing="native", epochs=1, val_cases=["1"])
    truth_boxes = train(tiny_ct_config(ct_folder, tmp_path / "truth", **common))
    model_boxes = train(tiny_ct_config(ct_folder, tmp_path / "model", val_roi_model=str(stage1), **common))
    ids, a, _ = load_store(truth_boxes / "cache.h5")
    _, b, _ = load_store(model_boxes / "cache.h5")
    for case, x, y in zip(ids, a, b):
        if case == "1":  # an untrained stage 1 predicts some other region: a different box
            assert x.shape != y.shape or not np.array_equal(x, y)
        else:  # training cases keep the true liver's box
            np.testing.assert_array_equal(x, y)
    with pytest.raises(MissingPathError, match="val_roi_model"):
        train(tiny_ct_config(ct_folder, tmp_path / "missing", val_roi_model=str(tmp_path / "no.keras"), **common))
    with pytest.raises(ConfigError, match="val_roi_model"):
        TrainConfig.from_dict(tiny_ct_config(ct_folder, tmp_path / "x", val_roi_model=str(stage1)))
