"""`SelectFrame`: one time point of a series, for single-phase baselines."""

import keras


@keras.saving.register_keras_serializable(package="keras_liver")
class SelectFrame(keras.layers.Layer):
    """``inputs[:, index]``: the frame at ``index`` (negative counts from the end).

    Args:
        index: Frame index.
    """

    def __init__(self, index: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return keras.ops.take(inputs, self.index if self.index >= 0 else keras.ops.shape(inputs)[1] + self.index,
                              axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}
