"""Sliding-window prediction over whole volumes (NumPy; any predictor callable)."""

import itertools
import logging
import threading

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError, GeometryError

logger = logging.getLogger(__name__)
AHEAD = 2  # tasks of windows cut ahead of the model: each worker thread always has work queued
CHUNK_BYTES = 4 << 20  # windows of depth 1 a worker task holds, about (fewer hand-overs between threads)
SCRATCH_BLOCKS = 4  # scratch blocks kept for later calls (`_ScratchPool`); 0: none


def window_starts(size: int, patch: int, step: int) -> list[int]:
    """Start indices covering ``[0, size)`` with windows of ``patch``; the last one ends at ``size``."""
    if size <= patch:
        return [0]
    starts = list(range(0, size - patch, step))
    return starts + [size - patch]


def importance_factors(patch_size, importance: str = "gaussian", sigma_scale: float = 0.125):
    """The two factors of a window's blending weight: the first axis' ``(p0,)`` and the other axes' map.

    ``"gaussian"``: each a Gaussian peaking at the centre (sigma = ``sigma_scale`` * size per axis),
    normalised to peak 1 and clipped at 1e-3 (`gaussian_importance` is their product);
    ``"constant"``: ones. Both float64.
    """
    patch_size = tuple(int(n) for n in patch_size)
    if importance == "constant":
        return np.ones(patch_size[:1]), np.ones(patch_size[1:])
    if importance != "gaussian":
        raise ConfigError(f"importance: 'gaussian' or 'constant', got {importance!r}")
    factors = []
    for n in patch_size:
        sigma = max(sigma_scale * n, 1e-6)
        g = np.arange(n, dtype=np.float64)
        factors.append(np.exp(-0.5 * ((g - (n - 1) / 2.0) / sigma) ** 2))
    first = np.maximum(factors[0] / factors[0].max(), 1e-3)
    rest = np.ones((), np.float64)
    for f in factors[1:]:
        rest = np.multiply.outer(rest, f)
    return first, np.maximum(rest / rest.max(), 1e-3)


def gaussian_importance(patch_size, sigma_scale: float = 0.125) -> np.ndarray:
    """A Gaussian weight map peaking at the patch centre (sigma = ``sigma_scale`` * size per axis).

    Voxels near a window's border, where the receptive field is cut off,
    then count less when overlapping windows are averaged (nnU-Net's
    importance weighting). The map is the first axis' Gaussian times the
    Gaussian of the other axes, each at least 1e-3 of its peak, so it is
    separable into those two factors (`sliding_window_predict` blends along
    the first axis with the first factor alone); over the other axes it is
    the product clipped at 1e-3, as the in-plane map of a 2D model always was.
    """
    first, rest = importance_factors(patch_size, "gaussian", sigma_scale)
    return np.multiply.outer(first, rest)


def _flip_predict(predictor, flips):
    """``batch -> float32 prediction``, the running mean over the flipped copies (exact when they agree)."""
    def predict(batch):
        pred = None
        for n, axes in enumerate(flips, start=1):
            out = np.asarray(predictor(np.flip(batch, axes) if axes else batch), np.float32)
            out = np.flip(out, axes) if axes else out
            if pred is None:  # blended while the predictor works on the next batch: a new array (or the batch)
                pred = out
            else:
                pred = pred + (out - pred) / np.float32(n)
        return pred

    return predict


def slice_ratios(shape, patch, steps, weights) -> tuple[list, list]:
    """Window positions of a grid and each window's blending ratio ``w / W``, any number of axes.

    The running weighted mean ``mean += (w / W) * (p - mean)`` after ``W += w`` multiplies a
    window's change by its weight over the weights summed so far: a mean that never divides a
    large sum, so where windows agree their value stays exact (the identity and ``x + 1``
    oracles). The ratios depend only on the grid, so they are computed once, in float32, in
    raster order; a ratio is exactly 1 where its window is the first to reach a voxel.

    Returns:
        ``(positions, ratios)``: window starts in raster order, and float32 ``(*patch, 1)`` maps.
    """
    positions = list(itertools.product(*[window_starts(s, p, st) for s, p, st in zip(shape, patch, steps)]))
    weights = np.asarray(weights, np.float32)
    weight_sum = np.zeros(tuple(shape), np.float32)
    ratios = []
    for start in positions:
        w_sum = weight_sum[tuple(slice(a, a + n) for a, n in zip(start, patch))]
        w_sum += weights
        ratios.append((weights / w_sum)[..., None])
    return positions, ratios


