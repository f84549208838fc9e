"""Export to versioned SavedModels: layout, float32, verification, warm-up, metadata, atomicity."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_models import DCE_CLASSES, tiny_classifier, tiny_segmenter

from keras_liver.errors import ConfigError, ExportError
from keras_liver.export import (
    ServingModel,
    check_signature_listing,
    export_saved_model,
    float32_copy,
    model_versions,
    read_warmup_requests,
    saved_model_cli_show,
    verify_saved_model,
)


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    keras.config.set_dtype_policy("float32")


def _run(path, inputs):
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_mixed_precision_model_exports_float32_graph_equal_to_keras(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    model = tiny_segmenter(1)
    keras.config.set_dtype_policy("float32")
    path = export_saved_model(model, tmp_path, "liver_seg", 1, patch_size=(1, 24, 20))
    assert path == tmp_path / "liver_seg" / "1"
    assert {p.name for p in path.iterdir()} >= {"saved_model.pb", "variables", "assets.extra", "metadata.json"}
    assert [p.name for p in (tmp_path / "liver_seg").iterdir()] == ["1"]  # no temporary folder left

    hu = np.random.default_rng(0).uniform(-300, 400, (3, 20, 28, 1)).astype(np.float32)
    got = _run(path, {"image": hu})
    assert set(got) == {"probabilities", "mask"}  # deep-supervision heads dropped
    assert got["probabilities"].dtype == np.float32 and got["mask"].dtype == np.uint8
    reference = float32_copy(model)
    want = np.asarray(reference.predict_on_batch({"image": hu})["probabilities"])
    assert np.max(np.abs(got["probabilities"] - want)) <= 1e-5
    np.testing.assert_array_equal(got["mask"], want.argmax(-1))
    # the float16 model itself only agrees to half precision: the copy really is float32
    half = np.asarray(model.predict_on_batch({"image": hu})["probabilities"], np.float32)
    assert 1e-5 < np.max(np.abs(half - want)) < 0.05

    meta = json.loads((path / "metadata.json").read_text())
    assert meta["inputs"]["image"]["shape"] == [None, None, None, 1]
    assert meta["inputs"]["image"]["intensity_in_graph"]["layer"] == "IntensityWindow"
    assert set(meta["outputs"]) == {"probabilities", "mask"}
    assert meta["labels"] == ["background", "liver", "tumour"]
    assert "mixed_float16" in meta["precision"]["trained"] and meta["precision"]["exported"] == "float32"
    assert meta["model_class"] == "FusedUNet" and meta["patch_size"] == [1, 24, 20]
    assert meta["verification"]["max_abs_diff"] <= 1e-5
    assert meta["versions"]["tensorflow"] == tf.__version__


def test_float32_copy_keeps_weights_and_returns_float32_models_unchanged():
    plain = tiny_segmenter(2, deep_supervision=False)
    assert float32_copy(plain) is plain
    keras.config.set_dtype_policy("mixed_float16")
    mixed = tiny_segmenter(2, deep_supervision=False)
    keras.config.set_dtype_policy("float32")
    copy = float32_copy(mixed)
    assert {layer.dtype_policy.name for layer in copy._flatten_layers(include_self=False)} == {"float32"}
    for a, b in zip(mixed.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_classifier_signature_listed_by_saved_model_cli(tmp_path):
    path = export_saved_model(tiny_classifier(), tmp_path, "dce_cls", 3)
    text = saved_model_cli_show(path)
    check_signature_listing(path, ["sequence"], ["probabilities", "label", "class_name"], text=text)
    body = text.split("signature_def['serving_default']:")[1]
    assert "shape: (-1, -1, 4, 12, 12, 1)" in body  # dynamic batch and time axes
    assert "DT_STRING" in body and "DT_INT32" in body
    with pytest.raises(ExportError, match="outputs\\['mask'\\]"):
        check_signature_listing(path, ["sequence"], ["mask"], text=text)

    series = np.random.default_rng(1).uniform(80, 400, (2, 7, 4, 12, 12, 1)).astype(np.float32)
    got = _run(path, {"sequence": series})
    want = tiny_classifier().predict_on_batch({"sequence": series})
    assert np.max(np.abs(got["probabilities"] - want["probabilities"])) <= 1e-5
    np.testing.assert_array_equal(got["label"], np.asarray(want["label"]))
    assert [c.decode() for c in got["class_name"]] == [DCE_CLASSES[k] for k in np.asarray(want["label"])]


def test_a_classifier_s_own_class_names_are_served_not_the_task_defaults():
    from keras_liver.models import DCEClassifier

    own = list(reversed(DCE_CLASSES))  # same count as the task's names, another order
    keras.utils.set_random_seed(0)
    model = DCEClassifier(input_shape=(None, 4, 12, 12, 1), encoder_filters=(4, 8), lstm_filters=(4,),
                          dropout=0.0, class_names=own)
    assert ServingModel.from_keras(model).labels == tuple(own)
    assert ServingModel.from_keras(tiny_classifier()).labels == tuple(DCE_CLASSES)


def test_existing_version_is_refused_unless_overwrite(tmp_path):
    first = export_saved_model(tiny_segmenter(3), tmp_path, "m", 1, warmup=False)
    with pytest.raises(ExportError, match="already exists"):
        export_saved_model(tiny_segmenter(4), tmp_path, "m", 1, warmup=False)
    hu = np.full((1, 16, 16, 1), 60.0, np.float32)
    before = _run(first, {"image": hu})["probabilities"]
    export_saved_model(tiny_segmenter(4), tmp_path, "m", 1, overwrite=True, warmup=False)
    after = _run(first, {"image": hu})["probabilities"]
    assert not np.allclose(before, after)
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["1"]


def test_versions_count_up_and_names_are_checked(tmp_path):
    model = tiny_segmenter(5)
    assert export_saved_model(model, tmp_path, "m", warmup=False, verify=False).name == "1"
    assert export_saved_model(model, tmp_path, "m", warmup=False, verify=False).name == "2"
    assert model_versions(tmp_path / "m") == [1, 2]
    with pytest.raises(ConfigError, match="name"):
        export_saved_model(model, tmp_path, "../evil", 1)
    with pytest.raises(ConfigError, match="version"):
        export_saved_model(model, tmp_path, "m", 0)


def test_failed_export_leaves_no_version_and_no_temporary_folder(tmp_path, monkeypatch):
    import keras_liver.export.saved_model as saved_model

    def broken(*args, **kwargs):
        raise ExportError("simulated failure after the SavedModel was written")

    monkeypatch.setattr(saved_model, "verify_saved_model", broken)
    with pytest.raises(ExportError, match="simulated"):
        export_saved_model(tiny_segmenter(6), tmp_path, "m", 1)
    assert list((tmp_path / "m").iterdir()) == []


def test_verification_detects_a_different_model(tmp_path):
    path = export_saved_model(tiny_segmenter(7), tmp_path, "m", 1, warmup=False)
    other = ServingModel.from_keras(tiny_segmenter(8))
    inputs = other.example_inputs(2, {"image": (16, 24, 1)})
    with pytest.raises(ExportError, match="differ"):
        verify_saved_model(path, other, inputs)


def test_warmup_records_are_prediction_logs_with_the_patch_shape(tmp_path):
    path = export_saved_model(tiny_segmenter(9), tmp_path, "liver_seg", 1, patch_size=(1, 24, 20),
                              warmup_batch_sizes=(1, 3))
    requests = read_warmup_requests(path / "assets.extra" / "tf_serving_warmup_requests")
    assert len(requests) == 2
    for request, batch in zip(requests, (1, 3)):
        assert request.model_spec.name == "liver_seg"
        assert request.model_spec.signature_name == "serving_default"
        assert list(request.inputs) == ["image"]
        assert tf.make_ndarray(request.inputs["image"]).shape == (batch, 24, 20, 1)


def test_dce_segmenter_exports_sequence_in_mask_out(tmp_path):
    from keras_liver.models import DCESegmenter

    keras.utils.set_random_seed(10)
    model = DCESegmenter(input_shape=(None, 4, 8, 8, 1), filters=(4, 8))
    path = export_saved_model(model, tmp_path, "dce_seg", 1)
    series = np.random.default_rng(2).uniform(80, 400, (1, 5, 4, 8, 8, 1)).astype(np.float32)
    got = _run(path, {"sequence": series})
    want = np.asarray(model.predict_on_batch({"sequence": series})["probabilities"])
    assert got["mask"].shape == (1, 4, 8, 8) and got["mask"].dtype == np.uint8
    assert np.max(np.abs(got["probabilities"] - want)) <= 1e-5
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["task"] == "segmentation" and meta["labels"] == ["background", "liver", "lesion"]
    assert "pre-contrast" in meta["inputs"]["sequence"]["intensity_in_graph"]


def test_export_removes_stale_temporaries_of_killed_exports_only(tmp_path):
    import os
    import time

    from serving_models import tiny_classifier

    model_dir = tmp_path / "models" / "dce"
    old, fresh = model_dir / ".tmp-1-deadbeef", model_dir / ".tmp-2-cafe0000"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    export_saved_model(tiny_classifier(4), tmp_path / "models", "dce", 3, warmup=False)
    assert not old.exists() and fresh.exists()  # a fresh one may belong to an export still running
    assert (model_dir / "3" / "saved_model.pb").is_file()
