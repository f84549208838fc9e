"""`IntensityWindow`: HU windowing inside the graph, so a served model takes raw HU."""

import keras

from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class IntensityWindow(keras.layers.Layer):
    """Clip to ``[low, high]`` and, by default, rescale to ``[0, 1]``.

    The in-graph twin of `keras_liver.preprocess.window`: same numbers.

    Args:
        low: Lower bound (HU).
        high: Upper bound (HU), greater than ``low``.
        rescale: Map ``[low, high]`` to ``[0, 1]``.
        **kwargs: `keras.layers.Layer` arguments.

    Example:
        >>> layer = IntensityWindow(-45.0, 105.0)     # the "liver" preset
    """

    def __init__(self, low: float, high: float, rescale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not float(high) > float(low):
            raise ConfigError(f"IntensityWindow: high ({high}) must exceed low ({low})")
        self.low, self.high, self.rescale = float(low), float(high), bool(rescale)

    def call(self, inputs):
        x = keras.ops.clip(keras.ops.cast(inputs, self.compute_dtype), self.low, self.high)
        if self.rescale:
            x = (x - self.low) / (self.high - self.low)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "rescale": self.rescale}
