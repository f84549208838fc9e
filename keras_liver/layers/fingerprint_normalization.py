"""`FingerprintNormalization`: nnU-Net-style CT normalisation inside the graph."""

import keras

from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class FingerprintNormalization(keras.layers.Layer):
    """Clip to the foreground percentiles, subtract the mean, divide by the std.

    The in-graph twin of `keras_liver.preprocess.Fingerprint.normalize`.

    Args:
        low: 0.5th foreground percentile.
        high: 99.5th foreground percentile.
        mean: Foreground mean.
        std: Foreground standard deviation (> 0).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, low: float, high: float, mean: float, std: float, **kwargs):
        super().__init__(**kwargs)
        if not float(std) > 0 or not float(high) >= float(low):
            raise ConfigError(f"FingerprintNormalization: need std > 0 and high >= low, got {low}, {high}, {std}")
        self.low, self.high, self.mean, self.std = float(low), float(high), float(mean), float(std)

    def call(self, inputs):
        x = keras.ops.clip(keras.ops.cast(inputs, self.compute_dtype), self.low, self.high)
        return (x - self.mean) / self.std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "mean": self.mean, "std": self.std}
