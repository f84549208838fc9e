"""Plain-number summaries of a `Volume`, for ``keras-liver info`` and logs."""

import numpy as np

from keras_liver.io.volume import Volume

PERCENTILES = (0.5, 50.0, 99.5)


def looks_like_label_map(array: np.ndarray, max_labels: int = 128) -> bool:
    """True for a non-negative integer array with few distinct values."""
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        return False
    if array.size == 0 or array.min() < 0 or array.max() > 255:
        return False
    counts = np.bincount(array.ravel().astype(np.uint8, copy=False), minlength=256)
    return int(np.count_nonzero(counts)) <= max_labels


def summarize(volume: Volume) -> dict:
    """Shape, spacing, orientation, intensity statistics and label counts.

    Args:
        volume: Any `Volume`.

    Returns:
        A JSON-serialisable dict. ``label_counts`` (value -> voxel count) is
        present for label maps (non-negative integers below 256 with at most 128 distinct values); intensity
        percentiles ``p0.5``, ``p50``, ``p99.5`` for everything else.
    """
    array = volume.array
    out = {
        "source": volume.meta.get("source", ""),
        "format": volume.meta.get("format", ""),
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "spacing_zyx_mm": [round(s, 4) for s in volume.spacing],
        "orientation": volume.orientation,
        "source_orientation": volume.meta.get("source_orientation", volume.orientation),
        "min": float(array.min()),
        "max": float(array.max()),
    }
    if "frame_times_s" in volume.meta:
        out["frame_times_s"] = [round(float(t), 3) for t in volume.meta["frame_times_s"]]
    if "case_id" in volume.meta:
        out["case_id"] = volume.meta["case_id"]
    if looks_like_label_map(array):
        counts = np.bincount(array.ravel().astype(np.uint8, copy=False), minlength=256)
        out["label_counts"] = {int(v): int(counts[v]) for v in np.flatnonzero(counts)}
    else:
        values = np.percentile(array, PERCENTILES)
        out.update({f"p{p:g}": round(float(v), 3) for p, v in zip(PERCENTILES, values)})
        out["mean"] = round(float(array.mean(dtype=np.float64)), 3)
    return out
