"""DCE series prepared for a cascade stage: normalised, resampled, cropped to the liver box, one at a time."""

import csv
import logging
import pathlib

import numpy as np

from keras_liver.errors import ConfigError, MissingPathError

logger = logging.getLogger(__name__)


def baseline_normalize(series) -> np.ndarray:
    """``(series - mean) / std`` with the statistics of the whole first (pre-contrast) frame.

    The same numbers scale every frame, so enhancement is kept. Computed on the whole
    field of view before any crop, so a patch and the whole liver box of one series are
    scaled alike (a per-patch normalisation, `SeriesNormalization` on a patch, is not).

    Args:
        series: ``(t, z, y, x)`` raw signal.

    Returns:
        float32 array of the same shape.
    """
    series = np.asarray(series, np.float32)
    if series.ndim != 4:
        raise ConfigError(f"series: a (t, z, y, x) DCE series, got shape {series.shape}")
    base = series[0]
    return (series - float(base.mean())) / (float(base.std()) + 1e-6)


def _aligned_to_label(series, sidecar):
    """`align_frames` with the shifts taken relative to the labelled frame, when ``sidecar`` names it."""
    import json

    from keras_liver.preprocess import align_frames, frame_shifts

    shifts = frame_shifts(series)
    reference = None
    if sidecar.is_file():
        reference = (json.loads(sidecar.read_text()).get("parameters") or {}).get("reference_frame")
    if reference is not None:
        if not 0 <= int(reference) < len(series):
            raise ConfigError(f"{sidecar}: reference_frame {reference} is not one of the {len(series)} frames")
        shifts = shifts - shifts[int(reference)]
    return align_frames(series, shifts)[0]


def read_cases_table(folder) -> list[dict]:
    """The rows of a DCE folder's ``cases.csv`` (`MissingPathError` when it has none)."""
    table = pathlib.Path(folder) / "cases.csv"
    if not table.is_file():
        raise MissingPathError(f"{table}: not a DCE folder (no cases.csv)")
    with open(table, newline="") as fh:
        return list(csv.DictReader(fh))


def load_dce_cases(folder, *, target_spacing=None, crop_margin_mm: float | None = None, roi_masks=None,
                   normalize: bool = True, ids=None, transform=None, index_lesion_only: bool = False,
                   register_frames: bool = False):
    """The series of a DCE phantom folder as one stage of a cascade trains on them.

    Each series is read, normalised (`baseline_normalize`), cropped to its liver's box plus
    ``crop_margin_mm`` (when given) and resampled to ``target_spacing`` (when given), one at a
    time, so only the prepared arrays stay in memory (500 whole series of 8 x 32 x 128 x 128
    would need 8.4 GB; their liver boxes need a quarter of that).

    Args:
        folder: Folder written by ``keras-liver phantoms dce`` (``cases.csv``, ``dce-N.nii.gz``,
            ``dce-seg-N.nii.gz``).
        target_spacing: ``(z, y, x)`` mm, or ``None`` for each series' own grid.
        crop_margin_mm: Crop to the liver (labels > 0) plus this margin, or ``None``.
        roi_masks: Optional ``callable(case_id, series Volume) -> mask or None``: the region
            to crop to instead of the true liver (a stage-1 model's prediction, for validation).
        normalize: Apply `baseline_normalize` first.
        ids: Only these case ids (default all rows of ``cases.csv``).
        transform: Optional ``callable(series, label) -> (series, label)`` on the prepared
            arrays of each case (for example `lesion_crop`), applied before the next is read.
        index_lesion_only: The extra lesions of a series (ids above 1 in its lesion-id map
            ``dce-lesions-N.nii.gz``) become liver, so the label's lesion is the index lesion,
            the one ``cases.csv`` gives the class of (a series-level classifier's truth).
        register_frames: Undo each frame's breathing shift first (`align_frames`), to the frame
            the labels were drawn on when the sidecar ``dce-N.json`` records it
            (``parameters.reference_frame``), else to the series' mean position.

    Returns:
        ``{"ids", "series": [(t, z, y, x) float32], "labels": [(z, y, x) uint8],
        "classes": (n,) int32, "class_names", "spacings": [(z, y, x)]}`` (spacings of the
        source series, for the plan's fingerprint).
    """
    from keras_liver.io import load_volume
    from keras_liver.phantoms import LESION_CLASSES
    from keras_liver.preprocess import SpatialPreprocessor

    folder = pathlib.Path(folder)
    table = folder / "cases.csv"
    rows = read_cases_table(folder)
    if ids is not None:
        wanted = {str(i) for i in ids}
        rows = [r for r in rows if r["case"] in wanted]
    names = list(LESION_CLASSES)
    prep = SpatialPreprocessor(target_spacing, crop_margin_mm=crop_margin_mm or 0.0)
    out = {"ids": [], "series": [], "labels": [], "classes": [], "class_names": names, "spacings": []}
    for row in rows:
        n = row["case"]
        if row["lesion_class"] not in names:
            raise ConfigError(f"{table}: unknown lesion class {row['lesion_class']!r} for case {n}")
        series = load_volume(folder / f"dce-{n}.nii.gz")
        label = load_volume(folder / f"dce-seg-{n}.nii.gz")
        if label.shape != series.spatial_shape:
            raise ConfigError(f"{folder}: case {n}: label {label.shape} does not match the series {series.shape}")
        ids_path = folder / f"dce-lesions-{n}.nii.gz"
        if index_lesion_only and ids_path.is_file():
            extra = load_volume(ids_path).array > 1
            label = label.replace(np.where(extra & (label.array == 2), 1, label.array).astype(np.uint8))
        if register_frames:
            series = series.replace(_aligned_to_label(series.array, folder / f"dce-{n}.json"))
        if normalize:
            series = series.replace(baseline_normalize(series.array))
        mask = None
        if crop_margin_mm is not None:
            mask = roi_masks(n, series) if roi_masks is not None else None
            mask = label.array > 0 if mask is None else mask
            if not np.any(mask):
                raise ConfigError(f"{folder}: case {n} has no liver voxel to crop to")
        image, lab, _ = prep(series, label, crop_mask=mask)
        image, lab = image.array.astype(np.float32), lab.array.astype(np.uint8)
        if transform is not None:
            image, lab = transform(image, lab)
        out["ids"].append(n)
        out["series"].append(np.asarray(image, np.float32))
        out["labels"].append(np.asarray(lab, np.uint8))
        out["classes"].append(names.index(row["lesion_class"]))
        out["spacings"].append(tuple(series.spacing))
    if not out["ids"]:
        raise ConfigError(f"{folder}: no series to load")
    out["classes"] = np.asarray(out["classes"], np.int32)
    logger.info("loaded %d DCE series from %s (%.2f GB prepared)", len(out["ids"]), folder,
                sum(s.nbytes for s in out["series"]) / 1e9)
    return out


