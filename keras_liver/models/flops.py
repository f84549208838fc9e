"""`summary(model)`: parameters and FLOPs per sample of a keras-liver model.

FLOPs count multiply-adds as two operations, for the layers that dominate
the cost: convolutions (also transposed and depth-wise), dense layers, and
the input and recurrent convolutions or matrix products of ConvLSTM and
LSTM layers for every time step. Normalisation, activation, pooling and
element-wise ops are left out (a few per cent of a U-Net's total).
"""

import math

import keras
import numpy as np

from keras_liver.errors import ConfigError

CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
CONV_TRANSPOSE = (keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
CONV_LSTM = (keras.layers.ConvLSTM1D, keras.layers.ConvLSTM2D, keras.layers.ConvLSTM3D)


def _prod(values) -> int:
    return int(np.prod([int(v) for v in values])) if len(values) else 1


def _layer_flops(layer, in_shape, out_shape) -> int:
    if isinstance(layer, CONV_TRANSPOSE):
        return 2 * _prod(layer.kernel_size) * int(in_shape[-1]) * int(layer.filters) * _prod(in_shape[1:-1])
    if isinstance(layer, CONV):
        groups = int(getattr(layer, "groups", 1) or 1)
        return 2 * _prod(layer.kernel_size) * int(in_shape[-1]) // groups * int(layer.filters) * _prod(out_shape[1:-1])
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(in_shape[-1]) * int(layer.units) * _prod(in_shape[1:-1])
    if isinstance(layer, CONV_LSTM):
        steps, spatial_out = int(in_shape[1]), _prod(out_shape[2:-1] if layer.return_sequences else out_shape[1:-1])
        gates = 4 * int(layer.filters)
        per_step = 2 * _prod(layer.kernel_size) * (int(in_shape[-1]) + int(layer.filters)) * gates * spatial_out
        return steps * per_step
    if isinstance(layer, keras.layers.LSTM):
        return int(in_shape[1]) * 2 * (int(in_shape[-1]) + int(layer.units)) * 4 * int(layer.units)
    return 0


def _concrete(model, input_shapes):
    shapes = {t.name if hasattr(t, "name") else k: tuple(t.shape[1:]) for k, t in _named_inputs(model).items()}
    if all(None not in s for s in shapes.values()):
        return model
    if input_shapes is None:
        raise ConfigError(f"summary: the model's inputs {shapes} have free sizes; pass input_shapes={{name: shape}}")
    config = model.get_config() if hasattr(type(model), "from_config") else None
    if not config or "input_shape" not in config:
        raise ConfigError("summary: cannot rebuild this model with concrete shapes; build it with fixed sizes")
    first = next(iter(shapes))
    new_shape = input_shapes.get(first) if isinstance(input_shapes, dict) else input_shapes
    return type(model).from_config({**config, "input_shape": list(new_shape)})


def _named_inputs(model) -> dict:
    inputs = model.input
    if isinstance(inputs, dict):
        return inputs
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return {t.name: t for t in inputs}


def summary(model, input_shapes=None) -> dict:
    """Parameter and FLOP counts of a functional Keras model.

    Args:
        model: A keras-liver model (or any functional `keras.Model`).
        input_shapes: Concrete per-sample shapes for inputs with ``None``
            sizes, e.g. ``(256, 256, 1)`` or ``{"image": (64, 128, 128, 1)}``;
            the model is rebuilt from its config at that size (weights do not
            matter for counting).

    Returns:
        ``{"params", "trainable_params", "flops_per_sample", "gflops_per_sample",
        "input_shapes", "flops_by_layer"}``.
    """
    counted = _concrete(model, input_shapes)
    by_layer = {}
    for nodes in counted._nodes_by_depth.values():
        for node in nodes:
            layer = node.operation
            if not node.input_tensors or not node.output_tensors:
                continue
            flops = _layer_flops(layer, node.input_tensors[0].shape, node.output_tensors[0].shape)
            if flops:
                by_layer[layer.name] = by_layer.get(layer.name, 0) + flops
    total = int(sum(by_layer.values()))
    trainable = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    return {
        "params": int(model.count_params()),
        "trainable_params": trainable,
        "flops_per_sample": total,
        "gflops_per_sample": total / 1e9,
        "input_shapes": {k: list(t.shape[1:]) for k, t in _named_inputs(counted).items()},
        "flops_by_layer": dict(sorted(by_layer.items(), key=lambda kv: -kv[1])),
    }
