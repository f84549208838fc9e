"""`ReduceDepth`: collapse the depth (z) axis of a 3D feature map."""

import keras

from keras_liver.errors import ConfigError

MODES = ("mean", "max")


@keras.saving.register_keras_serializable(package="keras_liver")
class ReduceDepth(keras.layers.Layer):
    """``(batch, z, y, x, c)`` -> ``(batch, y, x, c)`` by mean or max over z.

    Args:
        mode: ``"mean"`` or ``"max"``.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ConfigError(f"ReduceDepth: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        return keras.ops.mean(inputs, axis=1) if self.mode == "mean" else keras.ops.max(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