class _ScratchPool:
    """Scratch blocks kept between calls, so a call's buffers are memory the process already touched.

    Fresh buffers of several MiB cost a page fault every 4 KiB the first time they are
    written; on the 2-core CPU that was a third to a half of the sliding window's own time.
    A call takes the smallest free block that fits (or allocates one) and gives it back when
    its worker threads are done, so calls running at the same time never share one; at most
    ``SCRATCH_BLOCKS`` blocks are kept (the largest), 0 keeps none.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._free = []

    def take(self, shapes, dtype) -> tuple:
        """One block and the arrays of ``shapes`` (of ``dtype``) carved from it, 64-byte aligned."""
        dtype = np.dtype(dtype)
        sizes = [-(-int(np.prod(s)) * dtype.itemsize // 64) * 64 for s in shapes]
        need = max(sum(sizes), 1)
        with self._lock:
            fits = [i for i, b in enumerate(self._free) if b.nbytes >= need]
            block = self._free.pop(min(fits, key=lambda i: self._free[i].nbytes)) if fits else None
        if block is None:
            block = np.empty(need + 64, np.uint8)
        base = -block.ctypes.data % 64
        offsets = base + np.cumsum([0] + sizes)
        arrays = [block[o:o + int(np.prod(s)) * dtype.itemsize].view(dtype).reshape(s)
                  for o, s in zip(offsets[:-1], shapes)]
        return block, arrays

    def give(self, *blocks) -> None:
        """Return blocks to the pool once nothing writes to them any more."""
        with self._lock:
            self._free.extend(blocks)
            self._free.sort(key=lambda b: b.nbytes, reverse=True)
            del self._free[SCRATCH_BLOCKS:]


_SCRATCH = _ScratchPool()


def first_reached(positions, patch, index) -> tuple:
    """Per axis, where window ``index`` of a raster-order grid starts to reach voxels no earlier window reached.

    An earlier row of windows along an axis covers every position of the later axes, so the
    voxels a window is first to reach form its far corner ``[a_0, p_0) x [a_1, p_1) x ...``,
    with ``a`` the overlap with the previous window along that axis (0 for the first); its
    blending ratio is exactly 1 there, so blending there is a copy.
    """
    start = positions[index]
    corner = []
    for axis, (s, p) in enumerate(zip(start, patch)):
        earlier = [q[axis] for q in positions if q[axis] < s]
        corner.append(max(0, max(earlier) + p - s) if earlier else 0)
    return tuple(corner)


def _pipeline(n_chunks, n_rings, halves, cut, predict_chunk, blend) -> None:
    """Cut chunks of windows ahead, predict them in this thread, blend them in two workers.

    Worker ``h`` of ``halves`` runs ``cut(n, lo, hi)`` and ``blend(n, preds, h)`` for its half,
    in chunk order; ``predict_chunk(n)`` runs here while the workers cut and blend the chunks
    around it. Chunk ``n`` is cut into ring buffer ``n % n_rings`` once the chunk that used it
    last is blended (``cut`` ``None``: nothing is cut, the blends are still bounded the same way).
    """
    from concurrent.futures import ThreadPoolExecutor

    workers = [ThreadPoolExecutor(max_workers=1) for _ in halves]
    cutting, blending = {}, {}

    def cut_ahead(n):
        for done in blending.pop(n - n_rings, []):
            done.result()
        cutting[n] = [w.submit(cut, n, lo, hi) for w, (lo, hi) in zip(workers, halves)] if cut else []

    try:
        for n in range(min(AHEAD, n_chunks)):
            cut_ahead(n)
        for n in range(n_chunks):
            for done in cutting.pop(n):
                done.result()
            preds = predict_chunk(n)
            blending[n] = [w.submit(blend, n, preds, half) for half, w in enumerate(workers)]
            if n + AHEAD < n_chunks:
                cut_ahead(n + AHEAD)
        for futures in blending.values():
            for done in futures:
                done.result()
    finally:
        for w in workers:
            w.shutdown(wait=True, cancel_futures=True)


def _column_windows(predict, volume, patch, steps, factors, size, progress):
    """Windows of any size over ``(*spatial, c)``, blended first along axis 0, then column by column.

    The Gaussian weight is separable into the first axis' factor and the rest's
    (`importance_factors`), so the weighted mean is a mean along the first axis (over the
    windows of one position in the other axes: a *column*) followed by a mean over columns.
    Both are running means with ratios computed once from the grid (`slice_ratios`), so
    windows that agree leave their value exactly. The windows of a column go into a buffer
    the height of the volume (a copy where a window is the first to reach its rows,
    `first_reached`: the buffer is reused), then the finished column into the volume (which
    starts at zero, so a ratio of 1 there is a copy too).
    At one window a batch the predictor gets a view of the volume and nothing is cut (the
    blending never writes into a prediction, so the volume is never written either).
    Two worker threads each own one half of the first axis, in every step: cutting the
    windows of the next batch (their rows in that half), blending the last batch into the
    column, and the column into the volume. Each works through its steps in order, so every
    voxel sees its windows in order, and the main thread only calls the model, which works
    on one batch while the workers blend the one before.
    """
    shape, channels = volume.shape[:-1], volume.shape[-1]
    depth, rest = patch[0], patch[1:]
    z_starts, z_ratios = slice_ratios(shape[:1], patch[:1], steps[:1], factors[0])
    z_starts = [z for (z,) in z_starts]
    z_corners = [first_reached([(z,) for z in z_starts], patch[:1], i)[0] for i in range(len(z_starts))]
    positions, ratios = slice_ratios(shape[1:], rest, steps[1:], factors[1])
    jobs = [(k, i) for k in range(len(positions)) for i in range(len(z_starts))]
    per = size * -(-len(z_starts) // size)  # windows a worker task holds: whole batches, at least one column
    chunks = list(range(0, len(jobs), per))
    report = max(1, len(chunks) // 10)
    halves = [(0, shape[0] // 2), (shape[0] // 2, shape[0])] if shape[0] > 1 else [(0, shape[0])]
    direct = size == 1  # one window a batch: the predictor gets a view of the volume, nothing is cut
    blocks, rings = [], None
    if not direct:
        ring_block, (rings,) = _SCRATCH.take([(AHEAD + 2, per) + patch + (channels,)], volume.dtype)
        blocks.append(ring_block)
    state = {}

    def region_of(k, i, a=0, b=depth):  # rows a..b of window (k, i) in the volume
        z = z_starts[i]
        return (slice(z + a, z + b),) + tuple(slice(q, q + p) for q, p in zip(positions[k], rest))

    def rows_of(i, lo, hi):  # window i's rows inside [lo, hi), in window coordinates
        z = z_starts[i]
        return max(lo, z) - z, min(hi, z + depth) - z

    def cut(n, lo, hi):
        batch = rings[n % len(rings)]
        for slot, (k, i) in enumerate(jobs[chunks[n]:chunks[n] + per]):
            a, b = rows_of(i, lo, hi)
            if a < b:
                batch[slot, a:b] = volume[region_of(k, i, a, b)]

    def blend(n, preds, half):
        lo, hi = halves[half]
        mean, column = state["mean"], state["column"]
        window_scratch, column_scratch = state["scratch"][half]
        windows = (p for pred in preds for p in pred)
        for (k, i), p in zip(jobs[chunks[n]:chunks[n] + per], windows):
            a, b = rows_of(i, lo, hi)
            z, first = z_starts[i], z_corners[i]
            if a < b:  # the window into its column: a copy from ``first`` on, the running mean before
                c = max(a, first)
                if c < b:
                    column[z + c:z + b] = p[c:b]
                if a < min(b, first):
                    e = min(b, first)
                    m, d = column[z + a:z + e], window_scratch[a:e]
                    np.subtract(p[a:e], m, out=d)
                    d *= z_ratios[i][a:e].reshape((e - a,) + (1,) * (d.ndim - 1))
                    m += d
            if i == len(z_starts) - 1 and lo < hi:  # the column is whole: into the volume, rows lo..hi
                region = (slice(lo, hi),) + tuple(slice(q, q + r) for q, r in zip(positions[k], rest))
                target, d = mean[region], column_scratch[lo:hi]
                np.subtract(column[lo:hi], target, out=d)
                d *= ratios[k]
                target += d

    def predict_chunk(n):
        start = chunks[n]
        count = min(per, len(jobs) - start)
        if direct:
            preds = [predict(volume[region_of(k, i)][None]) for k, i in jobs[start:start + count]]
        else:
            ring = rings[n % len(rings)]
            preds = [predict(ring[j:min(j + size, count)]) for j in range(0, count, size)]
        if not state:
            k_out = preds[0].shape[-1]
            state["mean"] = np.zeros(shape + (k_out,), np.float32)
            column_shape, window_shape = (shape[0],) + rest + (k_out,), patch + (k_out,)
            work_block, work = _SCRATCH.take([column_shape] + [window_shape, column_shape] * len(halves), np.float32)
            blocks.append(work_block)
            state["column"] = work[0]
            state["scratch"] = list(zip(work[1::2], work[2::2]))
        if progress and n % report == 0:
            logger.info("sliding window: %d / %d windows", start + count, len(jobs))
        return preds

    try:
        _pipeline(len(chunks), AHEAD + 2, halves, None if direct else cut, predict_chunk, blend)
    finally:
        _SCRATCH.give(*blocks)
    return state["mean"]


def _slab_windows(predict, volume, patch, steps, plane_weights, size, progress):
    """Depth-1 windows over ``(z, y, x, c)``: each batch is one in-plane position in ``size`` consecutive slices.

    The windows of different slices never overlap, so the in-plane running-mean ratios
    (`slice_ratios`) serve every slice, and a batch's blend is one vectorised step. Two worker threads
    each own one half of every batch's slices: they cut the windows of batches ahead of the
    model and blend the ones it has predicted, several batches (about ``CHUNK_BYTES`` of
    windows) a task; each slice sees its windows in order, so the result does not depend on
    the threads.
    """
    nz, channels = volume.shape[0], volume.shape[-1]
    py, px = patch[1:]
    positions, ratios = slice_ratios(volume.shape[1:3], patch[1:], steps[1:], plane_weights)
    jobs = [(z, k) for z in range(0, nz, size) for k in range(len(positions))]
    per = max(1, CHUNK_BYTES // (size * py * px * channels * volume.itemsize))
    chunks = list(range(0, len(jobs), per))
    report = max(1, len(chunks) // 10)
    halves = [(0, (size + 1) // 2), ((size + 1) // 2, size)] if size > 1 else [(0, 1)]
    ring_block, (rings,) = _SCRATCH.take([(AHEAD + 2, per, size, 1, py, px, channels)], volume.dtype)
    state = {}

    def cut(n, lo, hi):
        ring = rings[n % len(rings)]
        for slot, (z, k) in enumerate(jobs[chunks[n]:chunks[n] + per]):
            y, x = positions[k]
            top = min(z + hi, nz)
            if z + lo < top:
                ring[slot, lo:top - z, 0] = volume[z + lo:top, y:y + py, x:x + px]

    def blend(n, preds, half):
        lo, hi = halves[half]
        mean, scratch = state["mean"], state["scratch"][half]
        for (z, k), pred in zip(jobs[chunks[n]:chunks[n] + per], preds):
            top = min(z + hi, nz)
            if z + lo >= top:
                continue
            y, x = positions[k]
            target, d = mean[z + lo:top, y:y + py, x:x + px], scratch[:top - z - lo]
            np.subtract(pred[lo:top - z, 0], target, out=d)
            d *= ratios[k]
            target += d

    def predict_chunk(n):
        start = chunks[n]
        ring = rings[n % len(rings)]
        preds = [predict(ring[slot, :min(size, nz - z)]) for slot, (z, _) in enumerate(jobs[start:start + per])]
        if not state:
            state["mean"] = np.zeros(volume.shape[:3] + (preds[0].shape[-1],), np.float32)
            state["scratch"] = [np.empty((hi - lo, py, px, preds[0].shape[-1]), np.float32) for lo, hi in halves]
        if progress and n % report == 0:
            logger.info("sliding window: %d / %d batches", min(start + per, len(jobs)), len(jobs))
        return preds

    try:
        _pipeline(len(chunks), len(rings), halves, cut, predict_chunk, blend)
    finally:
        _SCRATCH.give(ring_block)
    return state["mean"]


def sliding_window_predict(predictor, volume, patch_size, *, overlap: float = 0.5, batch_size: int = 4,
                           importance: str = "gaussian", flip_tta: bool = False, pad_value=None,
                           progress: bool = False) -> np.ndarray:
    """Predict a whole volume window by window and blend the overlaps.

    The windows' predictions are blended into a running weighted mean in float32 whose
    ratios come from the grid alone (`slice_ratios`), so windows that agree leave their
    value exactly; two more threads blend, each on its own half of the volume (so each
    voxel still sees its windows in order), while the predictor works on the next batch,
    and the next batch is cut while the previous one is blended: on a CPU the model,
    which releases the GIL, and the blending overlap. Depth-1 windows over a volume (a 2D
    model) are batched as one in-plane position in several slices (`_slab_windows`);
    other windows are blended along the first axis, then column by column
    (`_column_windows`), the Gaussian weight being separable that way.

    Args:
        predictor: Callable mapping a batch ``(n, *patch_size, c)`` to
            ``(n, *patch_size, k)`` (NumPy or tensor), for example
            `model_predictor` of a model. Its result is blended while it works
            on the next batch, so it must be a new array each call (as a
            model's output is) or the batch itself, never a buffer it reuses.
            The batch may be a view of ``volume`` (at ``batch_size=1``, one
            window is passed uncopied) or of a buffer reused for later
            batches: read it, never write into it.
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
    factors = importance_factors(patch, importance)
    flips = [()] + ([(a,) for a in range(1, nd + 1) if patch[a - 1] > 1] if flip_tta else [])
    predict = _flip_predict(predictor, flips)
    size = int(batch_size)
    if nd == 3 and patch[0] == 1:  # a 2D model over a volume: slabs of one window position
        mean = _slab_windows(predict, volume, patch, steps, factors[1], size, progress)
    else:
        mean = _column_windows(predict, volume, patch, steps, factors, size, progress)
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
