"""`UNet`: the plain U-Net, the segmentation ablation of `FusedUNet`."""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers import blocks
from keras_liver.layers.intensity import intensity_layer, normalize_intensity_spec


@keras.saving.register_keras_serializable(package="keras_liver")
class UNet(keras.Model):
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

    def __init__(self, input_shape=(256, 256, 1), num_classes: int = 3, depth: int = 4, filters: int = 32,
                 extra_inputs=None, norm="batch", activation: str = "relu", dropout: float = 0.0, intensity=None,
                 name: str = "unet", **kwargs):
        input_shape = tuple(None if s is None else int(s) for s in input_shape)
        spatial_dims = len(input_shape) - 1
        if spatial_dims not in (2, 3):
            raise ConfigError(f"input_shape: (y, x, c) or (z, y, x, c), got {input_shape}")
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
        self.input_shape_ = input_shape
        self.num_classes = int(num_classes)
        self.depth = int(depth)
        self.filters = int(filters)
        self.extra_inputs = extra_inputs
        self.norm = norm
        self.activation = activation
        self.dropout = float(dropout)
        self.intensity = spec

    def get_config(self):
        return {"input_shape": list(self.input_shape_), "num_classes": self.num_classes, "depth": self.depth,
                "filters": self.filters, "extra_inputs": self.extra_inputs, "norm": self.norm,
                "activation": self.activation, "dropout": self.dropout, "intensity": self.intensity,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
