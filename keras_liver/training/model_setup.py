"""The model a `TrainConfig` names: its class, its training outputs, and the model built for the data."""

from keras_liver.models import model_class
from keras_liver.training.train_config import TrainConfig


def output_keys(config: TrainConfig) -> tuple:
    """The output keys the training data gives targets for (``probabilities`` [+ heads, ``mask``, ``label``])."""
    return model_class(config.model).training_outputs(config.model_args)


def build_model(config: TrainConfig, input_shape, extra=None):
    """The configured model for inputs of ``input_shape`` (and ``extra`` inputs), unless the config fixes them."""
    args = dict(config.model_args)
    args.setdefault("input_shape", list(input_shape))
    if extra:
        args.setdefault("extra_inputs", extra)
    return model_class(config.model)(**args)
