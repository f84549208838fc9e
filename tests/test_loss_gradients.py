"""Every loss has finite gradients at the edges: probabilities of exactly 0 and 1, classes absent, all heads."""

import numpy as np
import pytest
import tensorflow as tf

from keras_liver import losses

CONFIGS = [("dice", {}), ("dice", {"smooth_nr": 0.0, "smooth_dr": 0.0}), ("dice", {"reduction_mode": "batch"}),
           ("dice_ce", {}), ("dice_ce", {"reduction_mode": "batch", "include_background": True}),
           ("focal", {}), ("focal", {"gamma": 0.5}), ("focal", {"gamma": 0.0}), ("tversky", {}),
           ("tversky", {"smooth_nr": 0.0, "smooth_dr": 0.0}), ("cross_entropy", {})]


def _grad(loss, y, p):
    p = tf.Variable(np.asarray(p, np.float32))
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(loss(y, p))
    return value.numpy(), tape.gradient(value, p).numpy()


def test_the_reported_reproduction_is_finite():
    value, grad = _grad(losses.get("dice_ce"), np.array([[2]]), [[[0.0, 0.0, 1.0]]])
    assert np.isfinite(value) and np.isfinite(grad).all()  # was NaN: the gradient of power(1 - p, 0) at p = 1


@pytest.mark.parametrize("name, args", CONFIGS)
def test_exact_zeros_and_ones_and_absent_classes(name, args):
    loss = losses.get(name, **args)
    y = np.array([[[0, 2, 2], [1, 0, 0]], [[0, 0, 0], [0, 0, 0]]])  # sample 2: only background
    one_hot = np.eye(3, dtype=np.float32)[y]
    cases = {"perfect": one_hot, "wrong": np.eye(3, dtype=np.float32)[(y + 1) % 3],
             "all background": np.eye(3, dtype=np.float32)[np.zeros_like(y)], "uniform": np.full(y.shape + (3,), 1 / 3)}
    for what, p in cases.items():
        value, grad = _grad(loss, y, p)
        assert np.isfinite(value) and np.isfinite(grad).all(), (name, args, what)


@pytest.mark.parametrize("name", losses.NAMES)
def test_through_a_saturated_softmax_of_every_head(name):
    logits = tf.Variable(np.random.default_rng(0).normal(0, 300, (2, 5, 5, 3)).astype(np.float32))
    y = np.random.default_rng(1).integers(0, 3, (2, 5, 5))
    loss = losses.get(name)
    weights = losses.deep_supervision_weights(3, "deep_first")
    with tf.GradientTape() as tape:
        probs = tf.nn.softmax(logits)  # float32 rounds these to exactly 0 and 1
        total = sum(w * tf.reduce_mean(loss(y, probs * (1.0 + 0.0 * j))) for j, w in enumerate(weights.values()))
    assert np.any(probs.numpy() == 1.0) and np.any(probs.numpy() == 0.0)
    grad = tape.gradient(total, logits).numpy()
    assert np.isfinite(total.numpy()) and np.isfinite(grad).all()
