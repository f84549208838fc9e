"""Per-lesion measurements of a label map: id, volume, world centroid and largest diameter."""

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from keras_liver.io.volume import Volume

# Face, edge and corner neighbours: one lesion is one 26-connected component.
_CONNECTIVITY = np.ones((3, 3, 3), bool)


def _world(affine: np.ndarray, zyx: np.ndarray) -> np.ndarray:
    """RAS mm of voxel indices given as ``(n, 3)`` rows of ``(z, y, x)``."""
    ijk = np.asarray(zyx, np.float64)[:, ::-1]
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def max_diameter_mm(points_mm: np.ndarray) -> float:
    """The largest distance between any two of ``points_mm`` (``(n, 3)``), in mm.

    Only the convex hull's vertices can be the ends of the largest distance, so
    the pairwise search runs on them (points in a plane or a line fall back to
    all points, which are then few or cheap to compare in chunks).
    """
    points = np.asarray(points_mm, np.float64)
    if len(points) < 2:
        return 0.0
    if len(points) > 4:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # flat or collinear: keep every point
            pass
    best = 0.0
    for start in range(0, len(points), 512):
        chunk = points[start:start + 512]
        d2 = ((chunk[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        best = max(best, float(d2.max()))
    return float(np.sqrt(best))


def ids_by_volume(components: np.ndarray, n: int) -> np.ndarray:
    """uint16 ids 1..n of a ``0..n`` component map renumbered by volume (1 = largest; ties keep their order)."""
    sizes = np.bincount(np.asarray(components).ravel(), minlength=n + 1)[1:n + 1]
    relabel = np.zeros(n + 1, np.uint16)
    relabel[np.argsort(-sizes, kind="stable") + 1] = np.arange(1, n + 1)
    return relabel[components]


def lesion_table(label: Volume, *, lesion_label: int = 2, instance: np.ndarray | None = None
                 ) -> tuple[np.ndarray, list[dict]]:
    """Split a label map's lesions into components and measure each one.

    Args:
        label: ``(z, y, x)`` label map with its affine (for example a
            predicted mask: 0 background, 1 liver, 2 lesion).
        lesion_label: The label value of lesions.
        instance: Optional ``(z, y, x)`` map of lesion ids already assigned
            (0 none); ``None`` labels 26-connected components of
            ``label == lesion_label``, ids ordered by volume (1 = largest).

    Returns:
        ``(instance map uint16, rows)``: one row per lesion with ``id`` (its
        value in the instance map), ``voxels``, ``volume_ml``,
        ``centroid_mm`` (world RAS, the voxels' mean position) and
        ``max_diameter_mm`` (largest distance between two of its voxel
        centres, so a lesion one voxel wide measures 0).
    """
    array = np.asarray(label.array)
    if array.ndim != 3:
        raise ValueError(f"lesion_table: a (z, y, x) label map is needed, got shape {array.shape}")
    if instance is None:
        components, n = ndimage.label(array == lesion_label, structure=_CONNECTIVITY)
        instance = ids_by_volume(components, n)
    else:
        instance = np.asarray(instance).astype(np.uint16)
        if instance.shape != array.shape:
            raise ValueError(f"lesion_table: instance map {instance.shape} is not on the label's grid {array.shape}")
    voxel_ml = float(np.prod(label.spacing)) / 1000.0
    rows = []
    boxes = ndimage.find_objects(instance)
    for lesion_id, box in enumerate(boxes, start=1):
        if box is None:
            continue
        mask = instance[box] == lesion_id
        offset = np.array([s.start for s in box])
        voxels = np.argwhere(mask) + offset
        surface = mask & ~ndimage.binary_erosion(mask, structure=_CONNECTIVITY)
        ends = _world(label.affine, np.argwhere(surface) + offset)
        rows.append({
            "id": int(lesion_id),
            "voxels": int(len(voxels)),
            "volume_ml": round(len(voxels) * voxel_ml, 4),
            "centroid_mm": [round(float(c), 2) for c in _world(label.affine, voxels.mean(0, keepdims=True))[0]],
            "max_diameter_mm": round(max_diameter_mm(ends), 2),
        })
    return instance, rows
