"""Functional building blocks shared by the models (2D and 3D).

Each helper applies `keras.layers` to a symbolic tensor and names the layers
after the node they build, so a built model reads like the paper's figure.
"""

import keras

from keras_liver.errors import ConfigError
from keras_liver.layers.arg_max import ArgMax

NORMALIZATIONS = ("batch", "sync_batch", "instance", "group", None)


def conv_layer(spatial_dims: int):
    """``Conv2D`` or ``Conv3D``."""
    return {2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[spatial_dims]


def normalization(kind, name: str, channels: int):
    """A normalisation layer: ``"batch"``, ``"sync_batch"`` (statistics over all replicas, for
    multi-worker training), ``"instance"``, ``"group"`` (8 groups or fewer) or ``None``."""
    if kind in ("batch", "sync_batch"):
        # momentum 0.9 (Keras: 0.99): the moving statistics used at inference settle within ~50 steps,
        # which matters for the short CPU recipes; with 0.99 a few hundred steps left them far off
        return keras.layers.BatchNormalization(momentum=0.9, synchronized=kind == "sync_batch", name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, name=name)
    if kind == "group":
        groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
        return keras.layers.GroupNormalization(groups=groups, name=name)
    if kind is None:
        return None
    raise ConfigError(f"normalization: one of {NORMALIZATIONS}, got {kind!r}")


def conv_block(x, filters: int, spatial_dims: int, name: str, *, norm="batch", activation="relu",
               dropout: float = 0.0, kernel_size: int = 3):
    """Two convolutions, each followed by normalisation and activation.

    The block's output layer is named ``name`` (for example ``x_0_3``); its
    parts are ``name_conv1``, ``name_norm1``, ..., ``name_dropout``.
    """
    conv = conv_layer(spatial_dims)
    for n in (1, 2):
        x = conv(filters, kernel_size, padding="same", use_bias=norm is None, name=f"{name}_conv{n}")(x)
        layer = normalization(norm, f"{name}_norm{n}", filters)
        if layer is not None:
            x = layer(x)
        x = keras.layers.Activation(activation, name=name if n == 2 else f"{name}_act1")(x)
        if n == 1 and dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def downsample(x, spatial_dims: int, name: str):
    """2x max pooling."""
    pool = {2: keras.layers.MaxPooling2D, 3: keras.layers.MaxPooling3D}[spatial_dims]
    return pool(2, name=name)(x)


def upsample(x, filters: int, spatial_dims: int, name: str):
    """2x learned up-sampling (transposed convolution, kernel 2, stride 2)."""
    transpose = {2: keras.layers.Conv2DTranspose, 3: keras.layers.Conv3DTranspose}[spatial_dims]
    return transpose(filters, 2, strides=2, padding="same", name=name)(x)


def softmax_head(x, num_classes: int, spatial_dims: int, name: str):
    """1x1 convolution to class logits, then a float32 softmax (safe under mixed precision)."""
    logits = conv_layer(spatial_dims)(num_classes, 1, name=f"{name}_logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name=name)(logits)


def classifier_head(x, num_classes: int, dropout: float = 0.0) -> dict:
    """Dropout, a float32 dense softmax ``probabilities`` and its int32 arg-max ``label``."""
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    probabilities = keras.layers.Dense(int(num_classes), activation="softmax", dtype="float32",
                                       name="probabilities")(x)
    return {"probabilities": probabilities, "label": ArgMax(name="label")(probabilities)}


def encoder(x, filters, spatial_dims: int, name: str, *, norm="batch", activation="relu", dropout: float = 0.0):
    """A 2D or 3D convolutional encoder: a conv block per level, 2x pooling between levels.

    Returns:
        The list of level outputs, finest first (the last is not pooled).
    """
    levels = []
    for i, f in enumerate(filters):
        if i:
            x = downsample(x, spatial_dims, f"{name}_pool{i}")
        x = conv_block(x, int(f), spatial_dims, f"{name}_level{i}", norm=norm, activation=activation,
                       dropout=dropout)
        levels.append(x)
    return levels


def encoder_3d(x, filters, name: str, *, norm="batch", activation="relu", dropout: float = 0.0):
    """`encoder` in 3D."""
    return encoder(x, filters, 3, name, norm=norm, activation=activation, dropout=dropout)
