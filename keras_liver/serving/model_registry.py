"""`ModelRegistry`: the models a server serves, by name, and the requests it answers.

The jobs are split by module: `model_config` reads TF Serving's
``--model_config_file`` and version policies, `versions` runs each model's
version lifecycle (loading, warm-up, polling, its locking rule), and
`request_checks` validates requests against the signature. This class puts
them together for the gRPC servicers and the REST gateway.
"""

import logging

from keras_liver.errors import ConfigError, ServingError
from keras_liver.serving.model_config import ModelEntry, read_model_config_file
from keras_liver.serving.request_checks import (
    check_inputs,
    check_output_filter,
    input_specs,
    signature_function,
)
from keras_liver.serving.versions import ServedModel

logger = logging.getLogger(__name__)



class ModelRegistry:
    """Models served from ``<base_path>/<version>/`` folders, polled for new and removed versions.

    Mirrors TF Serving's file-system source: numeric sub-folders are
    versions; the version policy picks which are loaded (``latest`` N, ``all``
    or ``specific``); labels map names such as ``stable`` and ``canary`` to
    versions. A new version is loaded, warmed up with its
    ``assets.extra/tf_serving_warmup_requests`` and only then served (see
    `keras_liver.serving.versions.ServedModel`).

    Args:
        models: List of dicts ``{"name", "base_path", "policy": "latest" | "all" | "specific",
            "versions": [...] (latest: [N]; specific: the versions), "labels": {label: version}}``.
    """

    def __init__(self, models):
        self._models = {}
        for spec in models:
            entry = ModelEntry.from_dict(spec)
            if entry.name in self._models:
                raise ConfigError(f"model {entry.name!r} is configured twice")
            self._models[entry.name] = ServedModel(entry)

    @classmethod
    def from_config_file(cls, path) -> "ModelRegistry":
        """Read a TF Serving ``--model_config_file`` (text ``ModelServerConfig``)."""
        return cls(read_model_config_file(path))

    @property
    def names(self) -> list:
        return list(self._models)

    def poll(self) -> bool:
        """Load new versions and unload removed ones of every model; True if anything changed."""
        changed = False
        for model in self._models.values():
            changed = model.poll() or changed
        return changed

    def _model(self, name: str) -> ServedModel:
        if name not in self._models:
            raise ServingError(f"Servable not found for request: Latest({name})", "NOT_FOUND")
        return self._models[name]

    def status(self, name: str, version: int | None = None) -> list:
        """``[{"version", "state", "error"}]`` for a model (all versions, or one)."""
        return self._model(name).status(version)

    def resolve(self, name: str, version: int | None = None, label: str | None = None):
        """The `Version` a request asks for: a number, a label, or the highest available."""
        return self._model(name).resolve(version, label)

    def predict(self, name: str, inputs: dict, *, signature: str = "", version=None, label=None,
                output_filter=()) -> tuple:
        """Run one request; inputs are NumPy arrays checked against the signature.

        Returns:
            ``(version, signature, {output: array})``.

        Raises:
            ServingError: ``NOT_FOUND`` for an unknown model or version,
                ``INVALID_ARGUMENT`` naming the input, dtype or shape at fault.
        """
        import tensorflow as tf

        entry = self.resolve(name, version, label)
        signature, fn = signature_function(entry.signatures, signature, name)
        feed = check_inputs(fn, inputs, signature, name)
        keep = check_output_filter(fn, output_filter, signature)
        try:
            result = fn(**feed)
        except tf.errors.InvalidArgumentError as exc:
            raise ServingError(f"model {name} rejected the input: {exc.message}", "INVALID_ARGUMENT") from None
        except tf.errors.OpError as exc:
            raise ServingError(f"model {name} failed: {exc.message}", "INTERNAL") from None
        return entry.version, signature, {k: result[k].numpy() for k in keep}

    def input_dtypes(self, name: str, signature: str = "", version=None, label=None) -> dict:
        """``{input: NumPy dtype}`` of a signature (REST requests carry no dtypes)."""
        entry = self.resolve(name, version, label)
        _, fn = signature_function(entry.signatures, signature, name)
        return {k: spec.dtype.as_numpy_dtype for k, spec in input_specs(fn).items()}

    def signature_defs(self, name: str, version=None, label=None) -> tuple:
        """``(version, SignatureDef map)`` of the resolved version."""
        entry = self.resolve(name, version, label)
        return entry.version, entry.signature_defs
