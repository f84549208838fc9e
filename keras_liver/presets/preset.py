"""`Preset`: a trained model shipped inside the package, with its plan, card and checksums."""

import dataclasses
import hashlib
import json
import pathlib

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError

PRESETS_DIR = pathlib.Path(__file__).resolve().parent
MANIFEST = "preset.json"


def sha256(path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Preset:
    """One preset folder: ``preset.json`` (what it is and how it was made), the model and a model card.

    Attributes:
        folder: The preset's folder.
        info: The parsed ``preset.json``: ``name``, ``version``, ``task``, ``model`` (the
            model file), ``inputs``, ``outputs``, ``plan``, ``recipe``, ``figures``,
            ``storage``, ``packages`` and ``files`` (the SHA-256 of every other file).

    Example:
        >>> from keras_liver import presets
        >>> model = presets.load("ct_liver_tumour")   # checksums checked, Keras safe mode
    """

    folder: pathlib.Path
    info: dict

    @classmethod
    def from_folder(cls, folder) -> "Preset":
        """The preset in ``folder`` (`MissingPathError` without ``preset.json``, `FileFormatError` if unreadable)."""
        folder = pathlib.Path(folder)
        manifest = folder / MANIFEST
        if not manifest.is_file():
            raise MissingPathError(f"{folder}: not a preset (no {MANIFEST})")
        try:
            info = json.loads(manifest.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileFormatError(f"{manifest}: not a readable preset manifest ({exc})") from None
        missing = [k for k in ("name", "version", "task", "model", "files") if k not in info]
        if missing:
            raise FileFormatError(f"{manifest}: lacks {missing}")
        return cls(folder, info)

    @classmethod
    def from_name(cls, name: str) -> "Preset":
        """The shipped preset called ``name`` (`ConfigError` naming the shipped ones)."""
        folder = PRESETS_DIR / str(name)
        if not str(name) or "/" in str(name) or not (folder / MANIFEST).is_file():
            raise ConfigError(f"preset: one of {names()}, got {name!r}")
        return cls.from_folder(folder)

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def model_path(self) -> pathlib.Path:
        """The preset's model file (a ``.keras`` file: one model, or a cascade or pipeline)."""
        return self.folder / self.info["model"]

    @property
    def card(self) -> str:
        """The model card (``README.md``), or an empty string."""
        path = self.folder / "README.md"
        return path.read_text() if path.is_file() else ""

    def verify(self) -> None:
        """Check every file against ``preset.json``: `FileFormatError` naming the first that differs.

        A file listed but absent, present but not listed, or with another SHA-256 is refused:
        a preset is loaded exactly as its recipe produced it, or not at all.
        """
        listed = dict(self.info["files"])
        if self.info["model"] not in listed:
            raise FileFormatError(f"{self.folder / MANIFEST}: its model {self.info['model']!r} has no checksum")
        present = {p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                   if p.is_file() and p.name != MANIFEST and "__pycache__" not in p.parts}
        for extra in sorted(present - set(listed)):
            raise FileFormatError(f"{self.folder / extra}: not part of preset {self.name!r} (not in {MANIFEST})")
        for rel, digest in sorted(listed.items()):
            path = self.folder / rel
            if not path.is_file():
                raise FileFormatError(f"{path}: missing from preset {self.name!r}")
            if sha256(path) != digest:
                raise FileFormatError(f"{path}: its SHA-256 differs from {MANIFEST} (modified or damaged); reinstall "
                                      f"keras-liver or rebuild it with scripts/train_presets.py {self.name}")

    def load(self, compile: bool = False):
        """Verify, then load the model with Keras safe mode (no code runs from the file)."""
        from keras_liver.models.loading import load_model

        self.verify()
        return load_model(self.model_path, compile=compile, safe_mode=True)


def names() -> list:
    """The names of the presets shipped in the package, sorted."""
    return sorted(p.parent.name for p in PRESETS_DIR.glob(f"*/{MANIFEST}"))


def resolve(spec):
    """A `Preset` for a preset name or folder, ``None`` for anything else (a model file, say)."""
    if isinstance(spec, Preset):
        return spec
    text = str(spec)
    path = pathlib.Path(text)
    if path.is_dir() and (path / MANIFEST).is_file():
        return Preset.from_folder(path)
    if not path.exists() and "/" not in text and text in names():
        return Preset.from_name(text)
    return None
