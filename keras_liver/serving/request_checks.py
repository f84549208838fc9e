"""Checks of a Predict request against a signature, with TF Serving-style INVALID_ARGUMENT messages."""

import numpy as np

from keras_liver.errors import ServingError

DEFAULT_SIGNATURE = "serving_default"


def signature_function(signatures: dict, signature: str, model_name: str):
    """``(name, function)`` of the requested signature (``""`` means ``serving_default``)."""
    signature = signature or DEFAULT_SIGNATURE
    if signature not in signatures:
        raise ServingError(f'Serving signature name: "{signature}" not found in signature def '
                           f"(model {model_name} has {sorted(signatures)})", "INVALID_ARGUMENT")
    return signature, signatures[signature]


def input_specs(fn) -> dict:
    """``{input name: tf.TensorSpec}`` of a signature function."""
    return fn.structured_input_signature[1]


def check_inputs(fn, inputs: dict, signature: str, model_name: str) -> dict:
    """The request's arrays as tensors, after checking names, dtypes and shapes against the signature."""
    import tensorflow as tf

    specs = input_specs(fn)
    unknown = sorted(set(inputs) - set(specs))
    missing = sorted(set(specs) - set(inputs))
    if unknown or missing:
        parts = ([f"unknown input(s) {unknown}"] if unknown else []) + (
            [f"missing input(s) {missing}"] if missing else [])
        raise ServingError(f"{'; '.join(parts)}; signature {signature} of {model_name} takes {sorted(specs)}",
                           "INVALID_ARGUMENT")
    feed = {}
    for key, spec in specs.items():
        value = inputs[key]
        if value.dtype != spec.dtype.as_numpy_dtype:
            raise ServingError(f"input {key!r}: expects {spec.dtype.name} ({_dt(spec.dtype)}), got "
                               f"{value.dtype.name}", "INVALID_ARGUMENT")
        if not spec.shape.is_compatible_with(value.shape):
            raise ServingError(f"input {key!r}: shape {list(value.shape)} does not match the signature's "
                               f"{_shape_text(spec.shape)}", "INVALID_ARGUMENT")
        if spec.dtype.is_floating and not np.isfinite(value).all():
            raise ServingError(f"input {key!r}: holds NaN or Inf values", "INVALID_ARGUMENT")
        feed[key] = tf.constant(value)
    return feed


def check_output_filter(fn, output_filter, signature: str) -> list:
    """The output names to return: ``output_filter`` (checked) or all of the signature's."""
    outputs = list(fn.structured_outputs)
    bad = sorted(set(output_filter) - set(outputs))
    if bad:
        raise ServingError(f"output_filter: {bad} not in signature {signature} outputs {sorted(outputs)}",
                           "INVALID_ARGUMENT")
    return list(output_filter) or outputs


MAX_TENSOR_BYTES = 1 << 30  # the dev server's own limit per input tensor (gRPC messages are limited separately)

_VALUE_FIELDS = ("half_val", "float_val", "double_val", "int_val", "int64_val", "bool_val", "string_val",
                 "scomplex_val", "dcomplex_val", "uint32_val", "uint64_val")


def as_array(proto, max_bytes: int = MAX_TENSOR_BYTES) -> np.ndarray:
    """A ``TensorProto`` as a NumPy array, checked before anything is allocated.

    The declared shape must have no negative or unknown dimension, its size in
    bytes must stay under ``max_bytes``, and the values must be all there:
    ``tensor_content`` of exactly that many bytes, or a value list of exactly
    that many entries (a short list is never expanded to a large shape, as
    ``tf.make_ndarray`` would).

    Raises:
        ServingError: ``INVALID_ARGUMENT`` (``RESOURCE_EXHAUSTED`` over the size limit).
    """
    import tensorflow as tf

    dims = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise ServingError(f"tensor shape {dims}: dimensions must be known and not negative", "INVALID_ARGUMENT")
    try:
        dtype = tf.as_dtype(proto.dtype)
    except TypeError:
        raise ServingError(f"tensor dtype {proto.dtype}: not a TensorFlow dtype", "INVALID_ARGUMENT") from None
    count = int(np.prod(dims, dtype=np.float64)) if dims else 1
    if dtype != tf.string and count * dtype.size > max_bytes:
        raise ServingError(f"tensor shape {dims} ({dtype.name}) is {count * dtype.size:,} bytes, over the limit of "
                           f"{max_bytes:,}", "RESOURCE_EXHAUSTED")
    if proto.tensor_content:
        if dtype == tf.string or len(proto.tensor_content) != count * dtype.size:
            raise ServingError(f"tensor shape {dims} ({dtype.name}) needs {count * dtype.size} bytes of content, got "
                               f"{len(proto.tensor_content)}", "INVALID_ARGUMENT")
    else:
        given = max(len(getattr(proto, f)) for f in _VALUE_FIELDS)
        if dtype in (tf.complex64, tf.complex128):
            given //= 2
        if given != count:
            raise ServingError(f"tensor shape {dims} holds {count} values, the request gives {given}",
                               "INVALID_ARGUMENT")
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as exc:
        raise ServingError(f"cannot read tensor: {exc}", "INVALID_ARGUMENT") from None


def _dt(dtype) -> str:
    return "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(dtype.name, dtype.name.upper())


def _shape_text(shape) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]"
