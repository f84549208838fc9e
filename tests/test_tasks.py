"""The task contract: one description per task, and `task_of` for models, signatures and metadata."""

import inspect

import keras
import numpy as np
import pytest

from keras_liver import models, tasks
from keras_liver.errors import ConfigError

TINY = {
    "FusedUNet": dict(input_shape=(None, None, 1), depth=1, filters=2, extra_inputs={"hog": 3}),
    "UNet": dict(input_shape=(None, None, None, 1), depth=1, filters=2),
    "DCEClassifier": dict(input_shape=(3, 4, 8, 8, 1), encoder_filters=(2,), lstm_filters=(2,)),
    "DCESegmenter": dict(input_shape=(3, 4, 8, 8, 1), filters=(2, 2)),
    "SinglePhaseCNN": dict(input_shape=(3, 4, 8, 8, 1), encoder_filters=(2,)),
    "CurveLSTM": dict(input_shape=(5, 3), units=(3,)),
}


@pytest.fixture(scope="module")
def built():
    return {name: getattr(models, name)(**args) for name, args in TINY.items()}


def test_every_model_class_declares_a_known_task(built):
    assert {cls.task for cls in map(models.model_class, TINY)} == set(tasks.names())
    for name, model in built.items():
        assert tasks.task_of(model).name == type(model).task


def test_names_alone_give_the_same_task_as_the_class(built):
    for name, model in built.items():
        plain = keras.Model(model.input, model.output)  # a functional copy without the class attribute
        assert getattr(plain, "task", None) is None
        assert tasks.task_of(plain).name == type(model).task, name


def test_signature_dicts_and_metadata_json():
    seg = {"inputs": {"hog": {"shape": [None, None, None, 9]}, "image": {"shape": [None, None, None, 1]}},
           "outputs": {"probabilities": {}, "mask": {}}}
    cls = {"inputs": {"sequence": {"shape": [None, None, 4, 8, 8, 1]}},
           "outputs": {"probabilities": {}, "label": {}, "class_name": {}}}
    dce_seg = {"inputs": {"sequence": {"shape": [None, 3, 4, 8, 8, 1]}}, "outputs": {"probabilities": {}, "mask": {}}}
    assert [tasks.task_of(s).name for s in (seg, cls, dce_seg)] == list(tasks.names())
    assert tasks.task_of({**cls, "task_name": "dce_classification"}).kind == "classification"
    assert tasks.get("ct_segmentation").ordered_inputs(seg["inputs"]) == ["image", "hog"]  # not the dict's order


@pytest.mark.parametrize("signature, words", [
    ({"inputs": {"volume": {}}, "outputs": {"probabilities": {}}}, ["volume", "no task"]),
    ({"inputs": {"image": {"shape": [None, 4, 4, 4, 4, 1]}}, "outputs": {"probabilities": {}}}, ["no task"]),
    ({"inputs": {"sequence": {}}, "outputs": {"probabilities": {}}}, ["sequence", "no task"]),
    ({"inputs": {"image": {}, "extra": {}}, "outputs": {"probabilities": {}}}, ["extra"]),
])
def test_names_that_fit_no_task_are_refused(signature, words):
    with pytest.raises(ConfigError) as caught:
        tasks.task_of(signature)
    assert all(w in str(caught.value) for w in words)


def test_unknown_task_and_monitor():
    with pytest.raises(ConfigError, match="ct_segmentaton"):
        tasks.get("ct_segmentaton")
    tasks.get("dce_classification").check_monitor("val_macro_auc")
    tasks.get("ct_segmentation").check_monitor("loss")
    with pytest.raises(ConfigError, match="val_macro_f1"):
        tasks.get("ct_segmentation").check_monitor("val_macro_f1")


def test_get_config_is_exactly_the_constructor_arguments(built):
    for name, model in built.items():
        params = [p for p in inspect.signature(type(model).__init__).parameters if p not in ("self", "kwargs")]
        config = model.get_config()
        assert set(config) - {"trainable"} == set(params), name
        again = type(model).from_config(config)
        assert again.get_config() == config and again.count_params() == model.count_params()


def test_keras_files_round_trip_exactly(built, tmp_path):
    rng = np.random.default_rng(0)
    feeds = {"FusedUNet": {"image": rng.normal(size=(1, 8, 8, 1)), "hog": rng.normal(size=(1, 8, 8, 3))},
             "UNet": {"image": rng.normal(size=(1, 4, 8, 6, 1))},
             "CurveLSTM": {"curves": rng.normal(size=(2, 5, 3))}}
    for name, model in built.items():
        feed = feeds.get(name, {"sequence": rng.uniform(50, 200, size=(1, 3, 4, 8, 8, 1))})
        path = models.save_model(model, tmp_path / f"{name}.keras")
        loaded = models.load_model(path)
        assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
        want, got = model.predict(feed, verbose=0), loaded.predict(feed, verbose=0)
        np.testing.assert_array_equal(np.asarray(got["probabilities"]), np.asarray(want["probabilities"]))
        assert not list(tmp_path.glob(".*.tmp.keras"))  # written beside, then renamed


def test_changed_class_names_are_saved(built, tmp_path):
    model = built["DCEClassifier"]
    model.class_names = ["a", "b", "c", "d", "e"]
    loaded = models.load_model(models.save_model(model, tmp_path / "m.keras"))
    assert loaded.class_names == ["a", "b", "c", "d", "e"]


def test_model_args_are_checked_against_the_constructor():
    with pytest.raises(ConfigError, match="depht"):
        models.model_class("FusedUNet").check_args({"depht": 2})
    with pytest.raises(ConfigError, match="HOGSVM"):  # not a Keras model of a task
        models.model_class("HOGSVM")


def test_iter_layers_finds_what_keras_private_walk_finds(built):
    outer_input = keras.Input((None, None, 1), name="image")
    wrapped = keras.Model({"image": outer_input}, built["UNet"].__class__(input_shape=(None, None, 1), depth=1,
                                                                          filters=2)({"image": outer_input}))
    for model in (*built.values(), wrapped):
        ours = [id(layer) for layer in models.iter_layers(model)]
        theirs = [id(layer) for layer in model._flatten_layers(include_self=False)]  # the oracle
        assert len(ours) == len(set(ours)) and set(ours) == set(theirs)
