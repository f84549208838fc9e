"""The fused ConvLSTM layers against Keras' own: same weights, same outputs and gradients, same files."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_liver.layers import ConvLSTM2D, ConvLSTM3D

CASES = [(keras.layers.ConvLSTM2D, ConvLSTM2D, (3, 5, 7, 9, 4)),
         (keras.layers.ConvLSTM3D, ConvLSTM3D, (2, 4, 3, 5, 7, 3))]


def _pair(plain, fused, step_shape, padding="same", **kwargs):
    a_in, b_in = keras.Input((None,) + step_shape), keras.Input((None,) + step_shape)
    a = keras.Model(a_in, plain(6, 3, padding=padding, name="lstm", **kwargs)(a_in))
    b = keras.Model(b_in, fused(6, 3, padding=padding, name="lstm", **kwargs)(b_in))
    rng = np.random.default_rng(7)
    a.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in a.get_weights()])
    b.set_weights(a.get_weights())
    return a, b


@pytest.mark.parametrize("plain,fused,shape", CASES)
@pytest.mark.parametrize("kwargs", [{}, {"return_sequences": True}, {"padding": "valid"},
                                    {"activation": "relu", "return_sequences": True}])
def test_the_fused_layer_gives_keras_outputs_and_gradients(plain, fused, shape, kwargs):
    a, b = _pair(plain, fused, shape[2:], **kwargs)
    x = tf.constant(np.random.default_rng(8).normal(size=shape).astype("float32"))
    for steps in (shape[1], 1):  # a free time axis: the same layer on another series length
        xs = x[:, :steps]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(xs)
            ya, yb = a(xs), b(xs)
            la, lb = tf.reduce_sum(ya ** 2), tf.reduce_sum(yb ** 2)
        np.testing.assert_allclose(yb.numpy(), ya.numpy(), atol=2e-6)
        assert float(tf.reduce_max(tf.abs(ya))) > 0.01  # not a trivially equal zero output
        for ga, gb in zip(tape.gradient(la, a.trainable_weights + [xs]), tape.gradient(lb, b.trainable_weights + [xs])):
            scale = max(1.0, float(np.abs(ga.numpy()).max()))  # sums of many terms, added in another order
            np.testing.assert_allclose(gb.numpy(), ga.numpy(), atol=1e-5 * scale, rtol=1e-4)


@pytest.mark.parametrize("plain,fused,shape", CASES)
def test_a_model_saved_with_keras_layer_loads_its_weights_into_the_fused_one(plain, fused, shape, tmp_path):
    a, b = _pair(plain, fused, shape[2:], return_sequences=True)
    a.save_weights(tmp_path / "w.weights.h5")
    b.set_weights([np.zeros_like(w) for w in b.get_weights()])
    b.load_weights(tmp_path / "w.weights.h5")
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    np.testing.assert_allclose(b.predict_on_batch(x), a.predict_on_batch(x), atol=2e-6)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(b.get_layer("lstm")))
    assert type(again) is fused and again.filters == 6


def test_cases_it_does_not_cover_run_keras_loop():
    a, b = _pair(keras.layers.ConvLSTM2D, ConvLSTM2D, (5, 7, 4), go_backwards=True)
    x = np.random.default_rng(4).normal(size=(2, 3, 5, 7, 4)).astype("float32")
    np.testing.assert_allclose(b.predict_on_batch(x), a.predict_on_batch(x), atol=2e-6)
