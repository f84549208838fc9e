"""`AppendMasks`: the same masks on every frame of a series, as extra channels."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_liver")
class AppendMasks(keras.layers.Layer):
    """``[series (b, t, ..., c), masks (b, ..., m)]`` -> ``(b, t, ..., c + m)``.

    A per-frame encoder with shared weights sees one frame at a time; with the
    lesion's mask beside every frame, it knows which voxels of a crop are the
    lesion it is asked about (a 10 mm lesion is a few voxels of a 24 x 24 crop, and
    a neighbouring lesion may share the crop).
    """

    def call(self, inputs):
        series, masks = inputs
        masks = ops.cast(masks, series.dtype)[:, None]
        frames = ops.shape(series)[1]
        tiled = ops.repeat(masks, frames, axis=1)
        return ops.concatenate([series, tiled], axis=-1)

    def compute_output_shape(self, input_shape):
        series_shape, masks_shape = input_shape
        channels = None if series_shape[-1] is None or masks_shape[-1] is None else series_shape[-1] + masks_shape[-1]
        return tuple(series_shape[:-1]) + (channels,)
