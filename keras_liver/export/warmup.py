"""TF Serving warm-up records: ``assets.extra/tf_serving_warmup_requests``."""

import pathlib

WARMUP_FILE = "tf_serving_warmup_requests"


def _serving_protos():
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as exc:  # pragma: no cover - the [serving] extra is a test dependency
        from keras_liver.errors import ExportError

        raise ExportError("warm-up requests need tensorflow-serving-api: pip install 'keras-liver[serving]' "
                          f"(or export with warmup=False) ({exc})") from None
    return model_pb2, predict_pb2, prediction_log_pb2


def write_warmup_requests(export_dir, model_name: str, examples, signature: str = "serving_default") -> pathlib.Path:
    """Write PredictionLog records that TF Serving replays when it loads the version.

    TF Serving reads ``<version>/assets.extra/tf_serving_warmup_requests``
    (a TFRecord file of ``PredictionLog`` protos, at most 1000) and runs
    each request before it marks the version AVAILABLE, so graph
    optimisation and memory allocation do not land on the first client.

    Args:
        export_dir: The SavedModel version directory.
        model_name: Name put in each request's ``model_spec``.
        examples: Iterable of ``{input name: array}`` requests.
        signature: Signature name.

    Returns:
        The path of the records file.
    """
    import tensorflow as tf

    model_pb2, predict_pb2, prediction_log_pb2 = _serving_protos()
    folder = pathlib.Path(export_dir) / "assets.extra"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
            for key, value in example.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(path) -> list:
    """The ``PredictRequest``s stored in a warm-up file (for checks and the dev server)."""
    import tensorflow as tf

    _, _, prediction_log_pb2 = _serving_protos()
    requests = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        requests.append(log.predict_log.request)
    return requests
