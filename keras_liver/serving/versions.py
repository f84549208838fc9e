"""`ServedModel`: the version lifecycle of one model, as TF Serving's file-system source runs it.

States follow TF Serving's ``ModelVersionStatus``: a version is LOADING
while its SavedModel is read and its warm-up requests run, then AVAILABLE,
or END with the error when it could not be loaded. A version that ended so
is loaded again once its files change (a copy that was still running).

Locking rule: one lock per model guards its ``versions`` map. Only `poll`
(one thread: the server's poll loop, or the caller of ``start``) adds and
removes entries, and it takes the lock just for each insertion and
removal, never while a SavedModel loads, so requests are never blocked by a
slow load. Request threads take the lock only to pick an entry; an entry's
``state`` and ``loaded`` are written once each by the loading thread, and
a request only uses an entry whose state it has read as AVAILABLE.
"""

import dataclasses
import logging
import pathlib
import threading

from keras_liver.errors import ServingError
from keras_liver.serving.model_config import ModelEntry
from keras_liver.serving.request_checks import DEFAULT_SIGNATURE

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Version:
    """One loaded (or failed) version of a model."""

    version: int
    path: pathlib.Path
    state: str = "LOADING"
    error: str = ""
    signatures: dict = dataclasses.field(default_factory=dict)
    signature_defs: object = None
    loaded: object = None
    files: tuple = ()  # (name, size, mtime) of the folder's files when it was loaded


def folder_state(path: pathlib.Path) -> tuple:
    """``(relative name, size, mtime_ns)`` of every file under ``path``: changes when a copy completes."""
    try:
        return tuple(sorted((str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns)
                            for p in path.rglob("*") if p.is_file()))
    except OSError:  # a file vanished while listing: the folder is changing
        return ("changing",)


def read_signature_defs(path: pathlib.Path):
    """The ``SignatureDef`` map of a SavedModel, read from ``saved_model.pb`` (the ``serve`` tag)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for graph in proto.meta_graphs:
        if "serve" in graph.meta_info_def.tags:
            return graph.signature_def
    raise ServingError(f"{path}: SavedModel has no 'serve' tag set", "FAILED_PRECONDITION")


class ServedModel:
    """The versions of one model: loaded when its policy wants them, dropped when it no longer does.

    Like TF Serving's availability-preserving policy, a version that is no
    longer wanted stays served until a wanted one is AVAILABLE, so a broken
    new version (reported as END with its error) does not take the model down.
    """

    def __init__(self, entry: ModelEntry):
        self.entry = entry
        self.versions = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.entry.name

    def poll(self) -> bool:
        """Load newly wanted versions and unload unwanted ones; True if anything changed."""
        from keras_liver.export.saved_model import model_versions

        wanted = self.entry.wanted(model_versions(self.entry.base_path))
        changed = False
        for version in wanted:
            entry = self.versions.get(version)
            if entry is None or (entry.state == "END" and folder_state(entry.path) != entry.files):
                if entry is not None:
                    logger.info("%s version %d changed since it failed to load: loading it again", self.name, version)
                self._load(version)
                changed = True
        serving = any(self.versions[v].state == "AVAILABLE" for v in wanted if v in self.versions)
        for version in [v for v in self.versions if v not in wanted]:
            if self.versions[version].state == "AVAILABLE" and not serving:
                continue  # availability first: keep serving it until a wanted version loads
            with self._lock:
                self.versions.pop(version)
            logger.info("unloaded %s version %d", self.name, version)
            changed = True
        return changed

    def _load(self, version: int) -> None:
        import tensorflow as tf

        path = self.entry.base_path / str(version)
        entry = Version(version, path, files=folder_state(path))
        with self._lock:
            self.versions[version] = entry  # reported as LOADING until the warm-up is done
        try:
            loaded = tf.saved_model.load(str(path))
            entry.signature_defs = read_signature_defs(path)
            entry.signatures = dict(loaded.signatures)
            self._warm_up(entry)
            entry.loaded = loaded
            entry.state = "AVAILABLE"
            logger.info("serving %s version %d from %s", self.name, version, path)
        except Exception as exc:  # a broken version must not stop the server
            entry.state, entry.error, entry.loaded = "END", f"{type(exc).__name__}: {exc}", None
            logger.error("could not load %s version %d: %s", self.name, version, entry.error)

    def _warm_up(self, entry: Version) -> None:
        import tensorflow as tf

        from keras_liver.export.warmup import WARMUP_FILE, read_warmup_requests

        path = entry.path / "assets.extra" / WARMUP_FILE
        if not path.is_file():
            return
        requests = read_warmup_requests(path)
        for request in requests:
            fn = entry.signatures[request.model_spec.signature_name or DEFAULT_SIGNATURE]
            fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        logger.info("warmed up %s version %d with %d requests", self.name, entry.version, len(requests))

    def status(self, version: int | None = None) -> list:
        """``[{"version", "state", "error"}]`` of all versions, or of one."""
        with self._lock:
            entries = sorted(self.versions.values(), key=lambda e: e.version)
        if version is not None:
            entries = [e for e in entries if e.version == version]
            if not entries:
                raise ServingError(f"Could not find version {version} of model {self.name}", "NOT_FOUND")
        return [{"version": e.version, "state": e.state, "error": e.error} for e in entries]

    def resolve(self, version: int | None = None, label: str | None = None) -> Version:
        """The version a request asks for: a number, a label, or the highest available."""
        if label:
            if label not in self.entry.labels:
                raise ServingError(f"Unrecognized servable version label: {label} (model {self.name} has "
                                   f"{sorted(self.entry.labels) or 'no labels'})", "INVALID_ARGUMENT")
            version = self.entry.labels[label]
        with self._lock:
            if version is not None:
                entry = self.versions.get(int(version))
                if entry is None or entry.state != "AVAILABLE":
                    raise ServingError(f"Servable not found for request: Specific({self.name}, {version})",
                                       "NOT_FOUND")
                return entry
            available = [e for e in self.versions.values() if e.state == "AVAILABLE"]
        if not available:
            raise ServingError(f"Servable not found for request: Latest({self.name})", "NOT_FOUND")
        return max(available, key=lambda e: e.version)
