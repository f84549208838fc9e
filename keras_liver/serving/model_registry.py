"""`ModelRegistry`: versioned SavedModels on disk, loaded and kept up to date like TF Serving does."""

import dataclasses
import logging
import pathlib
import threading

import numpy as np

from keras_liver.errors import ConfigError, ServingError

logger = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"


@dataclasses.dataclass
class _Version:
    """One loaded (or failed) version of a model."""

    version: int
    path: pathlib.Path
    state: str = "LOADING"
    error: str = ""
    signatures: dict = dataclasses.field(default_factory=dict)
    signature_defs: object = None
    loaded: object = None


@dataclasses.dataclass
class _Model:
    name: str
    base_path: pathlib.Path
    policy: str = "latest"
    policy_versions: tuple = (1,)
    labels: dict = dataclasses.field(default_factory=dict)
    versions: dict = dataclasses.field(default_factory=dict)


def _signature_defs(path: pathlib.Path):
    """The ``SignatureDef`` map of a SavedModel, read from ``saved_model.pb`` (the ``serve`` tag)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for graph in proto.meta_graphs:
        if "serve" in graph.meta_info_def.tags:
            return graph.signature_def
    raise ServingError(f"{path}: SavedModel has no 'serve' tag set", "FAILED_PRECONDITION")


class ModelRegistry:
    """Models served from ``<base_path>/<version>/`` folders, polled for new and removed versions.

    Mirrors TF Serving's file-system source: numeric sub-folders are
    versions; the version policy picks which are loaded (``latest`` N, ``all``
    or ``specific``); labels map names such as ``stable`` and ``canary`` to
    versions. A new version is loaded, warmed up with its
    ``assets.extra/tf_serving_warmup_requests`` and only then served. Like
    TF Serving's availability-preserving policy, a version that is no longer
    wanted stays served until a wanted one is AVAILABLE, so a broken new
    version (reported as END with its error) does not take the model down.

    Args:
        models: List of dicts ``{"name", "base_path", "policy": "latest" | "all" | "specific",
            "versions": [...] (latest: [N]; specific: the versions), "labels": {label: version}}``.
    """

    def __init__(self, models):
        self._lock = threading.RLock()
        self._models = {}
        for spec in models:
            name = str(spec["name"])
            if name in self._models:
                raise ConfigError(f"model {name!r} is configured twice")
            policy = spec.get("policy", "latest")
            if policy not in ("latest", "all", "specific"):
                raise ConfigError(f"model {name!r}: version policy {policy!r} is not latest, all or specific")
            versions = tuple(int(v) for v in spec.get("versions", (1,) if policy == "latest" else ()))
            if policy == "specific" and not versions:
                raise ConfigError(f"model {name!r}: a 'specific' version policy needs versions")
            self._models[name] = _Model(name, pathlib.Path(spec["base_path"]), policy, versions,
                                        {str(k): int(v) for k, v in (spec.get("labels") or {}).items()})

    @classmethod
    def from_config_file(cls, path) -> "ModelRegistry":
        """Read a TF Serving ``--model_config_file`` (text ``ModelServerConfig``)."""
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        path = pathlib.Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such model config file")
        config = model_server_config_pb2.ModelServerConfig()
        try:
            text_format.Parse(path.read_text(), config)
        except text_format.ParseError as exc:
            raise ConfigError(f"{path}: not a ModelServerConfig ({exc})") from None
        models = []
        for entry in config.model_config_list.config:
            base = pathlib.Path(entry.base_path)
            if not base.is_absolute():
                base = (path.parent / base).resolve()
            choice = entry.model_version_policy.WhichOneof("policy_choice") or "latest"
            versions = ()
            if choice == "latest":
                versions = (entry.model_version_policy.latest.num_versions or 1,)
            elif choice == "specific":
                versions = tuple(entry.model_version_policy.specific.versions)
            if entry.model_platform and entry.model_platform != "tensorflow":
                raise ConfigError(f"{path}: model {entry.name!r}: platform {entry.model_platform!r} is not tensorflow")
            models.append({"name": entry.name, "base_path": base, "policy": choice, "versions": versions,
                           "labels": dict(entry.version_labels)})
        if not models:
            raise ConfigError(f"{path}: model_config_list holds no models")
        return cls(models)

    @property
    def names(self) -> list:
        return list(self._models)

    def _wanted(self, model: _Model) -> list:
        from keras_liver.export.saved_model import model_versions

        present = model_versions(model.base_path)
        if model.policy == "all":
            return present
        if model.policy == "specific":
            return [v for v in present if v in model.policy_versions]
        return present[-model.policy_versions[0]:] if present else []

    def poll(self) -> bool:
        """Load new versions and unload removed ones; True if anything changed."""
        changed = False
        for model in self._models.values():
            wanted = self._wanted(model)
            for version in wanted:
                if version not in model.versions:
                    self._load(model, version)
                    changed = True
            serving = any(model.versions[v].state == "AVAILABLE" for v in wanted if v in model.versions)
            for version in [v for v in model.versions if v not in wanted]:
                if model.versions[version].state == "AVAILABLE" and not serving:
                    continue  # availability first: keep serving it until a wanted version loads
                with self._lock:
                    model.versions.pop(version)
                logger.info("unloaded %s version %d", model.name, version)
                changed = True
        return changed

    def _load(self, model: _Model, version: int) -> None:
        import tensorflow as tf

        path = model.base_path / str(version)
        entry = _Version(version, path)
        with self._lock:
            model.versions[version] = entry  # reported as LOADING until the warm-up is done
        try:
            entry.loaded = tf.saved_model.load(str(path))
            entry.signature_defs = _signature_defs(path)
            entry.signatures = dict(entry.loaded.signatures)
            self._warm_up(model.name, entry)
            entry.state = "AVAILABLE"
            logger.info("serving %s version %d from %s", model.name, version, path)
        except Exception as exc:  # a broken version must not stop the server
            entry.state, entry.error, entry.loaded = "END", f"{type(exc).__name__}: {exc}", None
            logger.error("could not load %s version %d: %s", model.name, version, entry.error)

    def _warm_up(self, name: str, entry: _Version) -> None:
        import tensorflow as tf

        from keras_liver.export.warmup import WARMUP_FILE, read_warmup_requests

        path = entry.path / "assets.extra" / WARMUP_FILE
        if not path.is_file():
            return
        requests = read_warmup_requests(path)
        for request in requests:
            fn = entry.signatures[request.model_spec.signature_name or DEFAULT_SIGNATURE]
            fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        logger.info("warmed up %s version %d with %d requests", name, entry.version, len(requests))

    def status(self, name: str, version: int | None = None) -> list:
        """``[{"version", "state", "error"}]`` for a model (all versions, or one)."""
        model = self._model(name)
        with self._lock:
            entries = sorted(model.versions.values(), key=lambda e: e.version)
        if version is not None:
            entries = [e for e in entries if e.version == version]
            if not entries:
                raise ServingError(f"Could not find version {version} of model {name}", "NOT_FOUND")
        return [{"version": e.version, "state": e.state, "error": e.error} for e in entries]

    def _model(self, name: str) -> _Model:
        if name not in self._models:
            raise ServingError(f"Servable not found for request: Latest({name})", "NOT_FOUND")
        return self._models[name]

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> _Version:
        """The version a request asks for: a number, a label, or the highest available."""
        model = self._model(name)
        if label:
            if label not in model.labels:
                raise ServingError(f"Unrecognized servable version label: {label} (model {name} has "
                                   f"{sorted(model.labels) or 'no labels'})", "INVALID_ARGUMENT")
            version = model.labels[label]
        with self._lock:
            if version is not None:
                entry = model.versions.get(int(version))
                if entry is None or entry.state != "AVAILABLE":
                    raise ServingError(f"Servable not found for request: Specific({name}, {version})", "NOT_FOUND")
                return entry
            available = [e for e in model.versions.values() if e.state == "AVAILABLE"]
        if not available:
            raise ServingError(f"Servable not found for request: Latest({name})", "NOT_FOUND")
        return max(available, key=lambda e: e.version)

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
        signature = signature or DEFAULT_SIGNATURE
        if signature not in entry.signatures:
            raise ServingError(f'Serving signature name: "{signature}" not found in signature def '
                               f"(model {name} has {sorted(entry.signatures)})", "INVALID_ARGUMENT")
        fn = entry.signatures[signature]
        specs = fn.structured_input_signature[1]
        unknown = sorted(set(inputs) - set(specs))
        missing = sorted(set(specs) - set(inputs))
        if unknown or missing:
            parts = ([f"unknown input(s) {unknown}"] if unknown else []) + (
                [f"missing input(s) {missing}"] if missing else [])
            raise ServingError(f"{'; '.join(parts)}; signature {signature} of {name} takes {sorted(specs)}",
                               "INVALID_ARGUMENT")
        feed = {}
        for key, spec in specs.items():
            value = inputs[key]
            want = spec.dtype.as_numpy_dtype
            if value.dtype != want:
                raise ServingError(f"input {key!r}: expects {spec.dtype.name} ({_dt(spec.dtype)}), got "
                                   f"{value.dtype.name}", "INVALID_ARGUMENT")
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError(f"input {key!r}: shape {list(value.shape)} does not match the signature's "
                                   f"{_shape_text(spec.shape)}", "INVALID_ARGUMENT")
            feed[key] = tf.constant(value)
        outputs = list(fn.structured_outputs)
        bad = sorted(set(output_filter) - set(outputs))
        if bad:
            raise ServingError(f"output_filter: {bad} not in signature {signature} outputs {sorted(outputs)}",
                               "INVALID_ARGUMENT")
        try:
            result = fn(**feed)
        except tf.errors.InvalidArgumentError as exc:
            raise ServingError(f"model {name} rejected the input: {exc.message}", "INVALID_ARGUMENT") from None
        except tf.errors.OpError as exc:
            raise ServingError(f"model {name} failed: {exc.message}", "INTERNAL") from None
        keep = list(output_filter) or outputs
        return entry.version, signature, {k: result[k].numpy() for k in keep}

    def input_dtypes(self, name: str, signature: str = "", version=None, label=None) -> dict:
        """``{input: NumPy dtype}`` of a signature (REST requests carry no dtypes)."""
        entry = self.resolve(name, version, label)
        signature = signature or DEFAULT_SIGNATURE
        if signature not in entry.signatures:
            raise ServingError(f'Serving signature name: "{signature}" not found in signature def',
                               "INVALID_ARGUMENT")
        specs = entry.signatures[signature].structured_input_signature[1]
        return {k: spec.dtype.as_numpy_dtype for k, spec in specs.items()}

    def signature_defs(self, name: str, version=None, label=None) -> tuple:
        """``(version, SignatureDef map)`` of the resolved version."""
        entry = self.resolve(name, version, label)
        return entry.version, entry.signature_defs


def _dt(dtype) -> str:
    return "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(dtype.name, dtype.name.upper())


def _shape_text(shape) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]"


def as_array(proto) -> np.ndarray:
    """A ``TensorProto`` as a NumPy array (`ServingError` ``INVALID_ARGUMENT`` if it cannot be read)."""
    import tensorflow as tf

    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as exc:
        raise ServingError(f"cannot read tensor: {exc}", "INVALID_ARGUMENT") from None
