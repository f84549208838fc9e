"""`fused_conv_lstm_call`: a ConvLSTM's steps with its input convolution hoisted out of the time loop.

Keras' ConvLSTM cell runs eight convolutions a time step: the input and the state, each through
the four gates' kernels separately. The input's convolution does not depend on the state, so it
can run once for the whole series with time folded into the batch, and the four gates of each
convolution are one convolution with ``4 x filters`` outputs (Keras keeps the four kernels side by
side in one weight). What is left in the loop is one convolution of the state a step. The
weights, their names and their layout are Keras' own, so a model saved with `keras.layers.ConvLSTM2D`
or `ConvLSTM3D` loads into the fused layers unchanged, and the outputs agree to float32 rounding.
This is what cuDNN does for dense LSTMs (the input projection as one matrix product over all
steps); here it is measured on the DCE models in docs/RESULTS.md.
"""

from keras import ops


def can_fuse(layer, sequences, mask, initial_state, training) -> bool:
    """Whether `fused_conv_lstm_call` computes exactly what the Keras layer would.

    It handles the plain case the package's models use: channels last, fixed frame sizes, no
    mask, no initial state, no state kept between calls, forward in time, no returned state,
    no dropout while training. Anything else runs Keras' own loop.
    """
    cell = layer.cell
    dropout = training and (0.0 < cell.dropout < 1.0 or 0.0 < cell.recurrent_dropout < 1.0)
    return (cell.data_format == "channels_last" and mask is None and initial_state is None and not layer.stateful
            and not layer.go_backwards and not layer.return_state and not dropout
            and all(s is not None for s in tuple(sequences.shape[2:])))


def fused_conv_lstm_call(layer, sequences):
    """A ConvLSTM layer's output for ``sequences`` ``(batch, time, *spatial, channels)`` (see the module)."""
    cell = layer.cell
    step_shape = tuple(sequences.shape[2:])
    batch, steps = ops.shape(sequences)[0], ops.shape(sequences)[1]
    folded = ops.reshape(sequences, (-1,) + step_shape)
    x = ops.conv(folded, cell.kernel, strides=cell.strides, padding=cell.padding, data_format="channels_last",
                 dilation_rate=cell.dilation_rate)
    if cell.use_bias:
        x = x + cell.bias
    out_shape = tuple(x.shape[1:-1])
    x = ops.reshape(x, (batch, steps) + out_shape + (4 * cell.filters,))
    x = ops.moveaxis(x, 1, 0)  # time first, for the scan
    zeros = ops.zeros((batch,) + out_shape + (cell.filters,), dtype=x.dtype)

    def step(carry, x_t):
        h, c = carry
        z = x_t + ops.conv(h, cell.recurrent_kernel, strides=1, padding="same", data_format="channels_last")
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = cell.recurrent_activation(z_i)
        f = cell.recurrent_activation(z_f)
        c = f * c + i * cell.activation(z_c)
        h = ops.multiply(cell.recurrent_activation(z_o), cell.activation(c))
        return (h, c), (h, c)

    (h, _), (hs, _) = ops.scan(step, (zeros, zeros), x)
    return ops.moveaxis(hs, 0, 1) if layer.return_sequences else h
