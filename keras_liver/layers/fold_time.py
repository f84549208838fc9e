"""`FoldTime`: ``(batch, t, ...)`` -> ``(batch * t, ...)``, so per-frame layers run once."""

import keras


@keras.saving.register_keras_serializable(package="keras_liver")
class FoldTime(keras.layers.Layer):
    """Merge the time axis into the batch axis.

    Layers applied to the folded tensor see every frame of every sample as
    one batch: the numbers of ``TimeDistributed(layer)``, in one call
    instead of one per time step. `UnfoldTime` restores the time axis.
    """

    def call(self, inputs):
        # keras.ops.shape gives ints where the size is static and tensors where it is not
        return keras.ops.reshape(inputs, (-1,) + tuple(keras.ops.shape(inputs)[2:]))

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        folded = None if batch is None or time is None else batch * time
        return (folded,) + tuple(input_shape[2:])
