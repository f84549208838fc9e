import keras
import numpy as np
import pytest
from model_checks import assert_gradients_reach_every_weight, assert_round_trips

from keras_liver.errors import ConfigError
from keras_liver.models import FusedUNet
from keras_liver.preprocess import window


def _inputs(rng, spatial, extra=None):
    out = {"image": (rng.normal(60, 150, (2,) + spatial + (1,))).astype("float32")}
    for key, channels in (extra or {}).items():
        out[key] = rng.random((2,) + spatial + (channels,)).astype("float32")
    return out


def _parents(model, name):
    return [n.operation.name for n in model.get_layer(name)._inbound_nodes[0].parent_nodes]


def test_graph_is_eq2_of_unet_plus_plus():
    depth = 3
    model = FusedUNet(input_shape=(None, None, 1), depth=depth, filters=2)
    for i in range(1, depth + 1):
        assert _parents(model, f"pool_{i}") == [f"x_{i - 1}_0"]
    for j in range(1, depth + 1):
        for i in range(depth + 1 - j):
            assert _parents(model, f"x_{i}_{j}_concat") == [f"x_{i}_{k}" for k in range(j)] + [f"up_{i + 1}_{j - 1}"]
            assert _parents(model, f"up_{i + 1}_{j - 1}") == [f"x_{i + 1}_{j - 1}"]
            assert model.get_layer(f"x_{i}_{j}").output.shape[-1] == 2 * 2 ** i
    assert _parents(model, "probabilities_logits") == [f"x_0_{depth}"]
    with pytest.raises(ValueError):
        model.get_layer(f"x_1_{depth}")  # no node beyond the triangle


@pytest.mark.parametrize("spatial, fusion", [((12, 20), "early"), ((4, 8, 12), "stems")])
def test_shapes_probabilities_and_gradients(rng, spatial, fusion):
    model = FusedUNet(input_shape=(None,) * len(spatial) + (1,), depth=2, filters=3, extra_inputs={"hog": 2},
                      fusion=fusion, norm="group", dropout=0.1, intensity="liver")
    inputs = _inputs(rng, spatial, {"hog": 2})
    probs = np.asarray(model(inputs)["probabilities"])
    assert probs.shape == (2,) + spatial + (3,) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert_gradients_reach_every_weight(model, inputs)


@pytest.mark.parametrize("fusion", ["early", "stems"])
def test_second_input_changes_the_output(rng, fusion):
    model = FusedUNet(input_shape=(8, 8, 1), depth=1, filters=2, extra_inputs={"phase2": 1}, fusion=fusion)
    inputs = _inputs(rng, (8, 8), {"phase2": 1})
    changed = dict(inputs, phase2=inputs["phase2"] + 1.0)
    before = np.asarray(model(inputs)["probabilities"])
    assert not np.allclose(before, np.asarray(model(changed)["probabilities"]))
    np.testing.assert_array_equal(before, np.asarray(model(dict(inputs))["probabilities"]))


def test_intensity_layer_takes_raw_hu(rng):
    model = FusedUNet(input_shape=(8, 8, 1), depth=1, filters=2, intensity="liver")
    hu = rng.normal(30, 200, (3, 8, 8, 1)).astype("float32")
    inner = np.asarray(model.get_layer("intensity")(hu))
    np.testing.assert_allclose(inner, window(hu, preset="liver"), atol=1e-6)


def test_deep_supervision_modes_and_pruning(rng):
    model = FusedUNet(input_shape=(16, 16, 1), depth=3, filters=2, deep_supervision=True, norm="instance")
    inputs = _inputs(rng, (16, 16))
    out = {k: np.asarray(v) for k, v in model(inputs).items()}
    assert sorted(out) == ["head_1", "head_2", "head_3", "probabilities"]
    np.testing.assert_allclose(out["probabilities"], np.mean([out[f"head_{j}"] for j in (1, 2, 3)], 0), atol=1e-6)
    fast = model.inference_model("fast", level=2)
    np.testing.assert_allclose(np.asarray(fast(inputs)["probabilities"]), out["head_2"], atol=1e-6)
    accurate = model.inference_model("accurate", level=2)
    np.testing.assert_allclose(np.asarray(accurate(inputs)["probabilities"]),
                               (out["head_1"] + out["head_2"]) / 2, atol=1e-6)
    assert fast.count_params() < model.count_params()
    assert all(not layer.name.startswith(("x_0_3", "x_1_2", "x_2_1", "x_3_0")) for layer in fast.layers)
    plain = FusedUNet(input_shape=(16, 16, 1), depth=2, filters=2)
    with pytest.raises(ConfigError, match="deep_supervision"):
        plain.inference_model("fast", level=1)


def test_same_seed_same_initial_outputs(rng):
    inputs = _inputs(rng, (8, 8))
    outs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        outs.append(np.asarray(FusedUNet(input_shape=(8, 8, 1), depth=1, filters=2)(inputs)["probabilities"]))
    np.testing.assert_array_equal(outs[0], outs[1])
    keras.utils.set_random_seed(8)
    other = np.asarray(FusedUNet(input_shape=(8, 8, 1), depth=1, filters=2)(inputs)["probabilities"])
    assert not np.allclose(outs[0], other)


def test_config_and_keras_file_round_trip(rng, tmp_path):
    model = FusedUNet(input_shape=(None, None, None, 1), depth=2, filters=2, deep_supervision=True,
                      extra_inputs={"hog": 3}, fusion="stems", intensity=[-100, 300])
    assert_round_trips(model, _inputs(rng, (4, 8, 8), {"hog": 3}), tmp_path)


def test_mixed_precision_keeps_float32_probabilities(rng, mixed_precision):
    model = FusedUNet(input_shape=(8, 8, 1), depth=1, filters=2, deep_supervision=True, intensity="abdomen")
    assert model.get_layer("x_0_1_conv1").compute_dtype == "float16"
    out = model(_inputs(rng, (8, 8)))
    assert all(v.dtype == "float32" for v in out.values())
    np.testing.assert_allclose(np.asarray(out["probabilities"]).sum(-1), 1.0, atol=1e-3)


@pytest.mark.parametrize("kwargs, word", [
    ({"input_shape": (8, 1)}, "input_shape"),
    ({"fusion": "late"}, "fusion"),
    ({"depth": 0}, "depth"),
    ({"intensity": "brain-ish"}, "preset"),
    ({"extra_inputs": {"image": 1}}, "image"),
])
def test_bad_arguments(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        FusedUNet(**{"input_shape": (8, 8, 1), "depth": 1, "filters": 2, **kwargs})
