"""Post-processing of liver/tumour label maps."""

import numpy as np
from scipy import ndimage

from keras_liver.preprocess.roi import largest_component


def postprocess_liver_tumour(labels, spacing=(1.0, 1.0, 1.0), *, min_lesion_mm3: float = 10.0,
                             keep_largest_liver: bool = True) -> np.ndarray:
    """Clean a 0/1/2 label map: one liver, tumours only inside it, no tiny lesions.

    1. Keep the largest 3D connected component of liver-or-tumour (26-connectivity).
    2. Tumour voxels outside that component are removed with it.
    3. Tumour components smaller than ``min_lesion_mm3`` become liver.

    Args:
        labels: ``(z, y, x)`` integer labels.
        spacing: Voxel spacing in mm.
        min_lesion_mm3: Smallest lesion kept (mm^3).
        keep_largest_liver: Step 1 on or off.

    Returns:
        uint8 labels.
    """
    labels = np.asarray(labels).astype(np.uint8)
    out = labels.copy()
    structure = ndimage.generate_binary_structure(labels.ndim, labels.ndim)
    organ = labels > 0
    if keep_largest_liver and organ.any():
        out[~largest_component(organ, connectivity=labels.ndim)] = 0
    min_voxels = float(min_lesion_mm3) / float(np.prod(spacing))
    comps, n = ndimage.label(out == 2, structure)
    if n:
        sizes = np.bincount(comps.ravel())
        small = np.flatnonzero(sizes < min_voxels)
        out[np.isin(comps, small[small > 0])] = 1
    return out


def lesion_labels(probabilities, threshold: float | None = None, *, lesion_class: int = 2) -> np.ndarray:
    """Labels from class probabilities, with an optional lower bar for the lesion class.

    The arg-max labels a voxel lesion only when its lesion probability beats
    every other class. With ``threshold``, a foreground voxel (background not the
    arg-max) whose lesion probability reaches ``threshold`` is lesion too: the
    low side of a hysteresis whose high side is `drop_uncertain_lesions` (a
    component must still peak at its floor), so a lesion found at its core
    grows to its edges instead of stopping where the liver class wins.

    Args:
        probabilities: ``(..., classes)`` channels-last probabilities.
        threshold: Lesion probability that makes a foreground voxel lesion; ``None``: arg-max only.
        lesion_class: Index of the lesion class.

    Returns:
        uint8 labels.
    """
    probabilities = np.asarray(probabilities)
    labels = probabilities.argmax(-1).astype(np.uint8)
    if threshold is not None and probabilities.shape[-1] > lesion_class:
        grow = (labels > 0) & (probabilities[..., lesion_class] >= float(threshold))
        labels[grow] = lesion_class
    return labels


def drop_uncertain_lesions(labels, tumour_probability, min_probability: float, *, lesion_label: int = 2,
                           replacement: int = 1) -> np.ndarray:
    """Lesion components whose highest tumour probability stays under ``min_probability`` become liver.

    A lesion the model is sure of has a core near probability 1; a false
    call on a vessel or a noise blob usually peaks lower. The test is per
    component (26-connectivity), so a kept lesion keeps its whole extent.

    Args:
        labels: ``(z, y, x)`` label map (the arg-max of the probabilities).
        tumour_probability: The tumour probability on the same grid.
        min_probability: Peak probability a component needs to stay a lesion.
        lesion_label: The lesion value.
        replacement: What a dropped component becomes (liver).

    Returns:
        uint8 labels.
    """
    labels = np.asarray(labels).astype(np.uint8)
    structure = ndimage.generate_binary_structure(labels.ndim, labels.ndim)
    comps, n = ndimage.label(labels == lesion_label, structure)
    if not n:
        return labels
    peaks = np.asarray(ndimage.maximum(np.asarray(tumour_probability), comps, np.arange(1, n + 1)))
    weak = np.flatnonzero(peaks < float(min_probability)) + 1
    out = labels.copy()
    out[np.isin(comps, weak)] = replacement
    return out


