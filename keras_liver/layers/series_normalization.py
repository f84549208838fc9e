"""`SeriesNormalization`: scale a DCE series by its pre-contrast statistics, per sample."""

import keras

from keras_liver.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_liver")
class SeriesNormalization(keras.layers.Layer):
    """``(x - mean) / std`` with the statistics of the first frames of each sample.

    Every frame of a series is scaled with the same numbers, so contrast
    enhancement is kept (a per-frame normalisation would erase it); each
    sample gets its own numbers, so scanners with different signal scales
    look alike. Input ``(batch, t, ...)``.

    Args:
        baseline_frames: Leading pre-contrast frames that give the statistics.
        epsilon: Added to the standard deviation.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, baseline_frames: int = 1, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if int(baseline_frames) < 1:
            raise ConfigError(f"SeriesNormalization: baseline_frames must be >= 1, got {baseline_frames}")
        self.baseline_frames, self.epsilon = int(baseline_frames), float(epsilon)

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        base = x[:, : self.baseline_frames]
        axes = tuple(range(1, len(x.shape)))
        mean = keras.ops.mean(base, axis=axes, keepdims=True)
        std = keras.ops.sqrt(keras.ops.mean(keras.ops.square(base - mean), axis=axes, keepdims=True))
        return (x - mean) / (std + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "baseline_frames": self.baseline_frames, "epsilon": self.epsilon}
