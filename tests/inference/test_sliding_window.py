import itertools

import numpy as np
import pytest

from keras_liver.errors import ConfigError, GeometryError
from keras_liver.inference import gaussian_importance, postprocess_liver_tumour, sliding_window_predict, window_starts


@pytest.mark.parametrize("shape, patch, overlap", [((13, 29, 31), (5, 8, 8), 0.5), ((7, 9, 11), (8, 16, 4), 0.25),
                                                   ((21, 17), (6, 5), 0.6)])
def test_identity_and_plus_one_are_exact(rng, shape, patch, overlap):
    volume = rng.normal(size=shape).astype(np.float32)
    same = sliding_window_predict(lambda b: b, volume, patch, overlap=overlap, batch_size=3)
    np.testing.assert_array_equal(same[..., 0], volume)
    plus = sliding_window_predict(lambda b: b + 1, volume, patch, overlap=overlap, flip_tta=True)
    np.testing.assert_array_equal(plus[..., 0], volume + 1)


def test_windows_cover_everything_in_batches():
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(11, 4, 2) == [0, 2, 4, 6, 7]
    assert window_starts(3, 4, 2) == [0]
    w = gaussian_importance((5, 7))
    assert w[2, 3] == 1.0 and w.min() >= 1e-6 and w[0, 0] < w[2, 3]
    np.testing.assert_allclose(w, np.outer(w[:, 3], w[2]))  # separable: first axis times the rest
    w3 = gaussian_importance((1, 9, 8))  # a 2D model's windows: the in-plane product, clipped at 1e-3
    assert w3.shape == (1, 9, 8) and w3.min() == 1e-3 and w3.max() == 1.0
    # a predictor that counts its calls: 4 x 4 windows cover 9 x 9, batched by 4, with k = 2 output channels
    calls = []

    def counting(batch):
        calls.append(len(batch))
        return np.ones(batch.shape[:-1] + (2,))

    out = sliding_window_predict(counting, np.zeros((9, 9)), (4, 4), overlap=0.5, batch_size=4)
    assert out.shape == (9, 9, 2) and np.all(out == 1.0)
    assert sum(calls) == 16 and max(calls) == 4


def test_flip_tta_undoes_the_flip():
    volume = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)

    def right_half_marker(batch):   # depends on orientation: marks the right half of each window
        out = np.zeros(batch.shape, np.float32)
        out[:, :, batch.shape[2] // 2:] = 1.0
        return out

    out = sliding_window_predict(right_half_marker, volume, (6, 8), flip_tta=True)
    # plain + flipped-then-unflipped along y (same) + along x (left half): mean over 3 predictions
    np.testing.assert_allclose(out[0, :, 0], [1 / 3] * 4 + [2 / 3] * 4)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="overlap"):
        sliding_window_predict(lambda b: b, np.zeros((4, 4)), (2, 2), overlap=1.0)
    with pytest.raises(GeometryError, match="patch"):
        sliding_window_predict(lambda b: b, np.zeros((4, 4, 4, 4, 1)), (2, 2))


def test_postprocess_keeps_one_liver_and_real_lesions():
    labels = np.zeros((10, 20, 20), np.uint8)
    labels[2:8, 2:12, 2:12] = 1
    labels[4:6, 4:7, 4:7] = 2           # a lesion of 18 voxels inside the liver
    labels[5, 9, 9] = 2                 # a 1-voxel speck inside the liver
    labels[2:4, 15:18, 15:18] = 2       # a "tumour" outside the liver
    labels[7:9, 16:19, 1:3] = 1         # a second, smaller liver blob
    out = postprocess_liver_tumour(labels, (1.0, 1.0, 1.0), min_lesion_mm3=5.0)
    assert out[2:4, 15:18, 15:18].max() == 0 and out[7:9, 16:19, 1:3].max() == 0
    assert (out[4:6, 4:7, 4:7] == 2).all() and out[5, 9, 9] == 1


