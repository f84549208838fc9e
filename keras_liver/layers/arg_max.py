"""`ArgMax`: class index from probabilities, as an int32 output."""

import keras


@keras.saving.register_keras_serializable(package="keras_liver")
class ArgMax(keras.layers.Layer):
    """``argmax`` over the last axis, int32 (the ``label`` / ``mask`` outputs).

    Args:
        dtype_out: Output integer dtype.
    """

    def __init__(self, dtype_out: str = "int32", **kwargs):
        super().__init__(**kwargs)
        self.dtype_out = dtype_out

    def call(self, inputs):
        return keras.ops.cast(keras.ops.argmax(inputs, axis=-1), self.dtype_out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape[:-1]), dtype=self.dtype_out)

    def get_config(self):
        return {**super().get_config(), "dtype_out": self.dtype_out}
