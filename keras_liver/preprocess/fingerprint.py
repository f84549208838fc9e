"""`Fingerprint`: data-set intensity and spacing statistics, in the style of nnU-Net."""

import dataclasses
import json
import logging
import pathlib

import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.atomic import write_text_atomic
from keras_liver.preprocess.checks import as_finite_array, check_spacing

logger = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """Foreground intensity statistics and spacings of a training set.

    Computed once over the training cases and stored as JSON; it then drives
    CT normalisation (clip to the 0.5 / 99.5 foreground percentiles, subtract
    the foreground mean, divide by the foreground standard deviation) and the
    choice of target spacing, as nnU-Net does (Isensee et al., "nnU-Net: a
    self-configuring method for deep learning-based biomedical image
    segmentation", Nature Methods 18, 2021).

    Attributes:
        percentile_00_5: 0.5th percentile of foreground intensities.
        percentile_99_5: 99.5th percentile of foreground intensities.
        mean: Mean of foreground intensities.
        std: Standard deviation of foreground intensities.
        median: Median of foreground intensities.
        spacings: ``(z, y, x)`` spacing of every case, mm.
        shapes: ``(z, y, x)`` shape of every case.
        n_cases: Number of cases.
        n_samples: Foreground voxels the statistics were taken from.
        modality: Free text, for example ``"CT"``.
    """

    percentile_00_5: float
    percentile_99_5: float
    mean: float
    std: float
    median: float
    spacings: tuple = ()
    shapes: tuple = ()
    n_cases: int = 0
    n_samples: int = 0
    modality: str = "CT"

    @classmethod
    def compute(cls, cases, *, foreground_labels=None, max_samples_per_case: int = 10000, seed: int = 0,
                modality: str = "CT") -> "Fingerprint":
        """Fingerprint a list of ``(image, label)`` pairs.

        Args:
            cases: Iterable of ``(image, label)`` 3D pairs, `Volume` or array
                (an array counts as 1 mm isotropic). Labels select the
                foreground.
            foreground_labels: Label values counted as foreground; ``None``
                means every non-zero label (liver and tumour for LiTS).
            max_samples_per_case: Foreground voxels drawn per case (uniformly,
                without replacement) so that large cases do not dominate.
            seed: Seed of the voxel sampling.
            modality: Stored as given.

        Returns:
            The fingerprint.

        Raises:
            ConfigError: No cases, or no foreground in any case.
        """
        rng = np.random.default_rng(seed)
        samples, spacings, shapes = [], [], []
        for n, (image, label) in enumerate(cases):
            spacing = check_spacing(getattr(image, "spacing", None) or (1.0, 1.0, 1.0), f"cases[{n}] spacing")
            x = as_finite_array(image, f"cases[{n}] image", ndims=(3,), dtype=None)
            y = np.asarray(getattr(label, "array", label))
            if y.shape != x.shape:
                raise ConfigError(f"cases[{n}]: label shape {y.shape} differs from image shape {x.shape}")
            fg = y > 0 if foreground_labels is None else np.isin(y, list(foreground_labels))
            values = x[fg]
            if values.size > max_samples_per_case:
                values = rng.choice(values, size=max_samples_per_case, replace=False)
            samples.append(values.astype(np.float64))
            spacings.append(spacing)
            shapes.append(tuple(int(s) for s in x.shape))
        if not spacings:
            raise ConfigError("cases: need at least one (image, label) pair to fingerprint")
        pooled = np.concatenate(samples)
        if pooled.size == 0:
            raise ConfigError(f"cases: no foreground voxels in any of the {len(spacings)} label maps")
        p_low, median, p_high = np.percentile(pooled, [0.5, 50.0, 99.5])
        fingerprint = cls(
            percentile_00_5=float(p_low), percentile_99_5=float(p_high), mean=float(pooled.mean()),
            std=float(pooled.std()), median=float(median), spacings=tuple(spacings), shapes=tuple(shapes),
            n_cases=len(spacings), n_samples=int(pooled.size), modality=modality,
        )
        logger.info("fingerprint of %d cases: foreground %.1f..%.1f, mean %.1f, std %.1f", fingerprint.n_cases,
                    fingerprint.percentile_00_5, fingerprint.percentile_99_5, fingerprint.mean, fingerprint.std)
        return fingerprint

    def normalize(self, array) -> np.ndarray:
        """Clip to the foreground percentiles, then ``(x - mean) / std`` (float32)."""
        x = as_finite_array(array, "array")
        clipped = np.clip(x, self.percentile_00_5, self.percentile_99_5)
        return ((clipped - np.float32(self.mean)) / np.float32(max(self.std, 1e-8))).astype(np.float32)

    def median_spacing(self) -> tuple:
        """Median ``(z, y, x)`` spacing over the cases."""
        return tuple(float(v) for v in np.median(np.asarray(self.spacings, dtype=np.float64), axis=0))

    def target_spacing(self) -> tuple:
        """The spacing to resample to: the median, with nnU-Net's anisotropy rule.

        When the coarsest axis of the median spacing is more than three
        times the finest (thick-slice CT), that axis takes the 10th
        percentile of its spacings instead, so thin-slice cases are not
        thrown away, but never finer than the other axes.
        """
        from keras_liver.plans import target_spacing_of

        return target_spacing_of(self.spacings)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["spacings"] = [list(s) for s in self.spacings]
        out["shapes"] = [list(s) for s in self.shapes]
        return out

    def save(self, path) -> pathlib.Path:
        """Write the fingerprint as JSON (atomically)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path) -> "Fingerprint":
        """Read a fingerprint written by `save`."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise MissingPathError(f"{path}: no such fingerprint file")
        try:
            data = json.loads(path.read_text())
            data["spacings"] = tuple(tuple(float(v) for v in s) for s in data.get("spacings", ()))
            data["shapes"] = tuple(tuple(int(v) for v in s) for s in data.get("shapes", ()))
            return cls(**data)
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise FileFormatError(f"{path}: not a keras-liver fingerprint JSON ({exc})") from None
