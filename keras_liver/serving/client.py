"""`PredictClient`: TF Serving's gRPC API (Predict, GetModelMetadata, GetModelStatus) from Python."""

from keras_liver.serving.base_client import BaseClient, tensor_info


def tensor_infos(infos) -> dict:
    """``{name: {"dtype": "float32", "shape": [None, ...]}}`` of a SignatureDef's inputs or outputs."""
    import tensorflow as tf

    return {name: tensor_info(tf.as_dtype(info.dtype).name, [d.size for d in info.tensor_shape.dim],
                              info.tensor_shape.unknown_rank) for name, info in infos.items()}


class PredictClient(BaseClient):
    """A TF Serving gRPC client for keras-liver models.

    Talks to ``tensorflow_model_server`` (or ``keras-liver serve``) through
    the tensorflow-serving-api stubs. A call that finds the server
    UNAVAILABLE (not started yet, restarting) is retried with exponential
    backoff; INVALID_ARGUMENT, NOT_FOUND and other errors raise a
    `ServingError` at once, with the server's message.

    Args:
        target: ``host:port`` of the gRPC endpoint (TF Serving's 8500).
        model_name, signature, timeout, retries, backoff_s, version, version_label:
            See `BaseClient`.
        max_message_mb: gRPC send/receive limit; gRPC's default of 4 MiB is
            too small for 3D windows. The server needs a matching limit.

    Example:
        >>> with PredictClient("localhost:8500", "liver_seg") as client:
        ...     mask = client.segment_volume(load_volume("volume-0.nii"))
    """

    def __init__(self, target: str, model_name: str, signature: str = "serving_default", *, timeout: float = 60.0,
                 max_message_mb: int = 256, retries: int = 4, backoff_s: float = 0.25, version: int | None = None,
                 version_label: str | None = None):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        super().__init__(target, model_name, signature, timeout=timeout, retries=retries, backoff_s=backoff_s,
                         version=version, version_label=version_label)
        limit = int(max_message_mb) * 1024 * 1024
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", limit),
                                                               ("grpc.max_receive_message_length", limit)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
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

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self.error(what, exc.code().name, exc.details()) from None

    def _predict(self, inputs: dict, output_filter: list, signature: str | None = None) -> dict:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._fill_spec(request.model_spec)
        if signature is not None:
            request.model_spec.signature_name = signature
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(output_filter)
        response = self._call(self._predictions.Predict, request, "Predict")
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def _metadata(self, signature: str | None = None) -> dict:
        from tensorflow_serving.apis import get_model_metadata_pb2

        signature = signature or self.signature
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._fill_spec(request.model_spec, signature=False)
        response = self._call(self._predictions.GetModelMetadata, request, "GetModelMetadata")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        if signature not in signature_map.signature_def:
            raise self.error("GetModelMetadata", "NOT_FOUND", f"no signature {signature!r} "
                             f"(it has {sorted(signature_map.signature_def)})")
        sig = signature_map.signature_def[signature]
        return {"name": response.model_spec.name, "version": int(response.model_spec.version.value),
                "signature": signature, "inputs": tensor_infos(sig.inputs), "outputs": tensor_infos(sig.outputs)}

    def _status(self) -> list:
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._fill_spec(request.model_spec, signature=False)
        response = self._call(self._models.GetModelStatus, request, "GetModelStatus")
        states = get_model_status_pb2.ModelVersionStatus.State
        return [{"version": int(s.version), "state": states.Name(s.state), "error": s.status.error_message}
                for s in response.model_version_status]

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()


