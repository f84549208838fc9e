"""`SubtractionImages`: each DCE frame next to its difference from the pre-contrast frame."""

import keras

from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class SubtractionImages(keras.layers.Layer):
    """``(batch, t, ..., c)`` -> ``(batch, t, ..., 2c)``: ``[x_t, x_t - x_0]`` on the channel axis.

    Radiologists read DCE-MRI on subtraction images (each post-contrast
    frame minus the pre-contrast one), because they show enhancement and
    nothing else. A per-frame encoder (shared weights over time) sees one
    frame at a time and cannot form that difference itself; with this layer
    in front of it, every frame carries its own enhancement, and the ConvLSTM
    after the encoder compares enhancement over time rather than raw signal.
    Frame 0's difference is zero.

    Args:
        baseline_frame: Index of the pre-contrast frame.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, baseline_frame: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(baseline_frame) < 0:
            raise ConfigError(f"SubtractionImages: baseline_frame must be >= 0, got {baseline_frame}")
        self.baseline_frame = int(baseline_frame)

    def call(self, inputs):
        base = inputs[:, self.baseline_frame: self.baseline_frame + 1]
        return keras.ops.concatenate([inputs, inputs - base], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else 2 * input_shape[-1]
        return tuple(input_shape[:-1]) + (channels,)

    def get_config(self):
        return {**super().get_config(), "baseline_frame": self.baseline_frame}
