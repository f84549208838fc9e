"""TF Serving's REST API (``/v1/models/...``) over a `ModelRegistry`, for the dev server."""

import http.server
import json
import logging
import re

import numpy as np

from keras_liver.errors import ServingError

logger = logging.getLogger(__name__)

_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                    r"(?P<verb>/metadata|:predict)?$")
_HTTP = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 400, "INTERNAL": 500}


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

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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

        def _metadata(self, name, version, label):
            from google.protobuf import json_format
            from tensorflow_serving.apis import get_model_metadata_pb2

            found, defs = registry.signature_defs(name, version, label)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            return {"model_spec": {"name": name, "signature_name": "", "version": str(found)},
                    "metadata": {"signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)}}

        def do_POST(self):  # noqa: N802
            try:
                name, version, label, verb = self._route()
                if verb != ":predict":
                    raise ServingError(f"POST is only for :predict, got {self.path}", "INVALID_ARGUMENT")
                length = int(self.headers.get("Content-Length") or 0)
                if length > max_bytes:
                    self._send(413, {"error": f"request of {length} bytes is over the {max_bytes}-byte limit"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError as exc:
                    raise ServingError(f"JSON Parse error: {exc}", "INVALID_ARGUMENT") from None
                signature = body.get("signature_name", "")
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
                    except (TypeError, ValueError) as exc:
                        raise ServingError(f"input {key!r}: {exc}", "INVALID_ARGUMENT") from None
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

    return http.server.ThreadingHTTPServer((host, int(port)), Handler)