def test_a_failing_predictor_stops_the_window_loop_with_its_error():
    calls = []

    def failing(batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("model server went away")
        return batch

    with pytest.raises(RuntimeError, match="went away"):
        sliding_window_predict(failing, np.zeros((9, 9), np.float32), (4, 4), overlap=0.5, batch_size=2)
    assert len(calls) == 3  # no call after the failure


def test_blending_matches_a_float64_weighted_mean(rng):
    volume = rng.normal(size=(11, 13, 9)).astype(np.float32)

    def noisy(batch):  # windows disagree: each window offset by its own mean
        return batch + batch.mean(axis=tuple(range(1, batch.ndim)), keepdims=True)

    out = sliding_window_predict(noisy, volume, (5, 6, 4), overlap=0.5, batch_size=3)[..., 0]
    # oracle: the weighted mean in float64, window by window
    w = gaussian_importance((5, 6, 4))
    total, weight = np.zeros(volume.shape), np.zeros(volume.shape)
    for st in itertools.product(*[window_starts(s, p, max(1, round(p * 0.5))) for s, p in zip(volume.shape, (5, 6, 4))]):
        region = tuple(slice(s, s + p) for s, p in zip(st, (5, 6, 4)))
        win = volume[region]
        total[region] += w * (win + win.mean())
        weight[region] += w
    np.testing.assert_allclose(out, total / weight, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, patch", [((23, 17, 19), (8, 6, 7)), ((9, 20, 11), (7, 8, 8)), ((15, 14), (6, 5)),
                                          ((6, 21, 13), (6, 8, 5)), ((30,), (7,))])
def test_the_blend_is_the_same_bit_for_bit_whatever_the_batch_and_is_the_weighted_mean(rng, shape, patch):
    volume = rng.normal(size=shape).astype(np.float32)

    def noisy(b):  # windows disagree everywhere: each offset by its own mean
        return b + b.mean(axis=tuple(range(1, b.ndim)), keepdims=True)

    # batches end mid-column or hold several columns; the blending threads meet them at different times
    outs = [sliding_window_predict(noisy, volume, patch, overlap=0.5, batch_size=n) for n in (1, 2, 3, 7)]
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    w = gaussian_importance(patch)  # oracle: the weighted mean in float64, window by window
    total, weight = np.zeros(shape), np.zeros(shape)
    for st in itertools.product(*[window_starts(s, p, max(1, round(p * 0.5))) for s, p in zip(shape, patch)]):
        region = tuple(slice(s, s + p) for s, p in zip(st, patch))
        total[region] += w * (volume[region] + volume[region].mean())
        weight[region] += w
    np.testing.assert_allclose(outs[0][..., 0], total / weight, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, patch, overlap", [((20, 17), (6, 5), 0.5), ((13, 11, 16), (4, 5, 6), 0.6),
                                                   ((9,), (4,), 0.5), ((12, 10), (12, 4), 0.25)])
def test_a_window_is_first_to_reach_exactly_its_far_corner(shape, patch, overlap):
    from keras_liver.inference.sliding_window import first_reached, slice_ratios

    steps = [max(1, int(round(p * (1 - overlap)))) for p in patch]
    positions, ratios = slice_ratios(shape, patch, steps, gaussian_importance(patch))
    for index, ratio in enumerate(ratios):
        corner = first_reached(positions, patch, index)
        inside = np.zeros(patch, bool)
        inside[tuple(slice(a, p) for a, p in zip(corner, patch))] = True
        assert np.all(ratio[..., 0][inside] == 1.0) and np.all(ratio[..., 0][~inside] < 1.0)


