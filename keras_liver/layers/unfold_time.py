"""`UnfoldTime`: ``(batch * t, ...)`` -> ``(batch, t, ...)``, the inverse of `FoldTime`."""

import keras


@keras.saving.register_keras_serializable(package="keras_liver")
class UnfoldTime(keras.layers.Layer):
    """Split the batch axis back into batch and time.

    Called as ``UnfoldTime()([folded, reference])`` where ``reference`` is any
    tensor with the original ``(batch, t, ...)`` leading axes (the series);
    the time size is read from it at run time, so it may be ``None``.
    """

    def call(self, inputs):
        folded, reference = inputs
        ref_shape = keras.ops.shape(reference)
        return keras.ops.reshape(folded, (ref_shape[0], ref_shape[1]) + tuple(keras.ops.shape(folded)[1:]))

    def compute_output_shape(self, input_shape):
        folded, reference = input_shape
        return (reference[0], reference[1]) + tuple(folded[1:])
