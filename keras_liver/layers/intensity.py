"""`intensity_layer`: the in-graph intensity step from a JSON-friendly spec."""

from keras_liver.errors import ConfigError
from keras_liver.layers.fingerprint_normalization import FingerprintNormalization
from keras_liver.layers.intensity_window import IntensityWindow
from keras_liver.preprocess.intensity import window_bounds


def normalize_intensity_spec(spec):
    """A spec as stored in a model config: ``None`` or a dict with ``"type"``.

    Accepted: ``None``; a window preset name (``"liver"``); ``[low, high]``;
    ``{"type": "window", "low": ..., "high": ...}``; a fingerprint dict
    (``Fingerprint.to_dict()`` or ``{"type": "fingerprint", "low", "high",
    "mean", "std"}``).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        low, high = window_bounds(preset=spec)
        return {"type": "window", "low": low, "high": high}
    if isinstance(spec, (list, tuple)) and len(spec) == 2:
        low, high = float(spec[0]), float(spec[1])
        if not high > low:
            raise ConfigError(f"intensity: window [{low}, {high}] needs high > low")
        return {"type": "window", "low": low, "high": high}
    if isinstance(spec, dict):
        if "percentile_00_5" in spec:
            return {"type": "fingerprint", "low": float(spec["percentile_00_5"]),
                    "high": float(spec["percentile_99_5"]), "mean": float(spec["mean"]), "std": float(spec["std"])}
        if spec.get("type") in ("window", "fingerprint"):
            return dict(spec)
    raise ConfigError(f"intensity: expected None, a preset name, [low, high] or a fingerprint, got {spec!r}")


def intensity_layer(spec, name: str = "intensity"):
    """The layer for a spec (see `normalize_intensity_spec`), or ``None``."""
    spec = normalize_intensity_spec(spec)
    if spec is None:
        return None
    if spec["type"] == "window":
        return IntensityWindow(spec["low"], spec["high"], name=name)
    return FingerprintNormalization(spec["low"], spec["high"], spec["mean"], spec["std"], name=name)
