"""`ConvLSTM2D`: Keras' ConvLSTM2D with its input convolution hoisted out of the time loop."""

import keras

from keras_liver.layers.fused_conv_lstm import can_fuse, fused_conv_lstm_call


@keras.saving.register_keras_serializable(package="keras_liver")
class ConvLSTM2D(keras.layers.ConvLSTM2D):
    """`keras.layers.ConvLSTM2D` whose steps run one convolution each (`fused_conv_lstm_call`).

    The same arguments, weights and outputs (to float32 rounding) as Keras' layer; the input's
    convolution runs once over all frames and the four gates are one convolution. Cases the
    fused path does not cover (masks, initial states, stateful or backward layers, dropout
    while training) run Keras' own loop. The class keeps Keras' name on purpose: a Keras 3
    file stores a layer's weights under its class name, so every model saved with Keras'
    layer loads its weights into this one unchanged.

    Example:
        >>> layer = ConvLSTM2D(8, 3, padding="same")          # doctest: +SKIP
    """

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if can_fuse(self, sequences, mask, initial_state, training):
            return fused_conv_lstm_call(self, sequences)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
