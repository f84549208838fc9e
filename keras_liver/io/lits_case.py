"""The LiTS folder layout: ``volume-N.nii[.gz]`` with ``segmentation-N.nii[.gz]``."""

import dataclasses
import pathlib
import re

import numpy as np

from keras_liver.errors import FileFormatError, GeometryError, LabelError, MissingPathError
from keras_liver.io.loader import load_volume
from keras_liver.io.volume import Volume

LITS_LABELS = (0, 1, 2)
_VOLUME = re.compile(r"^volume-(\d+)\.nii(\.gz)?$", re.IGNORECASE)
_SEGMENTATION = re.compile(r"^segmentation-(\d+)\.nii(\.gz)?$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class LiTSCase:
    """One case of a LiTS-style folder.

    Attributes:
        case_id: The number N of ``volume-N``.
        image_path: The CT volume.
        label_path: Its segmentation, or ``None`` for a test volume.
    """

    case_id: int
    image_path: pathlib.Path
    label_path: pathlib.Path | None = None

    def load(self, **kwargs) -> tuple[Volume, Volume | None]:
        """Read the case with `load_case`."""
        return load_case(self.image_path, self.label_path, **kwargs)


def find_lits_cases(root) -> list[LiTSCase]:
    """Pair ``volume-N`` with ``segmentation-N`` anywhere below ``root``.

    LiTS ships its training set in several sub-folders ("Training Batch 1",
    ...), so the search is recursive. Volumes without a segmentation (the
    test set) are listed with ``label_path=None``.

    Args:
        root: Folder to search.

    Returns:
        Cases sorted by number.

    Raises:
        MissingPathError: ``root`` does not exist or holds no ``volume-N`` file.
        DicomSeriesError: two files claim the same case number.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise MissingPathError(f"{root}: no such folder")
    volumes: dict = {}
    labels: dict = {}
    for path in sorted(root.rglob("*")):
        for pattern, table in ((_VOLUME, volumes), (_SEGMENTATION, labels)):
            match = pattern.match(path.name)
            if match:
                number = int(match.group(1))
                if number in table:
                    raise FileFormatError(f"{root}: case {number} appears twice: {table[number]} and {path}")
                table[number] = path
    if not volumes:
        raise MissingPathError(f"{root}: no volume-N.nii[.gz] files found")
    return [LiTSCase(n, volumes[n], labels.get(n)) for n in sorted(volumes)]


def load_case(image_path, label_path=None, allowed_labels=LITS_LABELS, atol: float = 1e-3, **kwargs):
    """Read an image and its label map and check that they belong together.

    Args:
        image_path: The image (any format `load_volume` reads).
        label_path: The label map, or ``None``.
        allowed_labels: Values a label map may hold (LiTS: 0, 1, 2).
        atol: Tolerance (mm) on the difference of the two affines.
        **kwargs: Passed to `load_volume` for both files.

    Returns:
        ``(image, label)``; ``label`` is ``uint8`` or ``None``.

    Raises:
        LabelError: the label map holds a value not in ``allowed_labels`` or
            a non-integer value.
        GeometryError: shapes or affines differ.
    """
    image = load_volume(image_path, **kwargs)
    if label_path is None:
        return image, None
    label = load_volume(label_path, **kwargs)
    if label.shape != image.shape:
        raise GeometryError(f"{label_path}: label shape {label.shape} != image shape {image.shape} of {image_path}")
    if not np.allclose(label.affine, image.affine, atol=atol):
        raise GeometryError(
            f"{label_path}: label affine differs from that of {image_path} by "
            f"{np.abs(label.affine - image.affine).max():.4g} (> {atol})"
        )
    return image, label.replace(as_label_array(label.array, label_path, allowed_labels))


def as_label_array(array: np.ndarray, source, allowed_labels=LITS_LABELS) -> np.ndarray:
    """Check a label array's values and return it as ``uint8``.

    Args:
        array: Label values (any numeric dtype).
        source: File or argument name for error messages.
        allowed_labels: The allowed values.

    Returns:
        The array as ``uint8``.
    """
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise LabelError(f"{source}: label map holds non-integer values")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0 or hi > 255:
        raise LabelError(f"{source}: label values range {lo:g}..{hi:g}; allowed {list(allowed_labels)}")
    out = array.astype(np.uint8, copy=False)
    present = np.flatnonzero(np.bincount(out.ravel(), minlength=256))
    bad = sorted(set(present.tolist()) - set(allowed_labels))
    if bad:
        raise LabelError(f"{source}: label map holds values {bad}; allowed {list(allowed_labels)}")
    return out
