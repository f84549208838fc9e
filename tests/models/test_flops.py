import keras
import pytest

from keras_liver.errors import ConfigError
from keras_liver.models import DCEClassifier, FusedUNet, summary


def test_flops_of_known_layers():
    x = keras.Input((5, 6, 2), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)           # 2*9*2*4*30
    h = keras.layers.Conv2DTranspose(3, 2, strides=2, name="up")(h)        # 2*4*4*3*30
    h = keras.layers.Dense(7, name="dense")(h)                              # 2*3*7*(10*12)
    model = keras.Model({"image": x}, {"out": h})
    s = summary(model)
    assert s["flops_by_layer"] == {"conv": 4320, "up": 2880, "dense": 5040}
    assert s["flops_per_sample"] == 4320 + 2880 + 5040
    assert s["params"] == model.count_params()


def test_recurrent_flops():
    x = keras.Input((6, 8, 8, 3))
    h = keras.layers.ConvLSTM2D(4, 3, padding="same", name="clstm")(x)  # 6 steps * 2*9*(3+4)*16*64
    c = keras.Input((5, 3))
    g = keras.layers.LSTM(4, name="lstm")(c)                               # 5 * 2*(3+4)*16
    assert summary(keras.Model(x, h))["flops_by_layer"]["clstm"] == 6 * 2 * 9 * 7 * 16 * 64
    assert summary(keras.Model(c, g))["flops_by_layer"]["lstm"] == 5 * 2 * 7 * 16


def test_free_sizes_need_concrete_shapes():
    model = FusedUNet(input_shape=(None, None, 1), depth=1, filters=2)
    with pytest.raises(ConfigError, match="input_shapes"):
        summary(model)
    small, large = summary(model, (16, 16, 1)), summary(model, {"image": (32, 32, 1)})
    assert large["flops_per_sample"] == 4 * small["flops_per_sample"]
    assert small["params"] == model.count_params()
    dce = DCEClassifier(input_shape=(None, 8, 16, 16, 1), encoder_filters=(2, 4), lstm_filters=(3,))
    assert summary(dce, (6, 8, 16, 16, 1))["flops_per_sample"] > summary(dce, (3, 8, 16, 16, 1))["flops_per_sample"]
