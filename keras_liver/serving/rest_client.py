"""`RestPredictClient`: TF Serving's REST API (port 8501) with the same methods and behaviour as `PredictClient`."""

import json
import urllib.error
import urllib.request

import numpy as np

from keras_liver.serving.base_client import BaseClient, tensor_info

_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
_DTYPES = {"DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_INT32": "int32", "DT_INT64": "int64",
           "DT_UINT8": "uint8", "DT_STRING": "string", "DT_HALF": "float16", "DT_BOOL": "bool"}


def _infos(infos: dict) -> dict:
    out = {}
    for name, info in infos.items():
        shape = info.get("tensor_shape", {})
        out[name] = tensor_info(_DTYPES.get(info.get("dtype"), info.get("dtype")),
                                [d.get("size", -1) for d in shape.get("dim", [])], bool(shape.get("unknown_rank")))
    return out


class RestPredictClient(BaseClient):
    """TF Serving's REST API: predict (columnar ``inputs``), metadata, status.

    JSON carries numbers as text, so REST is for small requests and for
    tools without gRPC; use `PredictClient` for volumes. Connection
    failures and HTTP 503 count as UNAVAILABLE and are retried.

    Args:
        target: ``http://host:8501`` (``host:8501`` is accepted).
        model_name, signature, timeout, retries, backoff_s, version, version_label:
            See `BaseClient`.
    """

    def __init__(self, target: str, model_name: str, signature: str = "serving_default", *,
                 timeout: float = 60.0, retries: int = 4, backoff_s: float = 0.25, version: int | None = None,
                 version_label: str | None = None):
        super().__init__(target, model_name, signature, timeout=timeout, retries=retries, backoff_s=backoff_s,
                         version=version, version_label=version_label)
        self.base_url = (target if "://" in target else "http://" + target).rstrip("/")
        suffix = f"/versions/{self.version}" if self.version is not None else (
            f"/labels/{self.version_label}" if self.version_label else "")
        self._model_url = f"{self.base_url}/v1/models/{model_name}{suffix}"

    def _request(self, url: str, what: str, body=None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", "")
            except (json.JSONDecodeError, AttributeError):
                message = exc.reason
            raise self.error(what, _CODES.get(exc.code, f"HTTP_{exc.code}"), message) from None
        except urllib.error.URLError as exc:
            raise self.error(what, "UNAVAILABLE", str(exc.reason)) from None
        except (ConnectionError, TimeoutError) as exc:
            raise self.error(what, "UNAVAILABLE", str(exc)) from None

    def _predict(self, inputs: dict, output_filter: list, signature: str | None = None) -> dict:
        body = {"signature_name": signature or self.signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
        outputs = self._request(f"{self._model_url}:predict", "Predict", body)["outputs"]
        if not isinstance(outputs, dict):  # TF Serving answers a single output without its name
            key = output_filter[0] if len(output_filter) == 1 else next(iter(self._metadata()["outputs"]))
            outputs = {key: outputs}
        wanted = output_filter or list(outputs)
        return {k: np.asarray(outputs[k], dtype=object if k == "class_name" else None) for k in wanted}

    def _metadata(self, signature: str | None = None) -> dict:
        signature = signature or self.signature
        payload = self._request(f"{self._model_url}/metadata", "GetModelMetadata")
        defs = payload["metadata"]["signature_def"]["signature_def"]
        if signature not in defs:
            raise self.error("GetModelMetadata", "NOT_FOUND",
                             f"no signature {signature!r} (it has {sorted(defs)})")
        sig = defs[signature]
        return {"name": payload["model_spec"]["name"], "version": int(payload["model_spec"]["version"]),
                "signature": signature, "inputs": _infos(sig.get("inputs", {})),
                "outputs": _infos(sig.get("outputs", {}))}

    def _status(self) -> list:
        payload = self._request(self._model_url, "GetModelStatus")
        return [{"version": int(s["version"]), "state": s["state"],
                 "error": s.get("status", {}).get("error_message", "")} for s in payload["model_version_status"]]
