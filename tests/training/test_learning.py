"""A Keras model of the package learns: fixed seed, two phantoms, a few steps."""

import keras
import numpy as np

from keras_liver import losses
from keras_liver.models import FusedUNet
from keras_liver.phantoms import ct_case


def _slices(seed, n=3):
    case = ct_case(seed, shape=(12, 48, 48))
    z = np.argsort((case.label.array > 0).reshape(12, -1).sum(1))[-n:]  # the slices with the most liver
    return case.image.array[z, ..., None].astype(np.float32), case.label.array[z].astype(np.int32)


def test_tiny_fused_unet_loss_falls_clearly_on_two_phantoms():
    keras.utils.set_random_seed(7)
    parts = [_slices(1), _slices(2)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    model = FusedUNet(input_shape=(48, 48, 1), depth=2, filters=8, intensity="abdomen")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss={"probabilities": losses.get("dice_ce")})
    first = float(model.evaluate({"image": x}, {"probabilities": y}, verbose=0))
    for _ in range(80):
        model.train_on_batch({"image": x}, {"probabilities": y})
    last = float(model.evaluate({"image": x}, {"probabilities": y}, verbose=0))
    assert last < 0.5 * first, (first, last)  # measured: 2.00 -> 0.69 with this seed
    pred = np.asarray(model.predict({"image": x}, verbose=0)["probabilities"]).argmax(-1)
    agree = ((pred >= 1) == (y >= 1)).mean()
    assert agree > 0.97 and agree > (y == 0).mean() + 0.05, agree  # liver vs not: well above all-background
