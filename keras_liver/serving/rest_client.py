"""`RestPredictClient`: TF Serving's REST API (port 8501) with the same methods as `PredictClient`."""

import json
import logging
import time
import urllib.error
import urllib.request

import numpy as np

from keras_liver.errors import ServingError
from keras_liver.serving.base_client import BaseClient

logger = logging.getLogger(__name__)
_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
_DTYPES = {"DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_INT32": "int32", "DT_INT64": "int64",
           "DT_UINT8": "uint8", "DT_STRING": "string", "DT_HALF": "float16", "DT_BOOL": "bool"}


def _infos(infos: dict) -> dict:
    out = {}
    for name, info in infos.items():
        shape = info.get("tensor_shape", {})
        dims = None if shape.get("unknown_rank") else [
            None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape.get("dim", [])]
        out[name] = {"dtype": _DTYPES.get(info.get("dtype"), info.get("dtype")), "shape": dims}
    return out


class RestPredictClient(BaseClient):
    """TF Serving's REST API: predict (columnar ``inputs``), metadata, status.

    JSON carries numbers as text, so REST is for small requests and for
    tools without gRPC; use `PredictClient` for volumes.

    Args:
        base_url: ``http://host:8501`` (``host:8501`` is accepted).
        model_name, signature, timeout, retries, backoff_s, version, version_label:
            As for `PredictClient`; connection failures and HTTP 503 are retried.
    """

    def __init__(self, base_url: str, model_name: str, signature: str = "serving_default", *,
                 timeout: float = 60.0, retries: int = 4, backoff_s: float = 0.25, version: int | None = None,
                 version_label: str | None = None):
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.signature = signature
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        suffix = f"/versions/{int(version)}" if version is not None else (
            f"/labels/{version_label}" if version_label else "")
        self._model_url = f"{self.base_url}/v1/models/{model_name}{suffix}"

    def _request(self, url: str, body=None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                try:
                    message = json.loads(exc.read()).get("error", "")
                except (json.JSONDecodeError, AttributeError):
                    message = exc.reason
                code = _CODES.get(exc.code, f"HTTP_{exc.code}")
                if code != "UNAVAILABLE" or attempt == self.retries:
                    raise ServingError(f"{url}: {code}: {message}", code) from None
            except urllib.error.URLError as exc:
                if attempt == self.retries:
                    raise ServingError(f"{url}: UNAVAILABLE: {exc.reason}", "UNAVAILABLE") from None
            delay = self.backoff_s * 2 ** attempt
            logger.warning("%s: server unavailable, retrying in %.2f s", url, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def predict(self, inputs: dict, output_filter=None) -> dict:
        """One ``:predict`` call in the columnar format; returns ``{output: ndarray}``."""
        body = {"signature_name": self.signature, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
        outputs = self._request(f"{self._model_url}:predict", body)["outputs"]
        if not isinstance(outputs, dict):
            outputs = {next(iter(self.metadata()["outputs"])): outputs}
        wanted = list(output_filter or outputs)
        return {k: np.asarray(outputs[k], dtype=object if k == "class_name" else None) for k in wanted}

    def metadata(self) -> dict:
        """Same shape as `PredictClient.metadata`."""
        payload = self._request(f"{self._model_url}/metadata")
        defs = payload["metadata"]["signature_def"]["signature_def"]
        if self.signature not in defs:
            raise ServingError(f"model {self.model_name!r} has no signature {self.signature!r}", "NOT_FOUND")
        sig = defs[self.signature]
        return {"name": payload["model_spec"]["name"], "version": int(payload["model_spec"]["version"]),
                "signature": self.signature, "inputs": _infos(sig.get("inputs", {})),
                "outputs": _infos(sig.get("outputs", {}))}

    def status(self) -> list:
        """``[{"version", "state", "error"}]``."""
        payload = self._request(self._model_url)
        return [{"version": int(s["version"]), "state": s["state"],
                 "error": s.get("status", {}).get("error_message", "")} for s in payload["model_version_status"]]
