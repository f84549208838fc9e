"""tf.data pipelines: patches for CT segmentation, whole series for DCE models."""

import logging
import pathlib

import numpy as np
import tensorflow as tf

from keras_liver.data.augment import augment_patch
from keras_liver.data.patch_sampler import split_tissue
from keras_liver.errors import ConfigError
from keras_liver.io.case_store import CaseStore

logger = logging.getLogger(__name__)


def _seed(seed, index):
    return tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])


def load_store(store_path, case_ids=None, tissue: bool = False):
    """All (or the named) cases of a case store as ``(ids, images, labels)`` arrays in memory.

    With ``tissue`` a fourth item: the cases' ``"tissue"`` maps (`build_ct_cache`).
    """
    with CaseStore(store_path) as store:
        ids = [c for c in store.case_ids() if case_ids is None or c in {str(i) for i in case_ids}]
        images = [store.read(c, "image").array for c in ids]
        labels = [store.read(c, "label").array for c in ids]
        if tissue:
            return ids, images, labels, [store.read(c, "tissue").array for c in ids]
    return ids, images, labels


def patch_dataset(sampler, batch_size: int, *, seed: int = 0, augment: bool = True, start: int = 0,
                  count: int | None = None, output_keys=("probabilities",), augment_options=None,
                  hog_orientations: int = 0, hog_window: str = "abdomen", shard=(0, 1)) -> tf.data.Dataset:
    """Batches of ``({"image"[, "hog"]}, {key: label for key in output_keys})``.

    A 2.5D sampler (``context_slices``) gives images of ``2k + 1`` channels,
    all in HU: intensity augmentation treats them alike, and the HOG map is
    of the centre slice. A sampler over DCE series (images with a leading time axis) gives
    ``({"sequence": (t, *patch, 1)}, ...)`` instead, augmented with
    `augment_series` (in-plane flips, noise) rather than `augment_patch`.

    Element ``i`` (counting from ``start``) is ``sampler(i)`` augmented with
    the stateless seed ``(seed, i)``: the stream is the same for a given seed
    however many parallel calls run. ``count=None`` streams without end
    (use ``steps_per_epoch``).

    Args:
        sampler: A `PatchSampler`.
        batch_size: Patches per batch.
        seed: Augmentation seed.
        augment: Apply `augment_patch`.
        start: Index of the first element.
        count: Number of elements, or ``None`` for an endless stream.
        output_keys: Model output names that get the label (every head for
            deep supervision).
        augment_options: Extra `augment_patch` arguments.
        hog_orientations: >0 adds a ``"hog"`` input computed after augmentation.
        hog_window: CT window for that HOG map.
        shard: ``(index, count)``: keep elements ``start + index``, ``+ count``, ...
            (one input pipeline per worker, each seeing different patches).
    """
    patch = sampler.patch[1:] if sampler.two_d else sampler.patch
    spatial_dims = 2 if sampler.two_d else 3
    lead = tuple(getattr(sampler, "lead", ()))
    channels, centre = int(getattr(sampler, "channels", 1)), int(getattr(sampler, "context", 0))
    if lead and hog_orientations:
        raise ConfigError("patch_dataset: series patches take no HOG input")
    first, stride = start + int(shard[0]), int(shard[1])
    indices = tf.data.Dataset.range(first, start + count, stride) if count is not None else \
        tf.data.Dataset.range(first, 2 ** 62, stride)

    carries_tissue = getattr(sampler, "tissues", None) is not None

    def load(i):
        image, label = tf.numpy_function(sampler, [i], [tf.float32, tf.uint8], stateful=False)
        image.set_shape(lead + patch + (channels,))
        label.set_shape(patch)
        label, tissue = split_tissue(label) if carries_tissue else (label, tf.zeros_like(label))
        return i, image, label, tissue

    def aug(i, image, label, tissue):
        if augment and lead:
            return augment_series(image, label, _seed(seed, i))
        if augment:
            options = dict(augment_options or {})
            if carries_tissue:
                options["tissue"] = tissue
            image, label = augment_patch(image, label, _seed(seed, i), spatial_dims=spatial_dims,
                                         hu_channels=channels, **options)
        return image, label

    def pack(image, label):
        inputs = {"sequence" if lead else "image": image}
        if hog_orientations:
            from keras_liver.features import hog_map

            def energy(x):
                return hog_map(x[..., centre], orientations=hog_orientations, window=hog_window, workers=1)

            hog = tf.numpy_function(energy, [image], tf.float32, stateful=False)
            hog.set_shape(patch + (hog_orientations,))
            inputs["hog"] = hog
        return inputs, {key: label for key in output_keys}

    ds = indices.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(aug, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(pack, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(int(batch_size), drop_remainder=count is None).prefetch(tf.data.AUTOTUNE)


def jitter_lesion_mask(masks, seed, p: float = 0.5):
    """A classifier's ``(z, y, x, 2)`` masks with the lesion channel grown or shrunk by one voxel in plane.

    With probability ``p`` (half each way) the lesion mask (channel 0) is dilated or eroded
    by a 3 x 3 in-plane neighbourhood, as a predicted lesion's mask is a little larger or
    smaller than the truth it was trained on; an erosion that would empty it leaves it as
    it is. The liver channel is not touched.
    """
    lesion = masks[..., :1]
    grown = tf.nn.max_pool2d(lesion, 3, 1, "SAME")  # depth is the batch: in-plane only
    shrunk = -tf.nn.max_pool2d(-lesion, 3, 1, "SAME")
    shrunk = tf.cond(tf.reduce_sum(shrunk) > 0, lambda: shrunk, lambda: lesion)
    draw = tf.random.stateless_uniform((), tf.random.experimental.stateless_fold_in(seed, 11))
    lesion = tf.where(draw < p / 2, grown, tf.where(draw < p, shrunk, lesion))
    return tf.concat([lesion, masks[..., 1:]], axis=-1)


def augment_series(series, label, seed, masks=None):
    """In-plane flips of a ``(t, z, y, x, 1)`` or ``(t, y, x, 1)`` series (and its ``(z, y, x)`` or
    ``(y, x)`` label map, if given) and Gaussian noise of up to 3 % of the first frame's standard
    deviation, from the stateless ``seed``.

    Args:
        series: The series.
        label: Its label map, or ``None``.
        seed: Stateless seed ``(2,)``.
        masks: Optional ``(z, y, x, m)`` masks (a lesion classifier's ``masks`` input),
            flipped with the series.

    Returns:
        ``(series, label)``, or ``(series, label, masks)`` when ``masks`` is given; ``label``
        is returned unchanged when ``None``.
    """
    for k, axis in enumerate((-2, -3)):  # x then y, counted from the channel axis
        flip = tf.random.stateless_uniform((), tf.random.experimental.stateless_fold_in(seed, k)) < 0.5
        series = tf.cond(flip, lambda a=axis: tf.reverse(series, [a]), lambda: series)
        if label is not None:
            label = tf.cond(flip, lambda a=axis + 1: tf.reverse(label, [a]), lambda: label)
        if masks is not None:
            masks = tf.cond(flip, lambda a=axis: tf.reverse(masks, [a]), lambda: masks)
    scale = tf.math.reduce_std(series[0]) * 0.03
    noise = tf.random.stateless_normal(tf.shape(series), tf.random.experimental.stateless_fold_in(seed, 9))
    series = series + noise * scale
    return (series, label) if masks is None else (series, label, masks)


def load_dce_folder(folder):
    """A DCE phantom folder (``keras-liver phantoms dce``) in memory.

    Returns:
        ``(case_ids, series (n, t, z, y, x) float32, labels (n, z, y, x) uint8,
        class_index (n,), class_names)``.
    """
    from keras_liver.io import load_volume
    from keras_liver.phantoms import LESION_CLASSES

    from keras_liver.data.dce_cases import read_cases_table

    folder = pathlib.Path(folder)
    table = folder / "cases.csv"
    rows = read_cases_table(folder)
    names = list(LESION_CLASSES)
    ids, series, labels, classes = [], [], [], []
    for row in rows:
        n = row["case"]
        ids.append(n)
        series.append(load_volume(folder / f"dce-{n}.nii.gz").array.astype(np.float32))
        labels.append(load_volume(folder / f"dce-seg-{n}.nii.gz").array.astype(np.uint8))
        if row["lesion_class"] not in names:
            raise ConfigError(f"{table}: unknown lesion class {row['lesion_class']!r} for case {n}")
        classes.append(names.index(row["lesion_class"]))
    shapes = {s.shape for s in series}
    if len(shapes) != 1:
        raise ConfigError(f"{folder}: series have different shapes {sorted(shapes)}; resample them first")
    return ids, np.stack(series), np.stack(labels), np.asarray(classes, np.int32), names


def dce_dataset(series, targets, batch_size: int, *, seed: int = 0, shuffle: bool = True, augment: bool = True,
                epochs_hint: int = 1000, target_keys=("probabilities",), curves=None, masks=None) -> tf.data.Dataset:
    """Batches of ``({"sequence": (t, z, y, x, 1)}, {key: target for key in target_keys})`` from in-memory series.

    ``targets`` are class indices (classification) or label maps
    (segmentation). Augmentation: in-plane flips of series and label maps,
    and Gaussian noise of up to 3 % of the series' baseline standard
    deviation, all from stateless seeds ``(seed, element)``. Shuffling is
    seeded, so the order is reproducible. With ``curves`` (``(n, t, f)``)
    the input is ``{"curves": ...}`` instead (the LSTM baseline). With ``masks``
    (``(n, z, y, x, m)``, `load_lesion_crops`) the input also has ``"masks"``, flipped with
    the series and, in training, grown or shrunk by a voxel half the time
    (`jitter_lesion_mask`: a predicted lesion's mask is never exactly the truth).
    """
    series = np.asarray(series, np.float32)
    targets = np.asarray(targets)
    n = len(series)
    segmentation = targets.ndim > 1
    index = tf.data.Dataset.range(n)
    if shuffle:
        index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat(epochs_hint)
    index = index.enumerate()
    series_t = tf.constant(series[..., None])
    targets_t = tf.constant(targets)
    curves_t = None if curves is None else tf.constant(np.asarray(curves, np.float32))
    masks_t = None if masks is None else tf.constant(np.asarray(masks, np.float32))

    def make(element, i):
        x, y = tf.gather(series_t, i), tf.gather(targets_t, i)
        m = None if masks_t is None else tf.gather(masks_t, i)
        s = _seed(seed, element)
        if augment and curves_t is None:
            x, label, *rest = augment_series(x, y if segmentation else None, s, masks=m)
            y = label if segmentation else y
            m = jitter_lesion_mask(rest[0], s) if rest else m
        inputs = {"sequence": x} if curves_t is None else {"curves": tf.gather(curves_t, i)}
        if m is not None:
            inputs["masks"] = m
        return inputs, {key: y for key in target_keys}

    return index.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(int(batch_size)).prefetch(
        tf.data.AUTOTUNE)
