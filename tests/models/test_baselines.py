import numpy as np
import pytest
from model_checks import assert_gradients_reach_every_weight, assert_round_trips

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.models import HOGSVM, CurveLSTM, FusedUNet, UNet


def test_unet_has_one_skip_per_level_and_trains(rng):
    model = UNet(input_shape=(None, None, 1), depth=2, filters=3, extra_inputs={"hog": 2}, intensity="liver")
    parents = [n.operation.name for n in model.get_layer("d_0_concat")._inbound_nodes[0].parent_nodes]
    assert parents == ["x_0_0", "up_1"]
    inputs = {"image": rng.normal(50, 100, (2, 12, 16, 1)).astype("float32"),
              "hog": rng.random((2, 12, 16, 2)).astype("float32")}
    probs = np.asarray(model(inputs)["probabilities"])
    assert probs.shape == (2, 12, 16, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert_gradients_reach_every_weight(model, inputs)
    same = FusedUNet(input_shape=(None, None, 1), depth=2, filters=3, extra_inputs={"hog": 2})
    assert model.count_params() < same.count_params()  # the nested skips cost parameters


def test_unet_3d_round_trip(rng, tmp_path):
    model = UNet(input_shape=(4, 8, 8, 1), depth=1, filters=2)
    assert_round_trips(model, {"image": rng.random((1, 4, 8, 8, 1)).astype("float32")}, tmp_path)


def test_curve_lstm(rng, tmp_path):
    model = CurveLSTM(input_shape=(None, 3), units=(5, 4), class_names=list("abcde"))
    inputs = {"curves": rng.random((3, 7, 3)).astype("float32")}
    out = model(inputs)
    assert out["probabilities"].shape == (3, 5) and out["label"].shape == (3,)
    assert_gradients_reach_every_weight(model, inputs)
    assert_round_trips(model, inputs, tmp_path)


def _blobs(rng, n=60, classes=3, features=20):
    centres = rng.normal(0, 3, (classes, features))
    y = np.arange(n) % classes
    return centres[y] + rng.normal(0, 0.5, (n, features)), y


def test_svm_learns_saves_and_loads_without_pickle(rng, tmp_path):
    x, y = _blobs(rng)
    svm = HOGSVM(class_names=["hcc", "cyst", "fnh"]).fit(x[:45], y[:45])
    assert (svm.predict(x[45:]) == y[45:]).mean() == 1.0
    proba = svm.predict_proba(x[45:])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(proba.argmax(1), svm.predict(x[45:]))
    path = svm.save(tmp_path / "svm.npz")
    with np.load(path, allow_pickle=False) as data:  # no object arrays anywhere
        assert {"coef", "intercept", "mean", "scale", "classes", "meta"} <= set(data.files)
    again = HOGSVM.load(path)
    np.testing.assert_array_equal(again.decision_function(x), svm.decision_function(x))
    assert again.class_names == ["hcc", "cyst", "fnh"]


def test_svm_two_classes(rng):
    x, y = _blobs(rng, classes=2)
    svm = HOGSVM().fit(x, y)
    assert svm.decision_function(x).shape == (len(x), 2)
    assert (svm.predict(x) == y).mean() == 1.0


def test_svm_errors(rng, tmp_path):
    with pytest.raises(ConfigError, match="fit or load"):
        HOGSVM().predict(np.zeros((1, 3)))
    with pytest.raises(ConfigError, match="two classes"):
        HOGSVM().fit(np.zeros((4, 3)), np.zeros(4))
    x, y = _blobs(rng)
    svm = HOGSVM().fit(x, y)
    with pytest.raises(ConfigError, match="expected"):
        svm.predict(np.zeros((2, 7)))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="bad.npz"):
        HOGSVM.load(tmp_path / "bad.npz")
    with pytest.raises(MissingPathError):
        HOGSVM.load(tmp_path / "none.npz")


def test_load_model_registers_and_checks(tmp_path):
    from keras_liver.errors import FileFormatError, MissingPathError
    from keras_liver.models import load_model

    model = CurveLSTM(input_shape=(4, 3))
    model.save(tmp_path / "m.keras")
    assert type(load_model(tmp_path / "m.keras")) is CurveLSTM
    with pytest.raises(MissingPathError, match="none.keras"):
        load_model(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="bad.keras"):
        load_model(tmp_path / "bad.keras")
