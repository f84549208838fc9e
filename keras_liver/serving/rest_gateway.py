"""TF Serving's REST API (``/v1/models/...``) over a `ModelRegistry`, for the dev server."""

import http.server
import json
import logging
import re
import threading

import numpy as np

from keras_liver.errors import ServingError

logger = logging.getLogger(__name__)

_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                    r"(?P<verb>/metadata|:predict)?$")
_HTTP = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 400, "RESOURCE_EXHAUSTED": 413,
         "DEADLINE_EXCEEDED": 408, "INTERNAL": 500}
READ_TIMEOUT_S = 10.0  # a client that stalls mid-request is dropped after this long
MAX_THREADS = 32  # requests handled at once; further connections wait to be accepted


class _BoundedServer(http.server.ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with at most ``MAX_THREADS`` handler threads (stalled clients cannot pile up)."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_THREADS)

    def process_request(self, request, client_address):
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _jsonable(value):
    """An output array (or element) as JSON: numbers as lists, strings decoded."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    value = np.asarray(value)
    if value.dtype == object:
        return [_jsonable(v) for v in value] if value.ndim else _jsonable(value.item())
    return value.tolist()


def _columnar(body: dict, names: list) -> dict:
    inputs = body["inputs"]
    if not isinstance(inputs, dict):
        if len(names) != 1:
            raise ServingError(f"'inputs' must name each input: {names}", "INVALID_ARGUMENT")
        inputs = {names[0]: inputs}
    return inputs


def _rows(body: dict, names: list) -> dict:
    rows = body["instances"]
    if not isinstance(rows, list) or not rows:
        raise ServingError("'instances' must be a non-empty list", "INVALID_ARGUMENT")
    if all(isinstance(r, dict) for r in rows):
        keys = set(rows[0])
        if any(set(r) != keys for r in rows):
            raise ServingError("every instance must have the same input names", "INVALID_ARGUMENT")
        return {k: [r[k] for r in rows] for k in keys}
    if len(names) != 1:
        raise ServingError(f"instances must be objects naming each input: {names}", "INVALID_ARGUMENT")
    return {names[0]: rows}


def make_rest_server(registry, host: str, port: int, max_bytes: int) -> http.server.ThreadingHTTPServer:
    """An HTTP server answering model status, metadata and predict as TF Serving's REST API does."""

    read_timeout = READ_TIMEOUT_S

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = read_timeout  # applied to the socket by StreamRequestHandler.setup

        def log_message(self, fmt, *args):  # route access logs to logging, not stderr
            logger.debug("rest %s " + fmt, self.client_address[0], *args)

        def _send(self, code: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self):
            match = _ROUTE.match(self.path.split("?", 1)[0])
            if not match:
                raise ServingError(f"Malformed request: {self.command} {self.path}", "NOT_FOUND")
            version = match["version"]
            return match["name"], (int(version) if version else None), match["label"], match["verb"] or ""

        def do_GET(self):  # noqa: N802 (http.server method name)
            try:
                name, version, label, verb = self._route()
                if verb == "/metadata":
                    self._send(200, self._metadata(name, version, label))
                elif verb == "":
                    if label:
                        version = registry.resolve(name, label=label).version
                    states = registry.status(name, version)
                    self._send(200, {"model_version_status": [
                        {"version": str(s["version"]), "state": s["state"],
                         "status": {"error_code": "OK" if not s["error"] else "INTERNAL",
                                    "error_message": s["error"]}} for s in states]})
                else:
                    raise ServingError(f"use POST for {verb}", "INVALID_ARGUMENT")
            except ServingError as exc:
                self._send(_HTTP.get(exc.code, 500), {"error": str(exc)})
            except Exception as exc:  # a bug must still answer
                logger.exception("REST GET failed")
                self._send(500, {"error": f"internal error: {type(exc).__name__}"})

        def _metadata(self, name, version, label):
            from google.protobuf import json_format
            from tensorflow_serving.apis import get_model_metadata_pb2

            found, defs = registry.signature_defs(name, version, label)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            return {"model_spec": {"name": name, "signature_name": "", "version": str(found)},
                    "metadata": {"signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)}}

        def _body(self):
            text = self.headers.get("Content-Length")
            if text is None or not text.strip().isdigit():
                self.close_connection = True  # the body's end is unknown: do not read on
                raise ServingError(f"Content-Length: {text!r} is not a byte count", "INVALID_ARGUMENT")
            length = int(text)
            if length > max_bytes:
                self.close_connection = True
                raise ServingError(f"request of {length} bytes is over the {max_bytes}-byte limit",
                                   "RESOURCE_EXHAUSTED")
            try:
                data = self.rfile.read(length)
            except OSError:  # includes the read timeout
                self.close_connection = True
                raise ServingError(f"request body not received within {read_timeout:g} s", "DEADLINE_EXCEEDED") \
                    from None
            if len(data) != length:
                self.close_connection = True
                raise ServingError(f"request body is {len(data)} bytes, Content-Length said {length}",
                                   "INVALID_ARGUMENT")
            try:
                body = json.loads(data or b"{}")
            except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, nesting too deep
                raise ServingError(f"JSON Parse error: {type(exc).__name__}: {str(exc)[:200]}",
                                   "INVALID_ARGUMENT") from None
            if not isinstance(body, dict):
                raise ServingError(f"request body must be a JSON object, got {type(body).__name__}",
                                   "INVALID_ARGUMENT")
            return body

        def do_POST(self):  # noqa: N802
            try:
                name, version, label, verb = self._route()
                if verb != ":predict":
                    self.close_connection = True
                    raise ServingError(f"POST is only for :predict, got {self.path}", "INVALID_ARGUMENT")
                body = self._body()
                signature = body.get("signature_name", "")
                if not isinstance(signature, str):
                    raise ServingError("signature_name must be a string", "INVALID_ARGUMENT")
                dtypes = registry.input_dtypes(name, signature, version, label)
                if "inputs" in body:
                    raw, rows = _columnar(body, list(dtypes)), False
                elif "instances" in body:
                    raw, rows = _rows(body, list(dtypes)), True
                else:
                    raise ServingError("request body needs 'inputs' (columnar) or 'instances' (rows)",
                                       "INVALID_ARGUMENT")
                inputs = {}
                for key, value in raw.items():
                    try:
                        inputs[key] = np.asarray(value, dtype=dtypes.get(key, np.float32))
                    except (TypeError, ValueError, RecursionError) as exc:
                        raise ServingError(f"input {key!r}: {str(exc)[:200]}", "INVALID_ARGUMENT") from None
                _, _, outputs = registry.predict(name, inputs, signature=signature, version=version, label=label)
                if rows:
                    count = len(next(iter(outputs.values())))
                    preds = [{k: _jsonable(v[i]) for k, v in outputs.items()} for i in range(count)]
                    if len(outputs) == 1:
                        preds = [next(iter(p.values())) for p in preds]
                    self._send(200, {"predictions": preds})
                else:
                    cols = {k: _jsonable(v) for k, v in outputs.items()}
                    self._send(200, {"outputs": next(iter(cols.values())) if len(cols) == 1 else cols})
            except ServingError as exc:
                self._send(_HTTP.get(exc.code, 500), {"error": str(exc)})
            except Exception as exc:  # a bug must still answer, and never take the handler thread down silently
                logger.exception("REST predict failed")
                self._send(500, {"error": f"internal error: {type(exc).__name__}"})

    return _BoundedServer((host, int(port)), Handler)
