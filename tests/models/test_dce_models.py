import keras
import numpy as np
import pytest
from model_checks import assert_gradients_reach_every_weight, assert_round_trips

from keras_liver.errors import ConfigError
from keras_liver.layers import FoldTime, UnfoldTime
from keras_liver.models import DCEClassifier, DCESegmenter, SinglePhaseCNN, with_input_shape
from keras_liver.phantoms import LESION_CLASSES

SERIES = (2, 5, 12, 20, 20, 1)  # batch, t, z, y, x, c: odd and tiny


def _series(rng, shape=SERIES):
    return {"sequence": rng.uniform(50, 400, shape).astype("float32")}


def _classifier(**kwargs):
    return DCEClassifier(**{"input_shape": (None, 12, 20, 20, 1), "encoder_filters": (3, 4), "lstm_filters": (4,),
                            "class_names": LESION_CLASSES, **kwargs})


@pytest.mark.parametrize("recurrent, lstm_filters", [("convlstm2d", (4, 3)), ("convlstm3d", (3,))])
def test_classifier_outputs_and_gradients(rng, recurrent, lstm_filters):
    model = _classifier(recurrent=recurrent, lstm_filters=lstm_filters)
    inputs = _series(rng)
    out = model(inputs)
    probs = np.asarray(out["probabilities"])
    assert probs.shape == (2, 5) and out["label"].dtype == "int32"
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(out["label"]), probs.argmax(-1))
    assert_gradients_reach_every_weight(model, inputs)


def _masks(rng, batch=2, lesion=True):
    masks = np.zeros((batch, 12, 20, 20, 2), np.float32)
    masks[:, 5:8, 8:12, 9:12, 0] = 1.0 if lesion else 0.0
    masks[:, :, :, 12:, 1] = 1.0
    return masks


def test_a_classifier_with_lesion_masks_reads_the_masked_voxels(rng):
    model = _classifier(lesion_masks=True, dropout=0.0)
    assert set(model.input) == {"sequence", "masks"}
    inputs = {**_series(rng), "masks": _masks(rng)}
    probs = np.asarray(model(inputs)["probabilities"])
    assert probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert_gradients_reach_every_weight(model, inputs)  # the curve LSTM too
    moved = {**inputs, "masks": np.roll(inputs["masks"], 4, axis=2)}  # the same series, another lesion
    assert np.abs(np.asarray(model(moved)["probabilities"]) - probs).max() > 1e-4
    with pytest.raises(ValueError):
        model(_series(rng))  # the masks input is required


def test_classifier_takes_any_number_of_frames(rng):
    model = _classifier()
    for frames in (3, 7):
        assert model(_series(rng, (1, frames, 12, 20, 20, 1)))["probabilities"].shape == (1, 5)


def test_classifier_is_invariant_to_the_signal_scale(rng):
    """Series normalisation inside the graph: a scanner with 3x the signal gives the same answer."""
    model = _classifier(dropout=0.0)
    inputs = _series(rng)
    np.testing.assert_allclose(np.asarray(model({"sequence": 3.0 * inputs["sequence"]})["probabilities"]),
                               np.asarray(model(inputs)["probabilities"]), atol=1e-4)


