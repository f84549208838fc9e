"""Hostile gRPC and REST requests against ``keras-liver serve`` running as its own process.

Every request gets the status TF Serving would give (gRPC code or HTTP 4xx with a JSON
``error``), the server answers a valid request after each one, and its peak memory stays
far below what any hostile request declared.
"""

import json
import re
import socket
import threading
import time

import numpy as np
import pytest
from serving_models import tiny_segmenter

from keras_liver.export import export_saved_model
from keras_liver.export.float32 import float32_copy
from keras_liver.serving import DevServer, DevServerProcess, ModelRegistry, PredictClient, RestPredictClient

MEMORY_BOUND_MIB = 400  # above the server's own peak after start-up; one expanded hostile tensor is 3,000+


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    export_saved_model(float32_copy(tiny_segmenter(11)).inference_model(), base, "liver_seg", 1,
                       patch_size=(1, 16, 16))
    with DevServerProcess("--model-base-path", base / "liver_seg", "--model-name", "liver_seg") as process:
        process.base = base
        process.started_hwm = _hwm_mib(process.process.pid)
        yield process


def _hwm_mib(pid) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def _image():
    return np.random.default_rng(0).uniform(-300, 400, (1, 16, 16, 1)).astype(np.float32)


def _still_serving(server):
    with PredictClient(server.target, "liver_seg", retries=0) as client:
        assert client.predict({"image": _image()})["mask"].shape == (1, 16, 16)
    assert server.process.poll() is None
    grew = _hwm_mib(server.process.pid) - server.started_hwm
    assert grew < MEMORY_BOUND_MIB, grew
    return grew


def _proto(dims, floats=(), content=b"", dtype="DT_FLOAT", doubles=()):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
    return tensor_pb2.TensorProto(dtype=getattr(types_pb2, dtype), tensor_shape=shape, float_val=list(floats),
                                  double_val=list(doubles), tensor_content=content)


def _grpc(server, inputs, name="liver_seg", version=None, signature=None):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    if signature is not None:
        request.model_spec.signature_name = signature
    for key, tensor in inputs.items():
        request.inputs[key].CopyFrom(tensor)
    with grpc.insecure_channel(server.target) as channel:
        try:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details()
    return "OK", ""


GOOD = [1.0] * 256
GRPC = {
    "63-byte request declaring 400000 x 32 x 32 x 2": (lambda: {"image": _proto([400000, 32, 32, 2], [1.0])}, {},
                                                      "RESOURCE_EXHAUSTED", ["400000", "over the limit"]),
    "one value for 256": (lambda: {"image": _proto([1, 16, 16, 1], [1.0])}, {}, "INVALID_ARGUMENT",
                          ["256 values", "gives 1"]),
    "negative dimension": (lambda: {"image": _proto([1, -16, 16, 1])}, {}, "INVALID_ARGUMENT", ["not negative"]),
    "tensor_content of the wrong length": (lambda: {"image": _proto([1, 16, 16, 1], content=b"\0" * 100)}, {},
                                           "INVALID_ARGUMENT", ["1024 bytes", "got 100"]),
    "NaN voxels": (lambda: {"image": _proto([1, 4, 4, 1], [float("nan")] * 16)}, {}, "INVALID_ARGUMENT",
                   ["'image'", "NaN"]),
    "infinite voxels": (lambda: {"image": _proto([1, 4, 4, 1], [float("inf")] * 16)}, {}, "INVALID_ARGUMENT",
                        ["'image'"]),
    "float64 for a float32 input": (lambda: {"image": _proto([1, 16, 16, 1], dtype="DT_DOUBLE", doubles=GOOD)}, {},
                                    "INVALID_ARGUMENT", ["float32", "float64"]),
    "unknown input name": (lambda: {"img": _proto([1, 16, 16, 1], GOOD)}, {}, "INVALID_ARGUMENT", ["img"]),
    "wrong rank": (lambda: {"image": _proto([16, 16, 1], GOOD)}, {}, "INVALID_ARGUMENT", ["'image'", "shape"]),
    "two channels for one": (lambda: {"image": _proto([1, 16, 8, 2], GOOD)}, {}, "INVALID_ARGUMENT", ["'image'"]),
    "unknown model": (lambda: {"image": _proto([1, 16, 16, 1], GOOD)}, {"name": "nope"}, "NOT_FOUND", ["nope"]),
    "unknown version": (lambda: {"image": _proto([1, 16, 16, 1], GOOD)}, {"version": 7}, "NOT_FOUND", ["7"]),
    "unknown signature": (lambda: {"image": _proto([1, 16, 16, 1], GOOD)}, {"signature": "train"},
                          "INVALID_ARGUMENT", ["train"]),
}


