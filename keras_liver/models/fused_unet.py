"""`FusedUNet`: UNet++ with nested dense skips and several fused inputs, 2D or 3D."""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers import blocks
from keras_liver.layers.intensity import intensity_layer, normalize_intensity_spec
from keras_liver.models.base import LiverModel

FUSIONS = ("early", "stems")
MODES = ("accurate", "fast")


@keras.saving.register_keras_serializable(package="keras_liver")
class FusedUNet(LiverModel):
    """The paper's "fused U-Net": UNet++ (Zhou et al., 2018) with multi-input fusion.

    Nodes follow eq. 2 and are named by grid position: the encoder column
    ``x^{i,0} = D(P(x^{i-1,0}))`` (``x_1_0`` ... ``x_L_0``) and, for
    ``j > 0``, ``x^{i,j} = D([x^{i,0}, ..., x^{i,j-1}, T(x^{i+1,j-1})])``,
    where ``D`` is a conv block (two convolutions with normalisation and
    activation), ``P`` 2x max pooling and ``T`` a 2x transposed convolution
    (layer ``up_{i+1}_{j-1}``). The concatenation feeding ``x_i_j`` is the
    layer ``x_i_j_concat``. Level ``i`` has ``filters * 2**i`` channels.

    Inputs are named: ``image`` (raw HU when ``intensity`` is set) and any
    ``extra_inputs`` (for example ``{"hog": 9}`` from
    `keras_liver.features.hog_map`). ``fusion="early"`` concatenates them
    before the first block; ``fusion="stems"`` gives each input its own
    encoder column (``stem_<input>_<i>``) and merges the columns at every
    level with a 1x1 convolution into ``x_i_0``.

    Outputs (dict): ``probabilities``, the softmax over classes, float32
    under any precision policy. With ``deep_supervision=True`` there is a
    head on each of ``x_0_1`` ... ``x_0_L`` (``head_1`` ... ``head_L``) and
    ``probabilities`` is their mean; `inference_model` gives the "accurate"
    (mean of heads) or "fast" (one head) model, and pruning to a smaller
    level keeps only the sub-network that head needs.

    Spatial sizes may be ``None``; at run time they must be divisible by
    ``2**depth``.

    Args:
        input_shape: ``(y, x, c)`` for 2D or ``(z, y, x, c)`` for 3D.
        num_classes: Output classes (3: background, liver, tumour).
        depth: Number of down-sampling levels ``L``.
        filters: Channels at level 0, doubled per level.
        deep_supervision: Heads on every ``x_0_j``.
        extra_inputs: ``{name: channels}`` of further inputs on the same grid.
        fusion: ``"early"`` or ``"stems"``.
        norm: ``"batch"``, ``"instance"``, ``"group"`` or ``None``.
        activation: Activation of the conv blocks.
        dropout: Dropout rate inside each conv block (0 disables).
        intensity: In-graph intensity step for ``image``: ``None``, a
            window preset (``"liver"``), ``[low, high]`` HU, or a
            `Fingerprint` dict.
        name: Model name.

    Example:
        >>> model = FusedUNet(input_shape=(None, None, 1), depth=3, filters=16,
        ...                   extra_inputs={"hog": 9}, intensity="abdomen")
        >>> out = model({"image": hu, "hog": energy})["probabilities"]

    Reference:
        Zhou, Rahman Siddiquee, Tajbakhsh and Liang, "UNet++: A Nested U-Net
        Architecture for Medical Image Segmentation", DLMIA 2018.
    """

    task = "ct_segmentation"
    config_keys = ("input_shape", "num_classes", "depth", "filters", "deep_supervision", "extra_inputs", "fusion",
                   "norm", "activation", "dropout", "intensity")

    def __init__(self, input_shape=(256, 256, 1), num_classes: int = 3, depth: int = 4, filters: int = 32,
                 deep_supervision: bool = False, extra_inputs=None, fusion: str = "early", norm="batch",
                 activation: str = "relu", dropout: float = 0.0, intensity=None, name: str = "fused_unet",
                 **kwargs):
        input_shape = self.coerce_input_shape(input_shape, (3, 4), "(y, x, c) or (z, y, x, c)")
        spatial_dims = len(input_shape) - 1
        if fusion not in FUSIONS:
            raise ConfigError(f"fusion: one of {FUSIONS}, got {fusion!r}")
        if int(depth) < 1 or int(filters) < 1 or int(num_classes) < 2:
            raise ConfigError(f"depth >= 1, filters >= 1 and num_classes >= 2 needed; got {depth}, {filters}, "
                              f"{num_classes}")
        extra_inputs = {str(k): int(v) for k, v in (extra_inputs or {}).items()}
        if "image" in extra_inputs:
            raise ConfigError("extra_inputs: 'image' is the main input's name")
        depth, filters = int(depth), int(filters)
        spec = normalize_intensity_spec(intensity)
        block = dict(norm=norm, activation=activation, dropout=float(dropout))

        inputs = {"image": keras.Input(input_shape, name="image")}
        for key, channels in extra_inputs.items():
            inputs[key] = keras.Input(input_shape[:-1] + (channels,), name=key)
        streams = dict(inputs)
        layer = intensity_layer(spec)
        if layer is not None:
            streams["image"] = layer(inputs["image"])

        nodes = {}
        width = [filters * 2 ** i for i in range(depth + 1)]
        if fusion == "early" or len(streams) == 1:
            x = streams["image"] if len(streams) == 1 else keras.layers.Concatenate(name="fusion")(list(streams.values()))
            for i in range(depth + 1):
                if i:
                    x = blocks.downsample(x, spatial_dims, f"pool_{i}")
                x = blocks.conv_block(x, width[i], spatial_dims, f"x_{i}_0", **block)
                nodes[(i, 0)] = x
        else:
            columns = dict(streams)
            for i in range(depth + 1):
                for key in columns:
                    if i:
                        columns[key] = blocks.downsample(columns[key], spatial_dims, f"stem_{key}_pool_{i}")
                    columns[key] = blocks.conv_block(columns[key], width[i], spatial_dims, f"stem_{key}_{i}",
                                                     **block)
                merged = keras.layers.Concatenate(name=f"x_{i}_0_merge")(list(columns.values()))
                merged = blocks.conv_layer(spatial_dims)(width[i], 1, name=f"x_{i}_0_conv")(merged)
                nodes[(i, 0)] = keras.layers.Activation(activation, name=f"x_{i}_0")(merged)

        for j in range(1, depth + 1):
            for i in range(depth + 1 - j):
                up = blocks.upsample(nodes[(i + 1, j - 1)], width[i], spatial_dims, f"up_{i + 1}_{j - 1}")
                cat = keras.layers.Concatenate(name=f"x_{i}_{j}_concat")([nodes[(i, k)] for k in range(j)] + [up])
                nodes[(i, j)] = blocks.conv_block(cat, width[i], spatial_dims, f"x_{i}_{j}", **block)

        if deep_supervision:
            heads = {f"head_{j}": blocks.softmax_head(nodes[(0, j)], int(num_classes), spatial_dims, f"head_{j}")
                     for j in range(1, depth + 1)}
            mean = keras.layers.Average(dtype="float32", name="probabilities")(list(heads.values()))
            outputs = {"probabilities": mean, **heads}
        else:
            outputs = {"probabilities": blocks.softmax_head(nodes[(0, depth)], int(num_classes), spatial_dims,
                                                            "probabilities")}
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        self.spatial_dims = spatial_dims
        self._remember(input_shape=input_shape, num_classes=int(num_classes), depth=depth, filters=filters,
                       deep_supervision=bool(deep_supervision), extra_inputs=extra_inputs, fusion=fusion, norm=norm,
                       activation=activation, dropout=float(dropout), intensity=spec)

    @classmethod
    def training_outputs(cls, model_args: dict) -> tuple:
        """``probabilities``, and ``head_1`` ... ``head_depth`` with deep supervision."""
        if not model_args.get("deep_supervision"):
            return ("probabilities",)
        return ("probabilities",) + tuple(f"head_{j}" for j in range(1, int(model_args.get("depth", 4)) + 1))

    @property
    def input_names(self) -> list:
        """Names of the inputs: ``image`` then the extra inputs."""
        return ["image", *self.extra_inputs]

    def inference_model(self, mode: str = "accurate", level: int | None = None) -> keras.Model:
        """A model with the single output ``probabilities`` for serving.

        Args:
            mode: ``"accurate"``: mean of heads 1..``level``; ``"fast"``: the
                head at ``level`` alone.
            level: Deepest level used (default ``depth``). Below ``depth``
                the model is pruned: nodes that level does not need are left
                out, so it is smaller and faster (Zhou et al.'s pruning).
                Needs ``deep_supervision=True`` for ``level < depth`` or
                ``mode="accurate"``.

        Returns:
            A functional `keras.Model` sharing this model's layers and weights.
        """
        if mode not in MODES:
            raise ConfigError(f"mode: one of {MODES}, got {mode!r}")
        level = self.depth if level is None else int(level)
        if not 1 <= level <= self.depth:
            raise ConfigError(f"level: 1..{self.depth}, got {level}")
        inputs = {key: self.get_layer(key).output for key in self.input_names}
        if not self.deep_supervision:
            if level != self.depth:
                raise ConfigError("level: pruning needs a model built with deep_supervision=True")
            out = self.get_layer("probabilities").output
        elif mode == "fast":
            out = self.get_layer(f"head_{level}").output
        else:
            heads = [self.get_layer(f"head_{j}").output for j in range(1, level + 1)]
            out = heads[0] if level == 1 else keras.layers.Average(dtype="float32", name="mean_of_heads")(heads)
        return keras.Model(inputs=inputs, outputs={"probabilities": out}, name=f"{self.name}_{mode}_{level}")

    @property
    def size_multiple(self) -> int:
        """Spatial sizes must be divisible by this (``2**depth``): the windows `predict_volume` may use."""
        return 2 ** self.depth
