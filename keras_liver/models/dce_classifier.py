"""`DCEClassifier`: 3D convolutions on every time point, then a convolutional LSTM over time."""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers import blocks
from keras_liver.layers.append_masks import AppendMasks
from keras_liver.layers.fold_time import FoldTime
from keras_liver.layers.lesion_curves import LesionCurves
from keras_liver.layers.reduce_depth import ReduceDepth
from keras_liver.layers.series_normalization import SeriesNormalization
from keras_liver.layers.subtraction_images import SubtractionImages
from keras_liver.layers.unfold_time import UnfoldTime
from keras_liver.models.base import LiverModel

RECURRENT = ("convlstm2d", "convlstm3d")


@keras.saving.register_keras_serializable(package="keras_liver")
class DCEClassifier(LiverModel):
    """Lesion classification from a 4D DCE-MRI series (the paper's Algorithm 1).

    ``sequence`` ``(batch, t, z, y, x, c)`` -> in-graph series normalisation
    (pre-contrast statistics, so enhancement is kept) -> one 3D
    convolutional encoder applied to every time point with shared weights ->
    depth collapsed (``recurrent="convlstm2d"``) or kept (``"convlstm3d"``)
    -> a stack of convolutional LSTMs over time -> global pooling -> dense
    softmax. The encoder runs once on the series folded into the batch
    (`FoldTime`), which gives the numbers of ``TimeDistributed(Conv3D)``
    without a loop over time.

    Outputs (dict): ``probabilities`` ``(batch, num_classes)`` float32, and
    ``label`` ``(batch,)`` int32, the most probable class.

    With ``lesion_masks`` the model also takes ``masks`` ``(batch, z, y, x, 2)``: the
    lesion's own voxels and the liver parenchyma's in the crop (a pipeline has both from
    its segmentation). They ride beside every frame into the encoder (`AppendMasks`), and
    the lesion's time-intensity curves against the liver, and its rim's and core's
    (`LesionCurves`, in the graph), go through an LSTM whose state joins the pooled ConvLSTM
    features before the softmax: the mask tells the model which few voxels of a crop a small
    lesion is, which global pooling over the crop cannot.

    Args:
        input_shape: ``(t, z, y, x, c)``; ``t`` and the spatial sizes may be
            ``None`` (spatial sizes divisible by ``2**(len(encoder_filters)-1)``).
        num_classes: Lesion classes (5: hcc, metastasis, haemangioma, cyst, fnh).
        encoder_filters: Channels per encoder level (2x pooling between levels).
        lstm_filters: Channels of each ConvLSTM layer.
        recurrent: ``"convlstm2d"`` (depth collapsed by ``depth_pooling``)
            or ``"convlstm3d"``.
        depth_pooling: ``"mean"`` or ``"max"`` over z.
        norm: Normalisation in the encoder blocks.
        activation: Activation in the encoder blocks.
        dropout: Dropout before the classifier.
        normalize_series: Add `SeriesNormalization` (clients send raw signal).
        subtraction: Give every frame its subtraction image as a second
            channel (`SubtractionImages`, after the normalisation).
        class_names: Class names in index order, stored with the model.
        lesion_masks: Take the ``masks`` input (see above).
        curve_units: Units of the curve LSTM (with ``lesion_masks``).
        name: Model name.

    Reference:
        The seed paper's Algorithm 1 (3D convolutions per time point plus a
        convolutional LSTM); Zheng et al., IEEE Transactions on Medical
        Imaging, 2022, combine the two the same way for 4D DCE-MRI liver
        tumour segmentation (see ../shared/DESIGN.md).
    """

    task = "dce_classification"
    config_keys = ('input_shape', 'num_classes', 'encoder_filters', 'lstm_filters', 'recurrent', 'depth_pooling', 'norm', 'activation', 'dropout', 'normalize_series', 'subtraction', 'class_names', 'lesion_masks', 'curve_units')

    def __init__(self, input_shape=(8, 16, 64, 64, 1), num_classes: int = 5, encoder_filters=(16, 32, 64),
                 lstm_filters=(32,), recurrent: str = "convlstm2d", depth_pooling: str = "mean", norm="batch",
                 activation: str = "relu", dropout: float = 0.3, normalize_series: bool = True,
                 subtraction: bool = False, class_names=None, lesion_masks: bool = False, curve_units: int = 32,
                 name: str = "dce_classifier", **kwargs):
        input_shape = self.coerce_input_shape(input_shape, (5,), "(t, z, y, x, c)")
        if recurrent not in RECURRENT:
            raise ConfigError(f"recurrent: one of {RECURRENT}, got {recurrent!r}")
        encoder_filters = [int(f) for f in encoder_filters]
        lstm_filters = [int(f) for f in lstm_filters]
        if not encoder_filters or not lstm_filters:
            raise ConfigError("encoder_filters and lstm_filters need at least one entry each")
        class_names = None if class_names is None else [str(c) for c in class_names]
        if class_names is not None and len(class_names) != int(num_classes):
            raise ConfigError(f"class_names: {len(class_names)} names for {num_classes} classes")

        sequence = keras.Input(input_shape, name="sequence")
        x = SeriesNormalization(name="series_normalization")(sequence) if normalize_series else sequence
        if subtraction:
            x = SubtractionImages(name="subtraction_images")(x)
        inputs = {"sequence": sequence}
        if lesion_masks:
            inputs["masks"] = keras.Input(tuple(input_shape[1:4]) + (2,), name="masks")
            x = AppendMasks(name="append_masks")([x, inputs["masks"]])
        folded = FoldTime(name="fold_time")(x)
        h = blocks.encoder_3d(folded, encoder_filters, "encoder", norm=norm, activation=activation)[-1]
        if recurrent == "convlstm2d":
            h = ReduceDepth(depth_pooling, name="reduce_depth")(h)
            lstm, pool = keras.layers.ConvLSTM2D, keras.layers.GlobalAveragePooling2D
        else:
            lstm, pool = keras.layers.ConvLSTM3D, keras.layers.GlobalAveragePooling3D
        h = UnfoldTime(name="unfold_time")([h, sequence])
        for k, f in enumerate(lstm_filters):
            h = lstm(f, 3, padding="same", return_sequences=k < len(lstm_filters) - 1, name=f"convlstm_{k}")(h)
        h = pool(name="pool")(h)
        if lesion_masks:
            curves = LesionCurves(name="lesion_curves")([sequence, inputs["masks"]])
            curves = keras.layers.LSTM(int(curve_units), name="curve_lstm")(curves)
            h = keras.layers.Concatenate(name="features")([h, curves])
        outputs = blocks.classifier_head(h, num_classes, dropout)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        self._remember(input_shape=input_shape, num_classes=int(num_classes), encoder_filters=encoder_filters,
                       lstm_filters=lstm_filters, recurrent=recurrent, depth_pooling=depth_pooling, norm=norm,
                       activation=activation, dropout=float(dropout), normalize_series=bool(normalize_series),
                       subtraction=bool(subtraction), class_names=class_names, lesion_masks=bool(lesion_masks),
                       curve_units=int(curve_units))
