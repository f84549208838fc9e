"""`SinglePhaseCNN`: the CNN baseline, the DCEClassifier's 3D encoder on one time point."""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers import blocks
from keras_liver.layers.select_frame import SelectFrame
from keras_liver.layers.series_normalization import SeriesNormalization
from keras_liver.models.base import LiverModel


@keras.saving.register_keras_serializable(package="keras_liver")
class SinglePhaseCNN(LiverModel):
    """Lesion class from one phase of the series, with the same 3D encoder as `DCEClassifier`.

    Takes the same ``sequence`` input (so it runs on the same data and
    splits), normalises it with the pre-contrast statistics, keeps frame
    ``phase`` and classifies it: the "no time" ablation of the classifier.

    Args:
        input_shape: ``(t, z, y, x, c)``.
        num_classes: Lesion classes.
        phase: Frame index used (default 2, an arterial/portal frame of the
            8-frame phantom protocol; negative counts from the end).
        encoder_filters: Channels per encoder level.
        norm, activation: Encoder block settings.
        dropout: Dropout before the classifier.
        normalize_series: Add `SeriesNormalization`.
        class_names: Class names in index order.
        name: Model name.
    """

    task = "dce_classification"
    config_keys = ('input_shape', 'num_classes', 'phase', 'encoder_filters', 'norm', 'activation', 'dropout', 'normalize_series', 'class_names')

    def __init__(self, input_shape=(8, 16, 64, 64, 1), num_classes: int = 5, phase: int = 2,
                 encoder_filters=(16, 32, 64), norm="batch", activation: str = "relu", dropout: float = 0.3,
                 normalize_series: bool = True, class_names=None, name: str = "single_phase_cnn", **kwargs):
        input_shape = self.coerce_input_shape(input_shape, (5,), "(t, z, y, x, c)")
        if input_shape[0] is not None and not -input_shape[0] <= int(phase) < input_shape[0]:
            raise ConfigError(f"phase {phase}: the series has {input_shape[0]} frames")
        encoder_filters = [int(f) for f in encoder_filters]
        sequence = keras.Input(input_shape, name="sequence")
        x = SeriesNormalization(name="series_normalization")(sequence) if normalize_series else sequence
        x = SelectFrame(int(phase), name="select_frame")(x)
        h = blocks.encoder_3d(x, encoder_filters, "encoder", norm=norm, activation=activation)[-1]
        h = keras.layers.GlobalAveragePooling3D(name="pool")(h)
        outputs = blocks.classifier_head(h, num_classes, dropout)
        super().__init__(inputs={"sequence": sequence}, outputs=outputs, name=name, **kwargs)
        self._remember(input_shape=input_shape, num_classes=int(num_classes), phase=int(phase),
                       encoder_filters=encoder_filters, norm=norm, activation=activation, dropout=float(dropout),
                       normalize_series=bool(normalize_series),
                       class_names=None if class_names is None else [str(c) for c in class_names])
