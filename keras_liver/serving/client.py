"""`PredictClient`: TF Serving's gRPC API (Predict, GetModelMetadata, GetModelStatus) from Python."""

import logging
import time

import numpy as np

from keras_liver.errors import ServingError
from keras_liver.serving.base_client import BaseClient

logger = logging.getLogger(__name__)


def _dims(shape_proto) -> list:
    if shape_proto.unknown_rank:
        return None
    return [None if d.size < 0 else int(d.size) for d in shape_proto.dim]


def tensor_infos(infos) -> dict:
    """``{name: {"dtype": "float32", "shape": [None, ...]}}`` of a SignatureDef's inputs or outputs."""
    import tensorflow as tf

    return {name: {"dtype": tf.as_dtype(info.dtype).name, "shape": _dims(info.tensor_shape)}
            for name, info in infos.items()}


class PredictClient(BaseClient):
    """A TF Serving gRPC client for keras-liver models.

    Talks to ``tensorflow_model_server`` (or ``keras-liver serve``) through
    the tensorflow-serving-api stubs. A call that finds the server
    UNAVAILABLE (not started yet, restarting) is retried with exponential
    backoff; INVALID_ARGUMENT, NOT_FOUND and other errors raise a
    `ServingError` at once, with the server's message.

    Args:
        target: ``host:port`` of the gRPC endpoint (TF Serving's 8500).
        model_name: Servable name.
        signature: Signature name.
        timeout: Seconds per call.
        max_message_mb: gRPC send/receive limit; gRPC's default of 4 MiB is
            too small for 3D windows. The server needs a matching limit.
        retries: Retries on UNAVAILABLE.
        backoff_s: First retry delay, doubled each time.
        version: Ask for this version (default: the server's latest).
        version_label: Ask for a labelled version (``"stable"``, ``"canary"``).

    Example:
        >>> with PredictClient("localhost:8500", "liver_seg") as client:
        ...     mask = client.segment_volume(load_volume("volume-0.nii"))
    """

    def __init__(self, target: str, model_name: str, signature: str = "serving_default", *, timeout: float = 60.0,
                 max_message_mb: int = 256, retries: int = 4, backoff_s: float = 0.25, version: int | None = None,
                 version_label: str | None = None):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        if version is not None and version_label:
            raise ServingError("give version or version_label, not both", "INVALID_ARGUMENT")
        self.target = target
        self.model_name = model_name
        self.signature = signature
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.version = version
        self.version_label = version_label
        limit = int(max_message_mb) * 1024 * 1024
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", limit),
                                                               ("grpc.max_receive_message_length", limit)])
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _fill_spec(self, spec, signature: bool = True) -> None:
        spec.name = self.model_name
        if signature:
            spec.signature_name = self.signature
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.version_label:
            spec.version_label = self.version_label

    def _call(self, method, request, what: str):
        import grpc

        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    delay = self.backoff_s * 2 ** attempt
                    logger.warning("%s %s: server unavailable, retrying in %.2f s", what, self.target, delay)
                    time.sleep(delay)
                    continue
                raise ServingError(f"{what} {self.model_name!r} at {self.target}: {code.name}: {exc.details()}",
                                   code.name) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def predict(self, inputs: dict, output_filter=None) -> dict:
        """One Predict call.

        Args:
            inputs: ``{input name: array}``; sent with the arrays' own dtypes.
            output_filter: Output names to return (default all).

        Returns:
            ``{output name: ndarray}`` (strings as ``bytes`` objects).
        """
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._fill_spec(request.model_spec)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        request.output_filter.extend(output_filter or [])
        response = self._call(self._predict.Predict, request, "Predict")
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def metadata(self) -> dict:
        """The signature's inputs and outputs: ``{"name", "version", "signature", "inputs", "outputs"}``."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._fill_spec(request.model_spec, signature=False)
        response = self._call(self._predict.GetModelMetadata, request, "GetModelMetadata")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        if self.signature not in signature_map.signature_def:
            raise ServingError(f"model {self.model_name!r} has no signature {self.signature!r} "
                               f"(it has {sorted(signature_map.signature_def)})", "NOT_FOUND")
        sig = signature_map.signature_def[self.signature]
        return {"name": response.model_spec.name, "version": int(response.model_spec.version.value),
                "signature": self.signature, "inputs": tensor_infos(sig.inputs), "outputs": tensor_infos(sig.outputs)}

    def status(self) -> list:
        """``[{"version", "state", "error"}]`` from GetModelStatus."""
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._fill_spec(request.model_spec, signature=False)
        response = self._call(self._models.GetModelStatus, request, "GetModelStatus")
        states = get_model_status_pb2.ModelVersionStatus.State
        return [{"version": int(s.version), "state": states.Name(s.state), "error": s.status.error_message}
                for s in response.model_version_status]

    def wait_until_available(self, timeout: float = 60.0, version: int | None = None) -> int:
        """Poll GetModelStatus until a version (or the given one) is AVAILABLE; return that version."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = [s["version"] for s in self.status() if s["state"] == "AVAILABLE"]
                if ready and (version is None or version in ready):
                    return version if version is not None else max(ready)
            except ServingError as exc:
                if exc.code not in ("UNAVAILABLE", "NOT_FOUND"):
                    raise
            if time.monotonic() > deadline:
                raise ServingError(f"{self.model_name!r} at {self.target}: no AVAILABLE version"
                                   f"{'' if version is None else f' {version}'} after {timeout:.0f} s",
                                   "DEADLINE_EXCEEDED")
            time.sleep(0.2)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