def split_lesions(labels, tumour_probability, seed_probability: float, *, lesion_label: int = 2,
                  min_seed_voxels: int = 2) -> np.ndarray:
    """Lesion ids with touching lesions split where the tumour probability has separate cores.

    Connected components merge two lesions a voxel apart once the low side of the
    hysteresis (`lesion_labels`' threshold) fills the gap between them; the merged
    component is then measured and classified as one lesion. Here each component's
    seeds are the connected parts of it where the tumour probability reaches
    ``seed_probability`` (the high side); a component with two or more seeds of at
    least ``min_seed_voxels`` voxels is split by a watershed of the probability from
    those seeds (each voxel goes to the core it is joined to over the highest
    probability); a component with one seed, or none, stays whole.

    Args:
        labels: ``(z, y, x)`` label map.
        tumour_probability: The tumour probability on the same grid.
        seed_probability: Probability a lesion core reaches.
        lesion_label: The lesion value.
        min_seed_voxels: Smallest core that counts as a lesion of its own.

    Returns:
        uint16 ids (0 none), ordered by volume (1 = largest), for `lesion_table`'s ``instance``.
    """
    from skimage.segmentation import watershed

    from keras_liver.inference.lesion_table import ids_by_volume

    labels = np.asarray(labels)
    probability = np.asarray(tumour_probability, np.float32)
    structure = ndimage.generate_binary_structure(labels.ndim, labels.ndim)
    comps, _ = ndimage.label(labels == lesion_label, structure)
    parts = np.zeros(labels.shape, np.int64)
    next_id = 1
    for index, box in enumerate(ndimage.find_objects(comps), start=1):
        if box is None:
            continue
        mask = comps[box] == index
        seeds, k = ndimage.label(mask & (probability[box] >= float(seed_probability)), structure)
        if k > 1:
            sizes = np.bincount(seeds.ravel(), minlength=k + 1)
            small = np.flatnonzero(sizes < int(min_seed_voxels))
            seeds[np.isin(seeds, small[small > 0])] = 0
            seeds, k = ndimage.label(seeds > 0, structure)
        if k > 1:
            split = watershed(-probability[box], seeds, mask=mask, connectivity=structure)
            parts[box][mask] = split[mask] + next_id - 1
            next_id += k
        else:
            parts[box][mask] = next_id
            next_id += 1
    return ids_by_volume(parts, next_id - 1)


def lesion_shell_shares(labels, ids, *, shell_voxels: int = 2) -> dict:
    """For each lesion id, the share of its shell that ``labels`` marks liver or lesion.

    The shell is the voxels within ``shell_voxels`` 6-connected steps of the lesion and
    not in it, clipped by the volume's edge; a lesion inside the liver is wrapped in
    liver (share near 1), fluid beside the liver is not.

    Args:
        labels: ``(z, y, x)`` label map (0 background).
        ids: ``(z, y, x)`` integer lesion ids (0 none), e.g. connected components.
        shell_voxels: Shell thickness in voxels (>= 1).

    Returns:
        ``{id: share}`` for every id present (``0.0`` for a lesion with no shell: it fills the volume).
    """
    labels, ids = np.asarray(labels), np.asarray(ids)
    if int(shell_voxels) < 1:
        raise ValueError(f"shell_voxels: at least 1, got {shell_voxels!r}")
    step, out = int(shell_voxels), {}
    for index, box in enumerate(ndimage.find_objects(ids), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(s.start - step, 0), min(s.stop + step, size)) for s, size in zip(box, labels.shape))
        inside = ids[grown] == index
        shell = ndimage.binary_dilation(inside, iterations=step) & ~inside
        out[index] = float((labels[grown][shell] > 0).mean()) if shell.any() else 0.0
    return out


def drop_lesions_outside_liver(labels, min_shell_labelled: float, *, shell_voxels: int = 2, lesion_label: int = 2,
                               replacement: int = 0) -> np.ndarray:
    """Lesion components not wrapped in liver become background.

    A lesion inside the liver is surrounded by liver (or by other lesion); fluid next
    to the liver that the lesion stage mistakes for a cyst (gallbladder, bowel) is
    not. For each lesion component (26-connectivity) the share of its shell labelled
    liver or lesion is measured (`lesion_shell_shares`); under ``min_shell_labelled``,
    the component becomes ``replacement``.

    Args:
        labels: ``(z, y, x)`` label map (0 background, 1 liver, ``lesion_label`` lesion).
        min_shell_labelled: Share of the shell in [0, 1] that must be labelled.
        shell_voxels: Shell thickness in voxels (>= 1).
        lesion_label: The lesion value.
        replacement: What a dropped component becomes (background).

    Returns:
        uint8 labels.
    """
    labels = np.asarray(labels).astype(np.uint8)
    if not 0.0 <= float(min_shell_labelled) <= 1.0:
        raise ValueError(f"min_shell_labelled: a share in [0, 1], got {min_shell_labelled!r}")
    comps, _ = ndimage.label(labels == lesion_label, ndimage.generate_binary_structure(labels.ndim, labels.ndim))
    shares = lesion_shell_shares(labels, comps, shell_voxels=shell_voxels)
    weak = [index for index, share in shares.items() if share < float(min_shell_labelled)]
    out = labels.copy()
    out[np.isin(comps, weak)] = replacement
    return out
