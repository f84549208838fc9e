"""`DCESegmenter`: a shared 3D U-Net encoder over time, ConvLSTMs at every level, a 3D decoder."""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers import blocks
from keras_liver.layers.arg_max import ArgMax
from keras_liver.layers.fold_time import FoldTime
from keras_liver.layers.series_normalization import SeriesNormalization
from keras_liver.layers.subtraction_images import SubtractionImages
from keras_liver.layers.unfold_time import UnfoldTime
from keras_liver.models.base import LiverModel


@keras.saving.register_keras_serializable(package="keras_liver")
class DCESegmenter(LiverModel):
    """Per-voxel segmentation of a 4D DCE-MRI series.

    ``sequence`` ``(batch, t, z, y, x, c)`` -> series normalisation -> a
    shallow 3D U-Net encoder with shared weights on every time point (time
    folded into the batch) -> a ConvLSTM3D over time at every encoder level
    (skips and bottleneck, ``convlstm_<level>``), each returning its last
    state -> a 3D decoder (transposed convolution, concatenation with the
    level's temporal summary, conv block ``decoder_<level>``) -> softmax.

    Outputs (dict): ``probabilities`` ``(batch, z, y, x, num_classes)``
    float32 and ``mask`` ``(batch, z, y, x)`` int32.

    Args:
        input_shape: ``(t, z, y, x, c)``; ``t`` may be ``None``.
        num_classes: 3 (background, liver, lesion).
        filters: Channels per level (2x pooling between levels).
        norm: Normalisation of the conv blocks.
        activation: Activation of the conv blocks.
        normalize_series: Add `SeriesNormalization`.
        subtraction: Give every frame its subtraction image as a second
            channel (`SubtractionImages`, after the normalisation).
        spatial_dims: 3 (the paper's model: 3D convolutions per frame, ConvLSTM3D)
            or 2 (the 2D + time variant: each slice on its own, 2D convolutions per
            frame, ConvLSTM2D; ``input_shape`` is then ``(t, y, x, c)`` and the
            outputs ``(batch, y, x, ...)``).
        lstm_kernel: Kernel size of the ConvLSTMs, one for all levels or one per
            level (finest first). A kernel of 1 at the finest level is an LSTM per
            voxel over time, 27 times cheaper than 3 x 3 x 3; the encoder's 3D
            convolutions already give each voxel its spatial context.
        name: Model name.

    Reference:
        Zheng et al., IEEE Transactions on Medical Imaging, 2022: 4D
        DCE-MRI liver tumour segmentation from 3D features per time point
        fused over time by convolutional LSTMs (see ../shared/DESIGN.md).
    """

    task = "dce_segmentation"
    config_keys = ('input_shape', 'num_classes', 'filters', 'norm', 'activation', 'normalize_series', 'subtraction',
                   'lstm_kernel', 'spatial_dims')

    def __init__(self, input_shape=(8, 16, 64, 64, 1), num_classes: int = 3, filters=(16, 32, 64), norm="batch",
                 activation: str = "relu", normalize_series: bool = True, subtraction: bool = False,
                 lstm_kernel=3, spatial_dims: int = 3, name: str = "dce_segmenter", **kwargs):
        if spatial_dims not in (2, 3):
            raise ConfigError(f"spatial_dims: 2 or 3, got {spatial_dims!r}")
        input_shape = self.coerce_input_shape(input_shape, (spatial_dims + 2,),
                                              "(t, z, y, x, c)" if spatial_dims == 3 else "(t, y, x, c)")
        filters = [int(f) for f in filters]
        if len(filters) < 2:
            raise ConfigError("filters: at least two levels")
        kernels = [lstm_kernel] * len(filters) if isinstance(lstm_kernel, int) else list(lstm_kernel)
        if len(kernels) != len(filters) or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1
                                                     and k % 2 for k in kernels):
            raise ConfigError(f"lstm_kernel: an odd size >= 1, or one per level ({len(filters)}), got {lstm_kernel!r}")

        sequence = keras.Input(input_shape, name="sequence")
        x = SeriesNormalization(name="series_normalization")(sequence) if normalize_series else sequence
        if subtraction:
            x = SubtractionImages(name="subtraction_images")(x)
        levels = blocks.encoder(FoldTime(name="fold_time")(x), filters, spatial_dims, "encoder", norm=norm,
                                activation=activation)
        convlstm = keras.layers.ConvLSTM3D if spatial_dims == 3 else keras.layers.ConvLSTM2D
        summaries = []
        for level, (features, f) in enumerate(zip(levels, filters)):
            series = UnfoldTime(name=f"unfold_time_{level}")([features, sequence])
            summaries.append(convlstm(f, kernels[level], padding="same", name=f"convlstm_{level}")(series))
        d = summaries[-1]
        for level in range(len(filters) - 2, -1, -1):
            up = blocks.upsample(d, filters[level], spatial_dims, f"up_{level}")
            d = keras.layers.Concatenate(name=f"decoder_{level}_concat")([summaries[level], up])
            d = blocks.conv_block(d, filters[level], spatial_dims, f"decoder_{level}", norm=norm,
                                  activation=activation)
        probabilities = blocks.softmax_head(d, int(num_classes), spatial_dims, "probabilities")
        outputs = {"probabilities": probabilities, "mask": ArgMax(name="mask")(probabilities)}
        super().__init__(inputs={"sequence": sequence}, outputs=outputs, name=name, **kwargs)

        self._remember(input_shape=input_shape, num_classes=int(num_classes), filters=filters, norm=norm,
                       activation=activation, normalize_series=bool(normalize_series), subtraction=bool(subtraction),
                       lstm_kernel=lstm_kernel if isinstance(lstm_kernel, int) else kernels,
                       spatial_dims=int(spatial_dims))
