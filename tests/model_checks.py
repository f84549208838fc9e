"""Checks shared by the model tests."""

import keras
import numpy as np
import tensorflow as tf


def assert_gradients_reach_every_weight(model, inputs, output="probabilities"):
    rng = np.random.default_rng(0)
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        keys = [k for k in out if out[k].dtype.is_floating]
        loss = sum(tf.reduce_sum(tf.cast(out[k], tf.float32) * rng.random(out[k].shape).astype("float32"))
                   for k in keys)
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads) if g is None or not np.any(g.numpy())]
    assert not missing, f"no gradient reaches {missing}"


def assert_round_trips(model, inputs, tmp_path):
    expected = {k: np.asarray(v) for k, v in model(inputs).items()}
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    for other in (clone, loaded):
        got = other(inputs)
        assert set(got) == set(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(np.asarray(got[key]), value, rtol=1e-6, atol=1e-6)
