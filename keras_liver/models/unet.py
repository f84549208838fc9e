"""`UNet`: the plain U-Net, the segmentation ablation of `FusedUNet`."""

import keras

from keras_liver.layers import blocks
from keras_liver.layers.intensity import intensity_layer, normalize_intensity_spec
from keras_liver.models.base import LiverModel


@keras.saving.register_keras_serializable(package="keras_liver")
class UNet(LiverModel):
    """U-Net (Ronneberger et al., 2015) with the same blocks, inputs and outputs as `FusedUNet`.

    Encoder nodes ``x_i_0`` as in `FusedUNet`; each decoder node
    ``d_i = D([x^{i,0}, T(d_{i+1})])`` (with ``d_L = x^{L,0}``) has one skip
    only, where UNet++ has the nested dense ones. Extra inputs are fused
    early (concatenation).

    Args:
        input_shape: ``(y, x, c)`` or ``(z, y, x, c)``.
        num_classes: Output classes.
        depth: Down-sampling levels.
        filters: Channels at level 0, doubled per level.
        extra_inputs: ``{name: channels}``.
        norm, activation, dropout: Conv block settings.
        intensity: In-graph intensity step (see `FusedUNet`).
        name: Model name.
    """

    task = "ct_segmentation"
    config_keys = ('input_shape', 'num_classes', 'depth', 'filters', 'extra_inputs', 'norm', 'activation', 'dropout', 'intensity')

    def __init__(self, input_shape=(256, 256, 1), num_classes: int = 3, depth: int = 4, filters: int = 32,
                 extra_inputs=None, norm="batch", activation: str = "relu", dropout: float = 0.0, intensity=None,
                 name: str = "unet", **kwargs):
        input_shape = self.coerce_input_shape(input_shape, (3, 4), "(y, x, c) or (z, y, x, c)")
        spatial_dims = len(input_shape) - 1
        extra_inputs = {str(k): int(v) for k, v in (extra_inputs or {}).items()}
        spec = normalize_intensity_spec(intensity)
        block = dict(norm=norm, activation=activation, dropout=float(dropout))
        inputs = {"image": keras.Input(input_shape, name="image")}
        for key, channels in extra_inputs.items():
            inputs[key] = keras.Input(input_shape[:-1] + (channels,), name=key)
        image = inputs["image"]
        layer = intensity_layer(spec)
        if layer is not None:
            image = layer(image)
        x = image if not extra_inputs else keras.layers.Concatenate(name="fusion")(
            [image] + [inputs[k] for k in extra_inputs])
        width = [int(filters) * 2 ** i for i in range(int(depth) + 1)]
        skips = []
        for i in range(int(depth) + 1):
            if i:
                x = blocks.downsample(x, spatial_dims, f"pool_{i}")
            x = blocks.conv_block(x, width[i], spatial_dims, f"x_{i}_0", **block)
            skips.append(x)
        for i in range(int(depth) - 1, -1, -1):
            up = blocks.upsample(x, width[i], spatial_dims, f"up_{i + 1}")
            x = keras.layers.Concatenate(name=f"d_{i}_concat")([skips[i], up])
            x = blocks.conv_block(x, width[i], spatial_dims, f"d_{i}", **block)
        outputs = {"probabilities": blocks.softmax_head(x, int(num_classes), spatial_dims, "probabilities")}
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._remember(input_shape=input_shape, num_classes=int(num_classes), depth=int(depth), filters=int(filters),
                       extra_inputs=extra_inputs, norm=norm, activation=activation, dropout=float(dropout),
                       intensity=spec)

    @property
    def size_multiple(self) -> int:
        """Spatial sizes must be divisible by this (``2**depth``): the windows `predict_volume` may use."""
        return 2 ** self.depth