def load_lesion_crops(folder, size, *, ids=None):
    """One ``(t, *size)`` crop per lesion of every series of a DCE phantom folder, with that lesion's class.

    A series with several lesions gives several samples, each centred on its lesion (the
    lesion-id map ``dce-lesions-N.nii.gz``) and labelled with that lesion's own class (the
    sidecar ``dce-N.json``), as a pipeline crops and classifies each predicted lesion.

    Args:
        folder: A ``keras-liver phantoms dce`` folder.
        size: The crop ``(z, y, x)``.
        ids: Only these case ids.

    Returns:
        ``{"cases": case id per sample, "lesion_ids", "series": (n, t, *size) float32,
        "labels": (n, *size) uint8, "classes": (n,) int32, "class_names", "case_ids",
        "case_classes", "diameters_mm"}`` (``case_ids`` and ``case_classes``: one entry per series,
        its index lesion's class, for a split by series stratified by class; ``diameters_mm``: per
        sample, the sidecar's lesion diameter, NaN where it has none; ``masks``: per sample
        ``(*size, 2)`` uint8, that lesion's own voxels and the liver parenchyma's, the
        ``masks`` input of a `DCEClassifier` with ``lesion_masks``).
    """
    import json

    from keras_liver.data.lesion_crop import lesion_crops, lesion_mask_crops
    from keras_liver.io import load_volume
    from keras_liver.phantoms import LESION_CLASSES

    folder = pathlib.Path(folder)
    names = list(LESION_CLASSES)
    rows = read_cases_table(folder)
    if ids is not None:
        wanted = {str(i) for i in ids}
        rows = [r for r in rows if r["case"] in wanted]
    out = {"cases": [], "lesion_ids": [], "series": [], "labels": [], "classes": [], "class_names": names,
           "case_ids": [], "case_classes": [], "diameters_mm": [], "masks": []}
    size = tuple(int(v) for v in size)
    for row in rows:
        n = row["case"]
        paths = [folder / f"dce-{n}.nii.gz", folder / f"dce-seg-{n}.nii.gz", folder / f"dce-lesions-{n}.nii.gz",
                 folder / f"dce-{n}.json"]
        for path in paths:
            if not path.is_file():
                raise MissingPathError(f"{path}: missing (per-lesion crops need the lesion-id map and the sidecar)")
        series = load_volume(paths[0]).array.astype(np.float32)
        label = load_volume(paths[1]).array.astype(np.uint8)
        instance = load_volume(paths[2]).array.astype(np.int32)
        side = {int(r["id"]): r for r in json.loads(paths[3].read_text())["lesions"]}
        lesions = {i: r["class"] for i, r in side.items()}
        present = [i for i in sorted(lesions) if np.any(instance == i)]
        compact = np.zeros_like(instance)  # ids 1..k in the order of `present`, as `lesion_crops` numbers them
        for k, i in enumerate(present, start=1):
            compact[instance == i] = k
        crops = lesion_crops(series, compact, size)
        label_crops = lesion_crops(label[None], compact, size, mode="constant")
        mask_crops = lesion_mask_crops(compact, label == 1, size)
        for i, crop, lab, masks in zip(present, crops, label_crops, mask_crops):
            if lesions[i] not in names:
                raise ConfigError(f"{paths[3]}: unknown lesion class {lesions[i]!r} of lesion {i}")
            out["cases"].append(n)
            out["lesion_ids"].append(i)
            out["series"].append(crop)
            out["labels"].append(lab[0])
            out["masks"].append(masks)
            out["classes"].append(names.index(lesions[i]))
            out["diameters_mm"].append(float(side[i].get("diameter_mm", np.nan)))
        out["case_ids"].append(n)
        out["case_classes"].append(names.index(row["lesion_class"]))
    if not out["series"]:
        raise ConfigError(f"{folder}: no lesion to crop")
    out["series"], out["labels"], out["masks"] = np.stack(out["series"]), np.stack(out["labels"]), np.stack(out["masks"])
    out["classes"], out["case_classes"] = np.asarray(out["classes"], np.int32), np.asarray(out["case_classes"])
    out["diameters_mm"] = np.asarray(out["diameters_mm"], np.float32)
    logger.info("%d lesion crops from %d series of %s", len(out["cases"]), len(out["case_ids"]), folder)
    return out
