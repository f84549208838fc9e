"""`DevServer`: TF Serving's gRPC (and REST) API in Python, for testing clients without TF Serving.

This is a stand-in. Production serving uses the ``tensorflow/serving``
binary (see ``serving/`` in the repository); the dev server speaks the
same protocol over the same versioned folder layout so clients, the CLI
and the notebooks can be tested anywhere.
"""

import logging
import threading
from concurrent import futures

from keras_liver.errors import ServingError
from keras_liver.serving.model_registry import ModelRegistry
from keras_liver.serving.request_checks import as_array

logger = logging.getLogger(__name__)


def _spec_args(model_spec) -> dict:
    version = model_spec.version.value if model_spec.HasField("version") else None
    return {"version": version, "label": model_spec.version_label or None}


def _abort(context, error: ServingError):
    import grpc

    context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), str(error))


def _prediction_servicer(registry: ModelRegistry):
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

    import tensorflow as tf

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 (gRPC method name)
            try:
                inputs = {k: as_array(v) for k, v in request.inputs.items()}
                version, signature, outputs = registry.predict(
                    request.model_spec.name, inputs, signature=request.model_spec.signature_name,
                    output_filter=list(request.output_filter), **_spec_args(request.model_spec))
            except ServingError as exc:
                _abort(context, exc)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = version
            response.model_spec.signature_name = signature
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):  # noqa: N802
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                _abort(context, ServingError(f"Metadata field(s) {fields} not supported: ask for ['signature_def']",
                                             "INVALID_ARGUMENT"))
            try:
                version, defs = registry.signature_defs(request.model_spec.name, **_spec_args(request.model_spec))
            except ServingError as exc:
                _abort(context, exc)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = version
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response.metadata["signature_def"].Pack(signature_map)
            return response

    return PredictionService()


def _model_servicer(registry: ModelRegistry):
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    class ModelService(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):  # noqa: N802
            spec = _spec_args(request.model_spec)
            try:
                version = spec["version"]
                if spec["label"]:
                    version = registry.resolve(request.model_spec.name, label=spec["label"]).version
                entries = registry.status(request.model_spec.name, version)
            except ServingError as exc:
                _abort(context, exc)
            response = get_model_status_pb2.GetModelStatusResponse()
            states = get_model_status_pb2.ModelVersionStatus.State
            for entry in entries:
                item = response.model_version_status.add()
                item.version = entry["version"]
                item.state = states.Value(entry["state"])
                item.status.error_code = 0 if not entry["error"] else 13  # OK or INTERNAL
                item.status.error_message = entry["error"]
            return response

    return ModelService()


class DevServer:
    """A PredictionService/ModelService gRPC server (and REST gateway) over versioned SavedModels.

    Serves the highest available version by default, specific versions and
    version labels on request, and polls the model folders every
    ``poll_seconds`` so a newly exported version is picked up (and a deleted
    one dropped) without a restart, as TF Serving does.

    Args:
        registry: The `ModelRegistry` (see `ModelRegistry.from_config_file`).
        host: Interface to bind; ``127.0.0.1`` unless told otherwise.
        port: gRPC port (0 picks a free one; see `port` after `start`).
        rest_port: REST port, or ``None`` for no REST gateway (0 picks one).
        max_message_mb: gRPC send/receive limit (gRPC's own default is 4 MiB).
        poll_seconds: How often to look for new versions.
        workers: Threads answering requests.

    Example:
        >>> server = DevServer(ModelRegistry([{"name": "liver_seg", "base_path": "models/liver_seg"}]))
        >>> server.start()
        >>> client = PredictClient(f"127.0.0.1:{server.port}", "liver_seg")
    """

    def __init__(self, registry: ModelRegistry, *, host: str = "127.0.0.1", port: int = 8500,
                 rest_port: int | None = None, max_message_mb: int = 256, poll_seconds: float = 2.0,
                 workers: int = 8):
        self.registry = registry
        self.host = host
        self.port = int(port)
        self.rest_port = None if rest_port is None else int(rest_port)
        self.max_message_mb = int(max_message_mb)
        self.poll_seconds = float(poll_seconds)
        self.workers = int(workers)
        self._grpc = None
        self._rest = None
        self._stop = threading.Event()
        self._threads = []

    def start(self) -> "DevServer":
        """Load the models, bind the ports and start serving (returns at once)."""
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self.registry.poll()
        limit = self.max_message_mb * 1024 * 1024
        options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers), options=options)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _prediction_servicer(self.registry), self._grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(_model_servicer(self.registry), self._grpc)
        bound = self._grpc.add_insecure_port(f"{self.host}:{self.port}")
        if not bound:
            raise ServingError(f"cannot bind gRPC port {self.host}:{self.port}", "UNAVAILABLE")
        self.port = bound
        self._grpc.start()
        if self.rest_port is not None:
            from keras_liver.serving.rest_gateway import make_rest_server

            self._rest = make_rest_server(self.registry, self.host, self.rest_port, limit)
            self.rest_port = self._rest.server_address[1]
            self._spawn(self._rest.serve_forever, "rest")
        self._spawn(self._poll_loop, "poll")
        logger.info("dev server: gRPC %s:%d%s, models %s", self.host, self.port,
                    f", REST {self.host}:{self.rest_port}" if self._rest else "", self.registry.names)
        return self

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=f"keras-liver-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_loop(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.registry.poll()
            except Exception:  # keep serving what is loaded
                logger.exception("polling the model folders failed")

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving and polling."""
        self._stop.set()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
        for thread in self._threads:
            thread.join(timeout=5)

    def request_stop(self) -> None:
        """Make `wait` return (safe from a signal handler); call `stop` afterwards."""
        self._stop.set()

    def wait(self) -> None:
        """Block until `request_stop` or `stop` is called (from another thread or a signal handler)."""
        self._stop.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
