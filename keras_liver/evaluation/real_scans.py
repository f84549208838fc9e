"""The real scans beside the checkout (``../shared/data/real``) that have a liver label, and their scoring.

A model trained only on phantoms meets real anatomy here: `evaluate_real_scans` runs a
``segment`` callable (a `Volume` in, a label `Volume` out: 0 background, 1 liver, 2 tumour)
on every scan present and reports, per scan, liver Dice against its label, the liver volume
error, the tumour voxels predicted (these scans have no tumour label: every one of them is a
false positive or an unlabelled finding) and the time, with an overlay figure when asked.
"""

import dataclasses
import logging
import pathlib
import time

import numpy as np

from keras_liver.errors import FileFormatError, MissingPathError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RealScan:
    """One real scan with a liver label.

    Attributes:
        name: Short name in tables.
        image: Path of the scan under the real-data folder (a file or a DICOM folder).
        label: Path of its label map.
        liver_label: The label value that is liver (``None``: every non-zero voxel).
        modality: ``"CT"`` or ``"MR"``.
        note: Where the scan and label come from.
    """

    name: str
    image: str
    label: str
    liver_label: int | None
    modality: str
    note: str


REAL_SCANS = (
    RealScan("totalseg_ct_nifti", "totalsegmentator/example_ct_sm.nii.gz", "totalsegmentator/example_seg.nii.gz", 5,
             "CT", "TotalSegmentator example CT, 30 slices of 3 mm, NIfTI; liver label predicted, not manual"),
    RealScan("totalseg_ct_dicom", "totalsegmentator/example_ct_dicom", "totalsegmentator/example_seg_dicom.nii.gz", 5,
             "CT", "TotalSegmentator example CT, 20 DICOM slices of 0.98 x 0.98 x 2 mm; liver label predicted"),
    RealScan("dcmqi_ct_3slice", "dcmqi/ct-3slice", "dcmqi/liver_seg.nrrd", None, "CT",
             "dcmqi test data: three 512 x 512 CT slices, 0.81 mm pixels, and a liver mask as NRRD"),
    RealScan("totalseg_mr", "totalsegmentator/example_mr_sm.nii.gz", "totalsegmentator/example_seg_mr.nii.gz", 5,
             "MR", "TotalSegmentator example MR, 3 mm; liver label predicted"),
)


def find_real_scans(folder, modality: str | None = "CT") -> list[RealScan]:
    """The `REAL_SCANS` present under ``folder`` (of ``modality``; ``None``: all)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise MissingPathError(f"{folder}: no folder of real scans (see shared/data/real/README.md)")
    return [s for s in REAL_SCANS if (modality is None or s.modality == modality)
            and (folder / s.image).exists() and (folder / s.label).exists()]


def false_liver_by_label(truth, liver_truth, liver_pred) -> dict:
    """Voxels predicted liver (or tumour) outside the true liver, counted by their label in ``truth``.

    Args:
        truth: The scan's label map (any integer labels).
        liver_truth: Boolean mask of the true liver.
        liver_pred: Boolean mask of the predicted liver and tumour.

    Returns:
        ``{str(label): voxels}`` for every label with at least one such voxel, largest first.
    """
    wrong = np.asarray(truth)[np.asarray(liver_pred) & ~np.asarray(liver_truth)]
    values, counts = np.unique(wrong, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(int(values[i])): int(counts[i]) for i in order}


def evaluate_real_scans(segment, folder, *, out_dir=None, modality: str | None = "CT") -> list[dict]:
    """Segment every real scan with a liver label and score the liver.

    Args:
        segment: ``Volume -> label Volume`` on the scan's grid (0 background, 1 liver, 2 tumour).
        folder: The real-data folder (``../shared/data/real``).
        out_dir: Where to write one overlay PNG per scan (``None``: no figures).
        modality: Only scans of this modality (``None``: all).

    Returns:
        One row per scan: ``scan``, ``shape``, ``spacing_mm``, ``liver_dice``,
        ``liver_ml_truth``, ``liver_ml_pred``, ``liver_volume_error_pct``, ``tumour_voxels``,
        ``tumour_ml``, ``false_liver_by_label``, ``seconds`` and ``overlay`` (path or ``None``).
        ``false_liver_by_label`` counts the voxels called liver or tumour outside the true
        liver by the label the scan's own map gives them (``{"0": background, "2": ..., }``;
        TotalSegmentator's organ ids), so an error can be traced to the organ it lies on.
    """
    from keras_liver.io import load_volume

    folder = pathlib.Path(folder)
    rows = []
    for scan in find_real_scans(folder, modality):
        image = load_volume(folder / scan.image)
        truth = load_volume(folder / scan.label)
        if truth.shape != image.spatial_shape or not np.allclose(truth.affine, image.affine, atol=1e-3):
            raise FileFormatError(f"{folder / scan.label}: not on the grid of {folder / scan.image}")
        liver_truth = truth.array > 0 if scan.liver_label is None else truth.array == scan.liver_label
        started = time.perf_counter()
        labels = segment(image)
        seconds = time.perf_counter() - started
        pred = np.asarray(labels.array)
        liver_pred = pred > 0
        ml = float(np.prod(image.spacing)) / 1000.0
        both = int(liver_truth.sum() + liver_pred.sum())
        row = {"scan": scan.name, "shape": list(image.shape), "spacing_mm": [round(float(s), 3) for s in image.spacing],
               "liver_dice": round(2.0 * float((liver_truth & liver_pred).sum()) / both, 4) if both else None,
               "liver_ml_truth": round(float(liver_truth.sum()) * ml, 1),
               "liver_ml_pred": round(float(liver_pred.sum()) * ml, 1),
               "liver_volume_error_pct": (round(100.0 * (float(liver_pred.sum()) / float(liver_truth.sum()) - 1), 1)
                                          if liver_truth.any() else None),
               "tumour_voxels": int((pred == 2).sum()), "tumour_ml": round(float((pred == 2).sum()) * ml, 2),
               "false_liver_by_label": false_liver_by_label(truth.array, liver_truth, liver_pred),
               "seconds": round(seconds, 2), "overlay": None}
        if out_dir is not None:
            from keras_liver.plotting import overlay_figure

            out = pathlib.Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            row["overlay"] = str(overlay_figure(image, labels, truth.replace(liver_truth.astype(np.uint8)),
                                                out / f"{scan.name}.png",
                                                title=f"{scan.name}: liver Dice {row['liver_dice']}"))
        logger.info("%s: liver Dice %s, volume error %s %%, tumour %d voxels, %.1f s", scan.name, row["liver_dice"],
                    row["liver_volume_error_pct"], row["tumour_voxels"], seconds)
        rows.append(row)
    return rows
