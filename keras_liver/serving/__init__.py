"""Clients for TF Serving (gRPC and REST) and a PredictionService-compatible dev server.

`PredictClient` and `RestPredictClient` talk to ``tensorflow_model_server``
(production) or to `DevServer` / ``keras-liver serve`` (a stand-in for
testing clients where TF Serving is not installed).
"""

from keras_liver.serving.client import PredictClient
from keras_liver.serving.dev_server import DevServer
from keras_liver.serving.dev_server_process import DevServerProcess
from keras_liver.serving.model_registry import ModelRegistry
from keras_liver.serving.rest_client import RestPredictClient

__all__ = ["DevServer", "DevServerProcess", "ModelRegistry", "PredictClient", "RestPredictClient"]