@pytest.mark.parametrize("case", sorted(GRPC))
def test_hostile_grpc_request_gets_its_status_and_the_server_goes_on(case, server, casebook):
    inputs, spec, code, words = GRPC[case]
    got, details = _grpc(server, inputs(), **spec)
    assert got == code and all(w in details for w in words), (got, details)
    grew = _still_serving(server)
    casebook("grpc", case, f"{code}, then serves (+{grew:.0f} MiB peak)", details)


def _raw_http(port, head: bytes, body: bytes = b"", timeout: float = 30.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(head + body)
        data = b""
        while True:
            if b"\r\n\r\n" in data:
                header, rest = data.split(b"\r\n\r\n", 1)
                length = re.search(rb"Content-Length: (\d+)", header)
                if len(rest) >= (int(length.group(1)) if length else 0):
                    break
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data else None
    payload = json.loads(data.split(b"\r\n\r\n", 1)[1]) if data and b"\r\n\r\n" in data else None
    return status, payload


def _request(method, path, body: bytes = b"", length=None):
    length = len(body) if length is None else length
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode(), body


PREDICT = "/v1/models/liver_seg:predict"
REST = {
    "body is a JSON list": (_request("POST", PREDICT, b"[1, 2]"), 400, ["JSON object", "list"]),
    "body is a JSON string": (_request("POST", PREDICT, b'"text"'), 400, ["JSON object", "str"]),
    "200,000-deep nested JSON": (_request("POST", PREDICT, b"[" * 200_000 + b"]" * 200_000), 400, ["JSON"]),
    "invalid UTF-8": (_request("POST", PREDICT, b'{"inputs": "\xff\xfe"}'), 400, ["JSON"]),
    "Content-Length: abc": (_request("POST", PREDICT, b"{}", length="abc"), 400, ["Content-Length", "abc"]),
    "Content-Length: -1": (_request("POST", PREDICT, b"{}", length="-1"), 400, ["Content-Length", "-1"]),
    "Content-Length of 10 GB": (_request("POST", PREDICT, b"{}", length=str(10 ** 10)), 413, ["10000000000 bytes", "limit"]),
    "signature_name a number": (_request("POST", PREDICT, b'{"signature_name": 3, "inputs": []}'), 400,
                                ["signature_name"]),
    "NaN voxels": (_request("POST", PREDICT, b'{"inputs": [[[[NaN]]]]}'), 400, ["NaN"]),
    "ragged nested lists": (_request("POST", PREDICT, b'{"inputs": [[[[1.0]], [[1.0, 2.0]]]]}'), 400, []),
    "unknown model": (_request("POST", "/v1/models/nope:predict", b'{"inputs": [[[[1.0]]]]}'), 404, ["nope"]),
    "unknown path": (_request("GET", "/v2/whatever"), 404, []),
}


@pytest.mark.parametrize("case", sorted(REST))
def test_hostile_rest_request_gets_a_4xx_json_answer_and_the_server_goes_on(case, server, casebook):
    (head, body), status, words = REST[case]
    port = int(server.rest_target.rsplit(":", 1)[1])
    got, payload = _raw_http(port, head, body)
    assert got == status and payload and all(w in payload["error"] for w in words), (got, payload)
    rest = RestPredictClient(server.rest_target, "liver_seg")
    assert rest.predict({"image": _image()})["mask"].shape == (1, 16, 16)
    grew = _still_serving(server)
    casebook("rest", case, f"HTTP {status}, then serves (+{grew:.0f} MiB peak)", payload["error"])


def test_a_short_body_times_out_and_stalled_clients_do_not_take_the_server(server, monkeypatch, casebook):
    from keras_liver.serving import rest_gateway

    monkeypatch.setattr(rest_gateway, "READ_TIMEOUT_S", 1.0)
    monkeypatch.setattr(rest_gateway, "MAX_THREADS", 4)
    registry = ModelRegistry([{"name": "liver_seg", "base_path": server.base / "liver_seg"}])
    with DevServer(registry, port=0, rest_port=0) as dev:
        started = time.monotonic()
        status, payload = _raw_http(dev.rest_port, *_request("POST", PREDICT, b"{", length=100))
        assert status == 408 and "within 1 s" in payload["error"] and time.monotonic() - started < 10
        stalled = [socket.create_connection(("127.0.0.1", dev.rest_port)) for _ in range(12)]  # 3x the threads
        try:
            for conn in stalled:
                conn.sendall(b"POST /v1/models/liver_seg:predict HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
            rest = RestPredictClient(f"127.0.0.1:{dev.rest_port}", "liver_seg", timeout=30)
            assert rest.predict({"image": _image()})["mask"].shape == (1, 16, 16)
            assert threading.active_count() < 40
        finally:
            for conn in stalled:
                conn.close()
    casebook("rest", "body shorter than its Content-Length; 12 stalled clients for 4 threads",
             "HTTP 408 after the read timeout, then serves", payload["error"])
