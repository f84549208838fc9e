"""Training: `TrainConfig`, `train` (Keras fit) and the multi-worker custom loop."""

from keras_liver.training.train_config import TrainConfig
from keras_liver.training.trainer import build_data, compile_model, split_cases, train

__all__ = ["TrainConfig", "build_data", "compile_model", "split_cases", "train"]
