"""Sliding-window prediction over whole volumes (NumPy; any predictor callable)."""

import itertools
import logging

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError, GeometryError

logger = logging.getLogger(__name__)


def window_starts(size: int, patch: int, step: int) -> list[int]:
    """Start indices covering ``[0, size)`` with windows of ``patch``; the last one ends at ``size``."""
    if size <= patch:
        return [0]
    starts = list(range(0, size - patch, step))
    return starts + [size - patch]


def gaussian_importance(patch_size, sigma_scale: float = 0.125) -> np.ndarray:
    """A Gaussian weight map peaking at the patch centre (sigma = ``sigma_scale`` * size), minimum 1e-3 of the peak.

    Voxels near a window's border, where the receptive field is cut off,
    then count less when overlapping windows are averaged (nnU-Net's
    importance weighting).
    """
    grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in patch_size], indexing="ij")
    out = np.ones(tuple(patch_size), np.float64)
    for g, n in zip(grids, patch_size):
        sigma = max(sigma_scale * n, 1e-6)
        out *= np.exp(-0.5 * ((g - (n - 1) / 2.0) / sigma) ** 2)
    out /= out.max()
    return np.maximum(out, 1e-3)


def _blend(mean, weight_sum, weights, chunk, patch, pred, scratch, bounds=None) -> None:
    """Fold one batch of window predictions into the running weighted mean, in place (float32).

    ``mean += (w / W) * (p - mean)`` after ``W += w``: a weighted mean that never divides a
    large sum, so windows that agree at a voxel leave exactly their value there (the
    identity and ``x + 1`` oracles stay exact in float32). ``scratch``, two float32 buffers
    of the window's shape (``patch``, and ``patch + (k,)``), spares a window's temporaries.
    ``bounds = (axis, lo, hi)`` blends only the part of each window with ``lo <= index < hi``
    along ``axis``: two threads given disjoint bounds (and scratch each) blend one batch
    together with the same result, as every voxel still sees its windows in the same order.
    """
    ratio, diff = scratch
    axis, lo, hi = bounds if bounds is not None else (0, 0, mean.shape[0])
    for start, p in zip(chunk, pred):
        a, b = max(lo, start[axis]) - start[axis], min(hi, start[axis] + patch[axis]) - start[axis]
        if a >= b:
            continue
        part = tuple(slice(a, b) if i == axis else slice(None) for i in range(len(patch)))
        region = tuple(slice(s + q.start, s + q.stop) if i == axis else slice(s, s + n)
                       for i, (s, n, q) in enumerate(zip(start, patch, part)))
        w, r, d = weights[part], ratio[part], diff[part]
        w_sum = weight_sum[region]
        w_sum += w
        np.divide(w, w_sum, out=r)
        m = mean[region]
        np.subtract(p[part], m, out=d)
        d *= r[..., None]
        m += d


def _flip_predict(predictor, flips):
    """``batch -> float32 prediction``, the running mean over the flipped copies (exact when they agree)."""
    def predict(batch):
        pred = None
        for n, axes in enumerate(flips, start=1):
            out = np.asarray(predictor(np.flip(batch, axes) if axes else batch), np.float32)
            out = np.flip(out, axes) if axes else out
            if pred is None:  # the predictor's own buffer may be reused by its next call, while this one is blended;
                pred = out if np.shares_memory(out, batch) else out.copy()  # the batch is never reused
            else:
                pred = pred + (out - pred) / np.float32(n)
        return pred

    return predict


def slice_ratios(shape, patch, steps, weights) -> tuple[list, list]:
    """In-plane window positions of a 2D window grid and each one's blending ratio ``w / W`` (`_blend`'s).

    The running weighted mean of `_blend` multiplies a window's change by its weight over the
    weights summed so far. On a grid of depth-1 windows the windows of different slices never
    overlap, so these ratios are the same in every slice: computed once, they make blending
    three array operations a window, and a batch of one position in several slices one step.

    Returns:
        ``(positions, ratios)``: ``(y, x)`` starts in blending order, and float32 ``(py, px, 1)`` maps.
    """
    positions = list(itertools.product(*[window_starts(s, p, st) for s, p, st in zip(shape, patch, steps)]))
    weight_sum = np.zeros(tuple(shape), np.float32)
    ratios = []
    for y, x in positions:
        w_sum = weight_sum[y:y + patch[0], x:x + patch[1]]
        w_sum += weights
        ratios.append((weights / w_sum)[..., None])
    return positions, ratios


