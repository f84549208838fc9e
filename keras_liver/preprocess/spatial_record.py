"""`SpatialRecord`: what the spatial preprocessing did, and its inverse."""

import dataclasses
import json

import numpy as np

from keras_liver.errors import ConfigError, GeometryError
from keras_liver.io.volume import Volume
from keras_liver.preprocess import spatial

KINDS = ("label", "image", "probabilities")


@dataclasses.dataclass(frozen=True)
class SpatialRecord:
    """The original grid plus the steps (crop, resample, pad) applied to it.

    `invert` maps an array on the preprocessed grid back onto the original
    grid: it un-pads, resamples back to the cropped shape and places the
    result into the full original extent. Crop and pad invert exactly; a
    label map resampled to a finer grid and back is also recovered exactly
    (nearest-neighbour indices round-trip), while resampling to a coarser
    grid keeps the geometry exact but can only return the labels at the
    coarser resolution.

    Attributes:
        shape: Original ``(z, y, x)``.
        affine: Original voxel-to-RAS affine.
        meta: Original `Volume` meta (source path and orientation, so a
            written prediction lands on the source file's voxel order).
        steps: Step dicts in the order applied, each with ``"op"``.
    """

    shape: tuple
    affine: np.ndarray
    meta: dict
    steps: tuple = ()

    @property
    def output_shape(self) -> tuple:
        """``(z, y, x)`` of the preprocessed grid."""
        shape = tuple(self.shape)
        for step in self.steps:
            shape = tuple(step["shape_after"])
        return shape

    def invert(self, prediction, kind: str = "label", fill=None, *, antialias: bool = False) -> Volume:
        """Map a prediction on the preprocessed grid back onto the original grid.

        Args:
            prediction: Array or `Volume` of spatial shape `output_shape`:
                ``(z, y, x)`` for ``"label"`` and ``"image"``, ``(z, y, x, c)``
                channels-last for ``"probabilities"``.
            kind: ``"label"`` (nearest neighbour, dtype kept), ``"image"``
                (linear) or ``"probabilities"`` (linear, channels-last).
            fill: Value outside the crop: 0 for labels and images; for
                probabilities, class 0 (background) gets 1 and the others 0.
            antialias: Images and probabilities: where the original grid is
                coarser, smooth first (`spatial.resize`), so a voxel gets about the
                mean over its footprint (a class's share of the voxel) rather than
                one sample of the finer grid.

        Returns:
            A `Volume` on the original grid, affine and meta.
        """
        if kind not in KINDS:
            raise ConfigError(f"kind: must be one of {KINDS}, got {kind!r}")
        array = np.asarray(getattr(prediction, "array", prediction))
        channels = kind == "probabilities"
        if channels:
            if array.ndim != 4:
                raise GeometryError(f"prediction: probabilities must be (z, y, x, classes), got {array.shape}")
            array = np.moveaxis(array, -1, 0)
        elif array.ndim != 3:
            raise GeometryError(f"prediction: a {kind} must be (z, y, x), got shape {array.shape}")
        if tuple(array.shape[-3:]) != self.output_shape:
            raise GeometryError(
                f"prediction: spatial shape {tuple(array.shape[-3:])} is not the preprocessed grid {self.output_shape}"
            )
        for step in reversed(self.steps):
            before = tuple(step["shape_before"])
            if step["op"] == "pad":
                array = spatial.crop(array, step["before"], [b + n for b, n in zip(step["before"], before)])
            elif step["op"] == "resample":
                array = spatial.resize(array, before, order=0 if kind == "label" else 1,
                                       antialias=antialias and kind != "label")
            elif step["op"] == "crop":
                array = self._uncrop(array, step, kind, fill)
            else:
                raise ConfigError(f"steps: unknown operation {step['op']!r}")
        if channels:
            array = np.moveaxis(array, 0, -1)
        return Volume(array, self.affine, None, {**self.meta, "inverted_from": self.output_shape})

    @staticmethod
    def _uncrop(array, step, kind, fill):
        full = array.shape[:-3] + tuple(step["shape_before"])
        if kind == "probabilities" and fill is None:
            out = np.zeros(full, dtype=array.dtype)
            out[0] = 1
        else:
            out = np.full(full, 0 if fill is None else fill, dtype=array.dtype)
        out[(Ellipsis,) + tuple(slice(a, b) for a, b in zip(step["start"], step["stop"]))] = array
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict (meta values that JSON cannot hold become strings)."""
        return {
            "shape": list(self.shape),
            "affine": np.asarray(self.affine).tolist(),
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "steps": [dict(s) for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SpatialRecord":
        """Rebuild a record from `to_dict` output."""
        try:
            return cls(tuple(int(v) for v in data["shape"]), np.asarray(data["affine"], np.float64),
                       dict(data.get("meta", {})), tuple(dict(s) for s in data["steps"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"spatial record: not a SpatialRecord dict ({exc})") from None
