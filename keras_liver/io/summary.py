"""Plain-number summaries of a `Volume`, for ``keras-liver info`` and logs."""

import numpy as np

from keras_liver.io.volume import Volume

PERCENTILES = (0.5, 50.0, 99.5)


_SAMPLE = 1 << 24  # voxels: float percentiles of larger volumes come from an even sample of this size


def _planes(array: np.ndarray):
    """Flat pieces of ``array`` of at most a few million voxels each, so no statistic copies the whole volume."""
    if array.ndim <= 2 or array.size <= _SAMPLE:
        yield array.reshape(-1)
        return
    for part in array.reshape((-1,) + array.shape[-2:]) if array.flags.c_contiguous else _iter_leading(array):
        yield part.reshape(-1)


def _iter_leading(array: np.ndarray):
    for part in array:
        if part.ndim > 2:
            yield from _iter_leading(part)
        else:
            yield part


def _small_int_counts(array: np.ndarray):
    """(lowest value, counts per value) of an integer array of at most 16 bits, computed piecewise."""
    low, high = int(array.min()), int(array.max())
    counts = np.zeros(high - low + 1, dtype=np.int64)
    for part in _planes(array):
        counts += np.bincount((part.astype(np.int32) - low), minlength=counts.size)
    return low, counts


def _percentiles_from_counts(low: int, counts: np.ndarray, percentiles) -> list:
    """NumPy's default (linear) percentiles of the values ``low + i`` repeated ``counts[i]`` times."""
    cum = np.cumsum(counts)
    n = int(cum[-1])
    out = []
    for p in percentiles:
        rank = p / 100.0 * (n - 1)
        below, above = int(np.floor(rank)), int(np.ceil(rank))
        v_below = low + int(np.searchsorted(cum, below, side="right"))
        v_above = low + int(np.searchsorted(cum, above, side="right"))
        out.append(v_below + (rank - below) * (v_above - v_below))
    return out


def _percentiles(array: np.ndarray, percentiles) -> tuple[list, bool]:
    """Percentiles (exact for integers of at most 16 bits and for small arrays) and whether they were sampled."""
    if np.issubdtype(array.dtype, np.integer) and array.dtype.itemsize <= 2:
        return _percentiles_from_counts(*_small_int_counts(array), percentiles), False
    if array.size <= _SAMPLE:
        return list(np.percentile(array, percentiles)), False
    step = -(-array.size // _SAMPLE)
    sample = np.concatenate([part[::step] for part in _planes(array)])
    return list(np.percentile(sample, percentiles)), True


def looks_like_label_map(array: np.ndarray, max_labels: int = 128) -> bool:
    """True for a non-negative integer array with few distinct values."""
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        return False
    if array.size == 0 or array.min() < 0 or array.max() > 255:
        return False
    return int(np.count_nonzero(_small_int_counts(array)[1])) <= max_labels


def summarize(volume: Volume) -> dict:
    """Shape, spacing, orientation, intensity statistics and label counts.

    Args:
        volume: Any `Volume`.

    Returns:
        A JSON-serialisable dict. ``label_counts`` (value -> voxel count) is
        present for label maps (non-negative integers below 256 with at most 128 distinct values); intensity
        percentiles ``p0.5``, ``p50``, ``p99.5`` for everything else (exact for
        integer images of up to 16 bits; a floating-point volume of more than
        2**24 voxels gets them from an even sample, and says so in
        ``percentiles_from_sample``). No statistic copies the whole volume.
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
        low, counts = _small_int_counts(array)
        out["label_counts"] = {low + int(v): int(counts[v]) for v in np.flatnonzero(counts)}
    else:
        values, sampled = _percentiles(array, PERCENTILES)
        out.update({f"p{p:g}": round(float(v), 3) for p, v in zip(PERCENTILES, values)})
        if sampled:
            out["percentiles_from_sample"] = _SAMPLE
        out["mean"] = round(float(array.mean(dtype=np.float64)), 3)
    return out