def _slab_windows(predict, volume, patch, steps, weights, size, progress):
    """Depth-1 windows over ``(z, y, x, c)``: each batch is one in-plane position in ``size`` consecutive slices.

    The next batch is cut while the last one is blended by two more threads (each on half of the
    batch's slices); the result equals window-by-window blending (`_blend`) exactly, as each voxel
    sees the same windows in the same order.
    """
    from concurrent.futures import ThreadPoolExecutor

    nz = volume.shape[0]
    positions, ratios = slice_ratios(volume.shape[1:3], patch[1:], steps[1:], weights[0])
    jobs = [(z, k) for z in range(0, nz, size) for k in range(len(positions))]
    report = max(1, len(jobs) // 10)
    py, px = patch[1:]
    halves = [(0, (size + 1) // 2), ((size + 1) // 2, size)] if size > 1 else [(0, 1)]

    def cut(job):
        z, k = job
        y, x = positions[k]
        return np.ascontiguousarray(volume[z:z + size, None, y:y + py, x:x + px])

    def blend(job, pred, half, buffer):
        z, k = job
        y, x = positions[k]
        lo, hi = half
        hi = min(hi, len(pred))
        if lo >= hi:
            return
        m = mean[z + lo:z + hi, y:y + py, x:x + px]
        diff = buffer[:len(m)]
        np.subtract(pred[lo:lo + len(m), 0], m, out=diff)
        diff *= ratios[k]
        m += diff

    mean = scratch = None
    pending = []
    with ThreadPoolExecutor(max_workers=len(halves)) as blender:
        batch = cut(jobs[0])
        for n, job in enumerate(jobs):
            pred = predict(batch)
            if mean is None:
                mean = np.zeros(volume.shape[:3] + (pred.shape[-1],), np.float32)
                scratch = [np.empty((hi - lo, py, px, pred.shape[-1]), np.float32) for lo, hi in halves]
            for done in pending:
                done.result()
            pending = [blender.submit(blend, job, pred, half, buffer) for half, buffer in zip(halves, scratch)]
            if n + 1 < len(jobs):
                batch = cut(jobs[n + 1])
            if progress and n % report == 0:
                logger.info("sliding window: %d / %d batches", n + 1, len(jobs))
        for done in pending:
            done.result()
    return mean


def sliding_window_predict(predictor, volume, patch_size, *, overlap: float = 0.5, batch_size: int = 4,
                           importance: str = "gaussian", flip_tta: bool = False, pad_value=None,
                           progress: bool = False) -> np.ndarray:
    """Predict a whole volume window by window and blend the overlaps.

    The windows' predictions are blended into a running weighted mean in float32
    (`_blend`) by two more threads, each on its own half of the volume (so each voxel
    still sees its windows in order), while the predictor works on the next batch, and the
    next batch is cut while the previous one is blended: on a CPU the model, which
    releases the GIL, and the blending overlap. Depth-1 windows over a volume (a 2D
    model) are batched as one in-plane position in several slices, with the blending
    ratios computed once for all slices (`slice_ratios`).

    Args:
        predictor: Callable mapping a batch ``(n, *patch_size, c)`` to
            ``(n, *patch_size, k)`` (NumPy or tensor), for example
            `keras_predictor` of a model.
        volume: ``(z, y, x)`` or ``(z, y, x, c)`` array (2D ``(y, x[, c])`` also works).
        patch_size: Window size per spatial axis.
        overlap: Fraction of a window shared with its neighbour (0 to < 1).
        batch_size: Windows per predictor call.
        importance: ``"gaussian"`` or ``"constant"`` blending weights.
        flip_tta: Also predict every window mirrored along each spatial axis longer than
            one voxel, and average (mirroring test-time augmentation).
        pad_value: Value for padding a volume smaller than the patch
            (default: the volume minimum).
        progress: Log progress every 10 % of windows.

    Returns:
        float32 ``(*spatial, k)``: the weighted mean of the window predictions.
        Where every window agrees (an identity predictor), that value exactly.
    """
    from concurrent.futures import ThreadPoolExecutor

    volume = np.asarray(volume)
    patch = tuple(int(p) for p in patch_size)
    nd = len(patch)
    if volume.ndim == nd:
        volume = volume[..., None]
    if volume.ndim != nd + 1:
        raise GeometryError(f"volume: shape {volume.shape} does not match a {nd}D patch {patch} (+ channels)")
    if not 0 <= overlap < 1:
        raise ConfigError(f"overlap: must be in [0, 1), got {overlap}")
    if min(patch) < 1 or int(batch_size) < 1:
        raise ConfigError(f"patch_size {patch} and batch_size {batch_size} must be positive")
    spatial = volume.shape[:-1]
    padded_shape = tuple(max(s, p) for s, p in zip(spatial, patch))
    if padded_shape != spatial:
        fill = volume.min() if pad_value is None else pad_value
        widths = [(0, p - s) for s, p in zip(spatial, padded_shape)] + [(0, 0)]
        volume = np.pad(volume, widths, constant_values=fill)
    steps = [max(1, int(round(p * (1 - overlap)))) for p in patch]
    if importance not in ("gaussian", "constant"):
        raise ConfigError(f"importance: 'gaussian' or 'constant', got {importance!r}")
    weights = (gaussian_importance(patch) if importance == "gaussian" else np.ones(patch)).astype(np.float32)
    flips = [()] + ([(a,) for a in range(1, nd + 1) if patch[a - 1] > 1] if flip_tta else [])
    predict = _flip_predict(predictor, flips)
    size = int(batch_size)
    if nd == 3 and patch[0] == 1:  # a 2D model over a volume: slabs of one window position
        mean = _slab_windows(predict, volume, patch, steps, weights, size, progress)
        return np.ascontiguousarray(mean[tuple(slice(0, s) for s in spatial)])
    starts = list(itertools.product(*[window_starts(s, p, st) for s, p, st in zip(padded_shape, patch, steps)]))
    report = max(1, len(starts) // (10 * size))

    def cut(b):
        chunk = starts[b:b + size]
        batch = np.empty((len(chunk),) + patch + volume.shape[-1:], volume.dtype)
        for i, st in enumerate(chunk):
            batch[i] = volume[tuple(slice(s, s + p) for s, p in zip(st, patch))]
        return chunk, batch

    # Two blending threads, each on its own half of the first axis the windows do not span whole.
    split = [a for a in range(nd) if patch[a] < padded_shape[a]]
    half = padded_shape[split[0]] // 2 if split else 0
    parts = [(split[0], 0, half), (split[0], half, padded_shape[split[0]])] if split else [None]
    mean = weight_sum = scratch = None
    pending = []
    with ThreadPoolExecutor(max_workers=len(parts)) as blender:
        chunk, batch = cut(0)
        for k, b in enumerate(range(0, len(starts), size)):
            pred = predict(batch)
            if mean is None:
                mean = np.zeros(padded_shape + (pred.shape[-1],), np.float32)
                weight_sum = np.zeros(padded_shape, np.float32)
                scratch = [(np.empty(patch, np.float32), np.empty(pred.shape[1:], np.float32)) for _ in parts]
            for job in pending:
                job.result()  # one batch blended at a time, in order
            pending = [blender.submit(_blend, mean, weight_sum, weights, chunk, patch, pred, buffers, part)
                       for part, buffers in zip(parts, scratch)]
            if b + size < len(starts):
                chunk, batch = cut(b + size)  # cut while the last batch is blended
            if progress and k % report == 0:
                logger.info("sliding window: %d / %d windows", min(b + size, len(starts)), len(starts))
        for job in pending:
            job.result()
    return np.ascontiguousarray(mean[tuple(slice(0, s) for s in spatial)])


def dict_predictor(call, input_shapes: dict, output_name: str = "probabilities"):
    """Wrap a ``{input: batch} -> {output: batch}`` callable as a ``batch -> batch`` predictor.

    The window's channel axis is split across the inputs in their order
    (``image`` first, then for example ``hog``), by each input's channel
    count. A 2D model run on 3D windows of depth 1 gets the depth axis
    squeezed and restored.

    Args:
        call: Function taking a dict of float32 arrays and returning a dict
            (a Keras model's ``predict_on_batch``, or a model server's Predict).
        input_shapes: ``{name: shape}`` without the batch axis, in input order.
        output_name: Output key.

    Returns:
        ``(predict, spatial_dims, channels)``: the callable, the model's
        spatial rank and the total input channels.
    """
    names = list(input_shapes)
    channels = [int(input_shapes[n][-1]) for n in names]
    spatial_dims = len(input_shapes[names[0]]) - 1
    bounds = np.cumsum([0] + channels)

    def predict(batch):
        squeeze = spatial_dims == 2 and batch.ndim == 5
        x = batch[:, 0] if squeeze else batch
        feed = {n: np.ascontiguousarray(x[..., a:b], dtype=np.float32) for n, a, b in zip(names, bounds, bounds[1:])}
        out = np.asarray(call(feed)[output_name])
        return out[:, None] if squeeze else out

    return predict, spatial_dims, int(bounds[-1])


def ordered_shapes(task, shapes: dict) -> dict:
    """``shapes`` (``{input: shape}``) re-ordered as the task stacks window channels (``image``, then ``hog``)."""
    return {name: tuple(shapes[name]) for name in tasks.get(task).ordered_inputs(shapes)}


def model_predictor(model, output_name: str = "probabilities"):
    """`dict_predictor` of a Keras model with named inputs and a dict output."""
    shapes = {name: tuple(t.shape[1:]) for name, t in model.input.items()} if isinstance(model.input, dict) else {}
    return dict_predictor(model.predict_on_batch, ordered_shapes(tasks.task_of(model), shapes), output_name)
