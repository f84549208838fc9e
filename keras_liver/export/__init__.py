"""Export trained models as versioned SavedModels for TensorFlow Serving.

`export_saved_model` writes ``<base>/<name>/<version>/`` with a
``serving_default`` signature (named inputs, dict outputs), warm-up
requests and ``metadata.json``, verified against the Keras model.
"""

from keras_liver.export.float32 import float32_copy
from keras_liver.export.metadata import run_summary
from keras_liver.export.saved_model import (
    SIGNATURE,
    check_signature_listing,
    export_saved_model,
    model_versions,
    saved_model_cli_show,
    verify_saved_model,
)
from keras_liver.export.serving_model import ServingModel
from keras_liver.export.warmup import read_warmup_requests, write_warmup_requests

__all__ = [
    "SIGNATURE", "ServingModel", "check_signature_listing", "export_saved_model", "float32_copy",
    "model_versions", "read_warmup_requests", "run_summary", "saved_model_cli_show", "verify_saved_model",
    "write_warmup_requests",
]