def test_folding_time_gives_the_numbers_of_time_distributed(rng):
    frame = keras.Input((6, 8, 8, 1))
    encoder = keras.Model(frame, keras.layers.Conv3D(4, 3, padding="same")(frame))
    sequence = keras.Input((None, 6, 8, 8, 1))
    folded = keras.Model(sequence, UnfoldTime()([encoder(FoldTime()(sequence)), sequence]))
    looped = keras.Model(sequence, keras.layers.TimeDistributed(encoder)(sequence))
    x = rng.normal(size=(3, 4, 6, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(looped(x)), rtol=1e-5, atol=1e-5)


def test_segmenter_outputs_and_gradients(rng):
    model = DCESegmenter(input_shape=(None, 12, 20, 20, 1), filters=(3, 4, 4), norm="group")
    inputs = _series(rng)
    out = model(inputs)
    probs = np.asarray(out["probabilities"])
    assert probs.shape == (2, 12, 20, 20, 3) and out["mask"].shape == (2, 12, 20, 20)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert_gradients_reach_every_weight(model, inputs)


def test_single_phase_cnn_sees_only_its_phase(rng):
    model = SinglePhaseCNN(input_shape=(5, 12, 20, 20, 1), phase=2, encoder_filters=(3, 4), dropout=0.0)
    inputs = _series(rng)
    changed = inputs["sequence"].copy()
    changed[:, 4] += 100.0  # another post-contrast frame
    np.testing.assert_allclose(np.asarray(model({"sequence": changed})["probabilities"]),
                               np.asarray(model(inputs)["probabilities"]), atol=1e-6)
    changed[:, 2] += 100.0
    assert not np.allclose(np.asarray(model({"sequence": changed})["probabilities"]),
                           np.asarray(model(inputs)["probabilities"]), atol=1e-6)
    assert_gradients_reach_every_weight(model, inputs)


@pytest.mark.parametrize("build", [
    lambda: _classifier(),
    lambda: _classifier(recurrent="convlstm3d"),
    lambda: _classifier(subtraction=True),
    lambda: _classifier(lesion_masks=True, curve_units=3),
    lambda: DCESegmenter(input_shape=(None, 12, 20, 20, 1), filters=(3, 4)),
    lambda: DCESegmenter(input_shape=(5, 12, 20, 20, 1), filters=(3, 4), subtraction=True),
    lambda: SinglePhaseCNN(input_shape=(5, 12, 20, 20, 1), encoder_filters=(3, 4), phase=-1),
])
def test_round_trips(rng, tmp_path, build):
    model = build()
    inputs = {**_series(rng), **({"masks": _masks(rng)} if "masks" in model.input else {})}
    assert_round_trips(model, inputs, tmp_path)


def _dce_models():
    return (_classifier(), DCESegmenter(input_shape=(5, 12, 20, 20, 1), filters=(3, 4)),
            SinglePhaseCNN(input_shape=(5, 12, 20, 20, 1), encoder_filters=(3, 4)))


def test_mixed_float16_builds_with_float32_outputs(mixed_precision):
    # TensorFlow has no float16 MaxPool3D kernel on CPU, so these run on a GPU; here the graph is checked
    for model in _dce_models():
        assert model.get_layer("encoder_level0_conv1").compute_dtype == "float16"
        assert model.output["probabilities"].dtype == "float32"


def test_mixed_bfloat16_runs_on_cpu(rng):
    keras.config.set_dtype_policy("mixed_bfloat16")
    for model in _dce_models():
        probs = np.asarray(model(_series(rng))["probabilities"])
        assert probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-3)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="input_shape"):
        DCEClassifier(input_shape=(12, 20, 20, 1))
    with pytest.raises(ConfigError, match="recurrent"):
        _classifier(recurrent="gru")
    with pytest.raises(ConfigError, match="class_names"):
        _classifier(class_names=["a", "b"])
    with pytest.raises(ConfigError, match="phase 9"):
        SinglePhaseCNN(input_shape=(5, 12, 20, 20, 1), phase=9)


def test_with_input_shape_keeps_the_weights_for_a_new_size(rng):
    patch_model = DCESegmenter(input_shape=(3, 4, 8, 12, 1), filters=(2, 3))
    x = rng.normal(size=(2, 3, 4, 8, 12, 1)).astype(np.float32)
    expected = patch_model({"sequence": x})["probabilities"].numpy()
    whole = with_input_shape(patch_model, (3, 8, 16, 20, 1))
    assert whole({"sequence": np.zeros((1, 3, 8, 16, 20, 1), np.float32)})["probabilities"].shape == (1, 8, 16, 20, 3)
    for a, b in zip(patch_model.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    back = with_input_shape(whole, (3, 4, 8, 12, 1))
    np.testing.assert_allclose(back({"sequence": x})["probabilities"].numpy(), expected, atol=1e-6)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigError, match="no input_shape"):
        with_input_shape(plain, (5,))
