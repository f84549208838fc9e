"""`CurveLSTM`: the LSTM baseline on lesion time-intensity curves."""

import keras

from keras_liver.layers import blocks
from keras_liver.models.base import LiverModel


@keras.saving.register_keras_serializable(package="keras_liver")
class CurveLSTM(LiverModel):
    """Lesion class from time-intensity curves with an LSTM (paper Table 1 baseline).

    Input ``curves`` ``(batch, t, features)``, for example the output of
    `keras_liver.features.time_intensity_curves`; outputs ``probabilities``
    (float32) and ``label`` (int32).

    Args:
        input_shape: ``(t, features)``; ``t`` may be ``None``.
        num_classes: Lesion classes.
        units: LSTM units per layer.
        dropout: Dropout before the classifier.
        class_names: Class names in index order.
        name: Model name.
    """

    task = "dce_classification"
    main_input = "curves"
    config_keys = ('input_shape', 'num_classes', 'units', 'dropout', 'class_names')

    def __init__(self, input_shape=(8, 3), num_classes: int = 5, units=(32,), dropout: float = 0.2,
                 class_names=None, name: str = "curve_lstm", **kwargs):
        input_shape = self.coerce_input_shape(input_shape, (2,), "(t, features)")
        units = [int(u) for u in units]
        curves = keras.Input(input_shape, name="curves")
        h = curves
        for k, u in enumerate(units):
            h = keras.layers.LSTM(u, return_sequences=k < len(units) - 1, name=f"lstm_{k}")(h)
        outputs = blocks.classifier_head(h, num_classes, dropout)
        super().__init__(inputs={"curves": curves}, outputs=outputs, name=name, **kwargs)
        self._remember(input_shape=input_shape, num_classes=int(num_classes), units=units, dropout=float(dropout),
                       class_names=None if class_names is None else [str(c) for c in class_names])
