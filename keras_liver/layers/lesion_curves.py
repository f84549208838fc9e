"""`LesionCurves`: a lesion's time-intensity curves, in the graph, from the series and the lesion's mask."""

import keras
from keras import ops

_TINY = 1e-6
CURVES = ("lesion", "liver", "lesion_to_liver", "rim", "core")


@keras.saving.register_keras_serializable(package="keras_liver")
class LesionCurves(keras.layers.Layer):
    """``[series (b, t, z, y, x, c), masks (b, z, y, x, 2)]`` -> ``(b, t, 5)`` curves (`CURVES`).

    The masks are the lesion's own voxels (channel 0) and the liver parenchyma's
    (channel 1) on the series' grid. Per frame: the lesion's mean over the
    pre-contrast liver mean, the liver's mean over the same, and the lesion's mean
    over the liver's mean of that frame (the numbers of
    `keras_liver.features.time_intensity_curves`, which a radiologist reads as the
    lesion's enhancement and washout against the liver's); then the same first
    ratio for the lesion's rim (its voxels that one in-plane erosion removes) and
    its core (what two erosions leave), the spatial pattern of rim enhancement, a
    central scar or centripetal filling. Erosion is a 1 x 3 x 3 minimum, which does
    not erode at the crop's border. The first channel of the series is used.
    A crop without liver voxels uses the crop's mean instead (so no division by
    zero); an empty lesion, rim or core gives the next larger region's curve (a
    lesion of a few voxels has no core: its core curve is its rim's, or its own).
    """

    def call(self, inputs):
        series, masks = inputs
        x = ops.cast(series[..., 0], "float32")  # (b, t, z, y, x)
        masks = ops.cast(masks, "float32")
        crop = ops.mean(x, axis=(2, 3, 4))  # (b, t)

        def masked_mean(weight, fallback):  # weight (b, z, y, x) -> (b, t); fallback where the mask is empty
            count = ops.sum(weight, axis=(1, 2, 3))[:, None]
            total = ops.sum(x * weight[:, None], axis=(2, 3, 4))
            return ops.where(count > 0.5, total / ops.maximum(count, _TINY), fallback)

        def erode(mask):  # (b, z, y, x) -> the in-plane 3 x 3 minimum
            return -ops.max_pool(-mask[..., None], (1, 3, 3), strides=1, padding="same")[..., 0]

        lesion_mask = masks[..., 0]
        once = erode(lesion_mask)
        lesion, liver = masked_mean(lesion_mask, crop), masked_mean(masks[..., 1], crop)
        rim = masked_mean(lesion_mask - once, lesion)
        core = masked_mean(erode(once), masked_mean(once, rim))
        scale = ops.maximum(liver[:, :1], _TINY)
        return ops.stack([lesion / scale, liver / scale, lesion / ops.maximum(liver, _TINY), rim / scale,
                          core / scale], axis=-1)

    def compute_output_shape(self, input_shape):
        series_shape = input_shape[0]
        return (series_shape[0], series_shape[1], len(CURVES))
