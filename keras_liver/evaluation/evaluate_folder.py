"""`evaluate_folder`: LiTS metrics for a folder of predictions against a folder of truths."""

import logging
import os
import pathlib
import re
import shutil
import tempfile

import numpy as np

from keras_liver.errors import ConfigError, MissingPathError
from keras_liver.evaluation.reports import markdown_table, write_report
from keras_liver.evaluation.segmentation_metrics import dataset_dice, lesion_detection, segmentation_metrics

logger = logging.getLogger(__name__)
NUMBER = re.compile(r"(\d+)(?=\.nii(\.gz)?$)")


def _by_case(folder: pathlib.Path) -> dict:
    files = sorted(list(folder.glob("*.nii.gz")) + list(folder.glob("*.nii")))
    out = {}
    for f in files:
        if f.name.startswith("volume-"):
            continue
        match = NUMBER.search(f.name)
        out[match.group(1) if match else f.name] = f
    return out


DIAMETER_BINS_MM = (0.0, 10.0, 20.0, 40.0)


def _by_diameter(lesions) -> dict:
    """Found / total of every true lesion by equivalent diameter: ``{"0-10": [found, total], ..., "40+": ...}``."""
    edges = list(DIAMETER_BINS_MM) + [float("inf")]
    out = {}
    for low, high in zip(edges[:-1], edges[1:]):
        name = f"{low:g}-{high:g}" if high != float("inf") else f"{low:g}+"
        inside = [les for les in lesions if low <= les["diameter_mm"] < high]
        out[name] = [sum(bool(les["detected"]) for les in inside), len(inside)]
    return out


def evaluate_folder(pred_dir, truth_dir, out_dir=None, *, min_lesion_diameter_mm: float = 10.0) -> dict:
    """Compare every prediction with its truth; write ``evaluation.json``, ``evaluation.md`` and overlays.

    Files are paired by the case number before the extension
    (``segmentation-3.nii.gz`` with ``prediction-3.nii.gz``), or by name.
    Both are read in LPS order, so they need not share the stored orientation.
    Nothing appears in the report folder unless every case was read and
    scored: overlays are drawn in a hidden staging folder and moved in at the end.

    Returns:
        ``{"cases": {id: metrics}, "tumour_dice": {...}, "liver_dice": {...}, "detection": {...}}``;
        each case's ``detection`` lists its true lesions (diameter, found), and
        the overall ``detection["by_diameter_mm"]`` counts found / total of all
        true lesions (any size) by diameter band.
    """
    pred_dir, truth_dir = pathlib.Path(pred_dir), pathlib.Path(truth_dir)
    for folder in (pred_dir, truth_dir):
        if not folder.is_dir():
            raise MissingPathError(f"{folder}: no such folder")
    report_dir = pathlib.Path(out_dir) if out_dir else pred_dir / "evaluation"
    preds, truths = _by_case(pred_dir), _by_case(truth_dir)
    common = sorted(set(preds) & set(truths), key=lambda k: (len(k), k))
    if not common:
        raise ConfigError(f"no prediction in {pred_dir} matches a truth in {truth_dir} (pair by case number)")
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".evaluation-", dir=_existing_ancestor(report_dir)))
    try:
        result, md = _score(common, preds, truths, staging, min_lesion_diameter_mm)
        report_dir.mkdir(parents=True, exist_ok=True)
        for figure in sorted(staging.iterdir()):  # every case scored: only now does anything appear
            os.replace(figure, report_dir / figure.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_report(report_dir, "evaluation", result, md)
    return result


def _existing_ancestor(path: pathlib.Path) -> pathlib.Path:
    path = path.absolute()
    while not path.is_dir():
        path = path.parent
    return path


def _score(common, preds, truths, figures_dir, min_lesion_diameter_mm):
    from keras_liver.io import load_volume
    from keras_liver.io.lits_case import as_label_array

    cases, pairs, detections = {}, [], []
    for case in common:
        truth = load_volume(truths[case])
        pred = load_volume(preds[case])
        if pred.shape != truth.shape or not np.allclose(pred.affine, truth.affine, atol=1e-3):
            raise ConfigError(f"{preds[case]}: grid differs from {truths[case]}")
        truth = truth.replace(as_label_array(truth.array, truths[case]))  # LiTS labels 0, 1, 2 only
        pred = pred.replace(as_label_array(pred.array, preds[case]))
        metrics = segmentation_metrics(pred.array, truth.array, truth.spacing)
        detection = lesion_detection(pred.array, truth.array, truth.spacing, min_diameter_mm=min_lesion_diameter_mm)
        metrics["detection"] = detection
        cases[case] = metrics
        pairs.append((pred.array, truth.array))
        volume = truths[case].with_name(f"volume-{case}.nii.gz")
        if volume.is_file():  # a LiTS truth folder: picture the case too
            from keras_liver.plotting import overlay_figure

            overlay_figure(load_volume(volume), pred, truth, figures_dir / f"overlay-{case}.png",
                           title=f"case {case}: truth and prediction")
        detections.append(detection)
    found = sum(d["detected"] for d in detections)
    total = sum(d["true_lesions"] for d in detections)
    result = {"cases": cases, "tumour_dice": dataset_dice(pairs, (2,)), "liver_dice": dataset_dice(pairs, (1, 2)),
              "detection": {"min_diameter_mm": min_lesion_diameter_mm, "true_lesions": total, "detected": found,
                            "recall": found / total if total else 1.0,
                            "by_diameter_mm": _by_diameter([les for d in detections for les in d["lesions"]])}}
    rows = [{"case": c, "liver dice": m["liver"]["dice"], "tumour dice": m["tumour"]["dice"],
             "liver assd mm": m["liver"]["assd"], "liver hd95 mm": m["liver"]["hd95"],
             "tumour burden error mL": m["tumour_burden_ml"]["error"],
             "lesions found": f"{m['detection']['detected']}/{m['detection']['true_lesions']}"} for c, m in
            cases.items()]
    md = "# Segmentation evaluation\n\n" + markdown_table(rows, list(rows[0])) + (
        f"\nLiver Dice: mean per case {result['liver_dice']['mean_per_case']:.3f}, global "
        f"{result['liver_dice']['global']:.3f}. Tumour Dice: mean per case "
        f"{result['tumour_dice']['mean_per_case']:.3f}, global {result['tumour_dice']['global']:.3f}. Lesions of "
        f"{min_lesion_diameter_mm:g} mm or more detected: {found}/{total}.\n\nAll true lesions by diameter: "
        + ", ".join(f"{band} mm {f}/{n}" for band, (f, n) in result["detection"]["by_diameter_mm"].items()) + ".\n")
    return result, md
