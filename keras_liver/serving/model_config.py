"""Model server configuration: TF Serving's ``--model_config_file`` and the model entries it lists."""

import dataclasses
import pathlib

from keras_liver.errors import ConfigError

POLICIES = ("latest", "all", "specific")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One served model: where its versions live and which of them to serve.

    Attributes:
        name: Servable name.
        base_path: Folder of numeric version folders.
        policy: ``"latest"`` (the highest ``versions[0]`` versions), ``"all"`` or ``"specific"``.
        versions: ``(N,)`` for ``latest``; the version numbers for ``specific``.
        labels: ``{label: version}`` (``stable``, ``canary``).
    """

    name: str
    base_path: pathlib.Path
    policy: str = "latest"
    versions: tuple = (1,)
    labels: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, spec: dict) -> "ModelEntry":
        """Check and normalise ``{"name", "base_path", "policy", "versions", "labels"}``."""
        name = str(spec["name"])
        policy = spec.get("policy", "latest")
        if policy not in POLICIES:
            raise ConfigError(f"model {name!r}: version policy {policy!r} is not latest, all or specific")
        versions = tuple(int(v) for v in spec.get("versions", (1,) if policy == "latest" else ()))
        if policy == "specific" and not versions:
            raise ConfigError(f"model {name!r}: a 'specific' version policy needs versions")
        return cls(name, pathlib.Path(spec["base_path"]), policy, versions,
                   {str(k): int(v) for k, v in (spec.get("labels") or {}).items()})

    def wanted(self, present: list) -> list:
        """The versions this policy serves out of those ``present`` (sorted)."""
        if self.policy == "all":
            return list(present)
        if self.policy == "specific":
            return [v for v in present if v in self.versions]
        return list(present[-self.versions[0]:]) if present else []


def read_model_config_file(path) -> list:
    """The models of a TF Serving ``--model_config_file`` (text ``ModelServerConfig``) as dicts for `ModelEntry`.

    Relative base paths are taken relative to the file's folder.
    """
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
    return models
