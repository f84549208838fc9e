"""Training: `TrainConfig`, `train` (Keras fit) and the multi-worker custom loop.

* `train_config`: the config, checked in full before any data is read;
* `datasets`: `build_data`, the tf.data pipelines and split of a config;
* `model_setup`: the configured model and its training outputs;
* `splits`: `split_cases`; `trainer`: `train`, `compile_model`;
* `multi_worker`: `train_multi_worker` under ``MultiWorkerMirroredStrategy``.
"""

from keras_liver.training.datasets import build_data
from keras_liver.training.splits import split_cases
from keras_liver.training.train_config import TrainConfig
from keras_liver.training.trainer import compile_model, train

__all__ = ["TrainConfig", "build_data", "compile_model", "split_cases", "train"]
