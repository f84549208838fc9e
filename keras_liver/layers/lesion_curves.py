"""`LesionCurves`: a lesion's time-intensity curves, in the graph, from the series and the lesion's mask."""

import keras
from keras import ops

_TINY = 1e-6


@keras.saving.register_keras_serializable(package="keras_liver")
class LesionCurves(keras.layers.Layer):
    """``[series (b, t, z, y, x, c), masks (b, z, y, x, 2)]`` -> ``(b, t, 3)`` curves.

    The masks are the lesion's own voxels (channel 0) and the liver parenchyma's
    (channel 1) on the series' grid. Per frame: the lesion's mean over the
    pre-contrast liver mean, the liver's mean over the same, and the lesion's mean
    over the liver's mean of that frame: the numbers of
    `keras_liver.features.time_intensity_curves`, which a radiologist reads as the
    lesion's enhancement and washout against the liver's. The first channel of the
    series is used. Dividing by the pre-contrast liver removes the scanner's signal
    scale. A crop without liver voxels uses the crop's mean instead (so no division
    by zero); a mask without lesion voxels gives the crop's mean curve.
    """

    def call(self, inputs):
        series, masks = inputs
        x = ops.cast(series[..., 0], "float32")  # (b, t, z, y, x)
        masks = ops.cast(masks, "float32")
        crop = ops.mean(x, axis=(2, 3, 4))  # (b, t)

        def masked_mean(weight):  # weight (b, z, y, x) -> (b, t), the crop's mean where the mask is empty
            count = ops.sum(weight, axis=(1, 2, 3))[:, None]
            total = ops.sum(x * weight[:, None], axis=(2, 3, 4))
            return ops.where(count > 0.5, total / ops.maximum(count, _TINY), crop)

        lesion, liver = masked_mean(masks[..., 0]), masked_mean(masks[..., 1])
        scale = ops.maximum(liver[:, :1], _TINY)
        return ops.stack([lesion / scale, liver / scale, lesion / ops.maximum(liver, _TINY)], axis=-1)

    def compute_output_shape(self, input_shape):
        series_shape = input_shape[0]
        return (series_shape[0], series_shape[1], 3)
