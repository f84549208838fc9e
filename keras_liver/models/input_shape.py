"""`with_input_shape`: the same trained model, rebuilt for another input size."""

import logging

from keras_liver.errors import ConfigError

logger = logging.getLogger(__name__)


def with_input_shape(model, input_shape):
    """A copy of a keras-liver model built for ``input_shape``, with the same weights.

    Convolutions do not care about the spatial size they were trained on, but
    some layers need it fixed at build time (Keras' ConvLSTM layers refuse
    ``None`` spatial sizes). A `DCESegmenter` trained on lesion-oversampled
    ``(t, 8, 32, 32)`` patches is rebuilt with this function for whole
    ``(t, 16, 64, 64)`` series.

    Args:
        model: A model whose ``get_config`` has ``input_shape``.
        input_shape: The new input shape (without batch axis).

    Returns:
        The new model (uncompiled).

    Raises:
        ConfigError: The model has no ``input_shape`` in its config, or the
            weights do not fit the new shape.
    """
    config = model.get_config()
    if "input_shape" not in config:
        raise ConfigError(f"{type(model).__name__}: its config has no input_shape to change")
    config["input_shape"] = [None if s is None else int(s) for s in input_shape]
    rebuilt = type(model).from_config(config)
    try:
        rebuilt.set_weights(model.get_weights())
    except ValueError as exc:
        raise ConfigError(f"{type(model).__name__}: weights do not fit input_shape {input_shape} ({exc})") from None
    logger.info("rebuilt %s for input shape %s", type(model).__name__, tuple(config["input_shape"]))
    return rebuilt