@pytest.mark.parametrize("shape, patch, batch", [((7, 29, 31), (1, 8, 8), 3), ((5, 6, 9), (1, 8, 4), 2)])
def test_depth_one_windows_are_exact_and_the_weighted_mean_slice_by_slice(rng, shape, patch, batch):
    volume = rng.normal(size=shape).astype(np.float32)
    same = sliding_window_predict(lambda b: b, volume, patch, overlap=0.5, batch_size=batch)
    np.testing.assert_array_equal(same[..., 0], volume)
    plus = sliding_window_predict(lambda b: b + 1, volume, patch, overlap=0.5, batch_size=batch, flip_tta=True)
    np.testing.assert_array_equal(plus[..., 0], volume + 1)

    def noisy(b):  # windows disagree: each window offset by its own mean
        return b + b.mean(axis=tuple(range(1, b.ndim)), keepdims=True)

    slab = sliding_window_predict(noisy, volume, patch, overlap=0.5, batch_size=batch, pad_value=0.0)
    # oracle: each slice's windows, the in-plane Gaussian, the weighted mean in float64 (padded to the window)
    w = gaussian_importance(patch)[0]
    grid = tuple(max(s, p) for s, p in zip(shape[1:], patch[1:]))
    starts = list(itertools.product(*[window_starts(s, p, max(1, round(p * 0.5))) for s, p in zip(grid, patch[1:])]))
    for z in range(shape[0]):
        plane = np.zeros(grid)
        plane[:shape[1], :shape[2]] = volume[z]
        total, weight = np.zeros(grid), np.zeros(grid)
        for y, x in starts:
            win = plane[y:y + patch[1], x:x + patch[2]]
            total[y:y + patch[1], x:x + patch[2]] += w * (win + win.mean())
            weight[y:y + patch[1], x:x + patch[2]] += w
        np.testing.assert_allclose(slab[z, ..., 0], (total / weight)[:shape[1], :shape[2]], rtol=1e-5, atol=1e-5)


def test_depth_one_batches_hold_one_position_in_consecutive_slices_and_skip_flat_flips():
    seen = []

    def recording(batch):
        seen.append((batch.shape, float(batch[0, 0, 0, 0, 0]), float(batch[-1, 0, 0, 0, 0])))
        return batch

    volume = np.arange(5, dtype=np.float32)[:, None, None] * 100 + np.zeros((5, 9, 9), np.float32)
    sliding_window_predict(recording, volume, (1, 4, 4), overlap=0.5, batch_size=2)
    assert len(seen) == 3 * 16  # slices 0-1, 2-3, 4: each at 4 x 4 in-plane positions
    assert seen[0] == ((2, 1, 4, 4, 1), 0.0, 100.0) and seen[-1] == ((1, 1, 4, 4, 1), 400.0, 400.0)
    seen.clear()
    sliding_window_predict(recording, volume, (1, 4, 4), overlap=0.5, batch_size=5, flip_tta=True)
    assert len(seen) == 16 * 3  # plain, mirrored in y, mirrored in x: never along the depth of one voxel


def test_scratch_arrays_are_aligned_disjoint_and_their_block_is_reused_but_never_shared():
    from keras_liver.inference import sliding_window as sw

    pool = sw._ScratchPool()
    shapes = [(3, 5, 2), (7,), (1, 4, 3, 1), (2, 5, 2)]
    block, arrays = pool.take(shapes, np.float64)
    assert [a.shape for a in arrays] == shapes and all(a.dtype == np.float64 for a in arrays)
    assert all(a.ctypes.data % 64 == 0 for a in arrays)
    for value, a in enumerate(arrays):
        a[...] = value
    for value, a in enumerate(arrays):  # a later array written over an earlier one would show here
        assert np.all(a == value)
    other, _ = pool.take([(5,)], np.float32)  # taken while the first is out: a block of its own
    assert other is not block
    pool.give(block, other)
    again, (small,) = pool.take([(4,)], np.float32)
    assert again is other  # the smallest free block that fits
    bigger, _ = pool.take([(4096,)], np.float32)
    assert bigger is not block and bigger.nbytes >= 4096 * 4
    pool.give(*[np.empty(n, np.uint8) for n in range(1, 10)])
    assert len(pool._free) == sw.SCRATCH_BLOCKS and min(b.nbytes for b in pool._free) >= 6


@pytest.mark.parametrize("patch,batch", [((3, 4, 5), 1), ((1, 4, 5), 1), ((3, 4, 5), 2)])
def test_the_volume_is_never_written_even_when_the_predictor_returns_its_input(patch, batch):
    from keras_liver.inference.sliding_window import sliding_window_predict

    volume = np.random.default_rng(5).normal(size=(7, 9, 11)).astype(np.float32)
    before = volume.copy()
    out = sliding_window_predict(lambda b: b, volume, patch, overlap=0.5, batch_size=batch)
    assert np.array_equal(volume, before) and np.array_equal(out[..., 0], before)
    assert not np.shares_memory(out, volume)
