"""`float32_copy`: the same model and weights with every layer computing in float32."""

import logging

logger = logging.getLogger(__name__)


def dtype_policies(model) -> set:
    """Names of the dtype policies used by a model's layers (``{"float32"}``, ``{"mixed_float16", ...}``)."""
    from keras_liver.models import iter_layers

    return {layer.dtype_policy.name for layer in iter_layers(model)}


def _float32_config(obj):
    """Replace mixed-precision dtype policies anywhere in a serialized config by ``float32``."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "DTypePolicy" and str(obj.get("config", {}).get("name", "")).startswith("mixed_"):
            return {**obj, "config": {**obj["config"], "name": "float32"}}
        return {k: _float32_config(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_float32_config(v) for v in obj]
    return obj


def float32_copy(model):
    """Return ``model`` unchanged if it is float32 throughout, else a float32 copy with its weights.

    A model trained under ``mixed_float16`` keeps float32 variables, so the
    copy's weights are exactly the trained ones; only the computation
    changes. CPU serving is faster and exact in float32, and TF Serving
    clients then send and receive float32 only.

    Args:
        model: A Keras model whose classes are registered (keras-liver's are).

    Returns:
        A `keras.Model` whose layers all use the ``float32`` policy.
    """
    import keras

    policies = dtype_policies(model)
    if policies <= {"float32"}:
        return model
    logger.info("exporting a float32 copy of %s (trained with %s)", model.name, sorted(policies - {"float32"}))
    config = _float32_config(keras.saving.serialize_keras_object(model))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = keras.saving.deserialize_keras_object(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    left = dtype_policies(copy) - {"float32"}
    if left:
        from keras_liver.errors import ExportError

        raise ExportError(f"model {model.name}: layers still use {sorted(left)} after the float32 copy")
    return copy
