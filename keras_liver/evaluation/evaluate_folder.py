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


SIDE_FILES = ("volume-", "masses-", "tissue-")  # beside a phantom's segmentation, never a label to score


def _by_case(folder: pathlib.Path) -> dict:
    files = sorted(list(folder.glob("*.nii.gz")) + list(folder.glob("*.nii")))
    out = {}
    for f in files:
        if f.name.startswith(SIDE_FILES):
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


KINDS = ("hypodense", "hyperdense", "cystic", "rim-enhancing")


def _phantom_cases(truth_dir: pathlib.Path) -> dict:
    """``{case number: drawn parameters}`` from a phantom data set's ``cases.json`` (empty for other folders)."""
    import json

    path = truth_dir / "cases.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except ValueError:
        return {}
    out = {}
    for name, case in (info.items() if isinstance(info, dict) else ()):
        match = re.search(r"(\d+)$", str(name))  # "volume-3"
        if match and isinstance(case, dict):
            out[match.group(1)] = case
    return out


def _kind_of(lesion: dict) -> str:
    """The evaluation kind of a phantom lesion: a rim makes it rim-enhancing, a cyst is cystic."""
    if "enhancing_rim_hu" in lesion:
        return "rim-enhancing"
    return "cystic" if lesion.get("kind") == "cyst" else str(lesion.get("kind", "unknown"))


def _assign_kinds(detection: dict, phantom: list, affine) -> None:
    """Give each true lesion the kind of the phantom lesion whose centre is nearest its centroid."""
    if not phantom:
        return
    centres = np.array([les["centre_mm"] for les in phantom], np.float64)  # (x, y, z) LPS mm
    for lesion in detection["lesions"]:
        z, y, x = lesion["centroid_zyx"]
        ras = np.asarray(affine, np.float64) @ np.array([x, y, z, 1.0])
        lps = np.array([-ras[0], -ras[1], ras[2]])
        lesion["kind"] = _kind_of(phantom[int(np.argmin(np.linalg.norm(centres - lps, axis=1)))])


def _by_kind(lesions) -> dict:
    """Found / total of the true lesions of each kind (those a phantom's ``cases.json`` names)."""
    return {kind: [sum(bool(les["detected"]) for les in lesions if les.get("kind") == kind),
                   sum(les.get("kind") == kind for les in lesions)] for kind in KINDS
            if any(les.get("kind") == kind for les in lesions)}


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
        true lesions (any size) by diameter band. A phantom folder with
        ``masses-N`` files (``phantoms ct --variety``) adds ``"masses"``: the
        voxels of the masses outside the liver, the share of them predicted
        liver or tumour, and that share by site.
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
    drawn = _phantom_cases(truths[common[0]].parent) if common else {}
    phantom = {k: list(v.get("lesions") or []) for k, v in drawn.items()}
    mass_sites = {k: {int(m["id"]): str(m.get("site", "unknown")) for m in v.get("masses") or []}
                  for k, v in drawn.items()}
    masses = {"voxels": 0, "called_liver_or_tumour": 0, "by_site": {}}
    for case in common:
        truth = load_volume(truths[case])
        pred = load_volume(preds[case])
        if pred.shape != truth.shape or not np.allclose(pred.affine, truth.affine, atol=1e-3):
            raise ConfigError(f"{preds[case]}: grid differs from {truths[case]}")
        truth = truth.replace(as_label_array(truth.array, truths[case]))  # LiTS labels 0, 1, 2 only
        pred = pred.replace(as_label_array(pred.array, preds[case]))
        metrics = segmentation_metrics(pred.array, truth.array, truth.spacing)
        detection = lesion_detection(pred.array, truth.array, truth.spacing, min_diameter_mm=min_lesion_diameter_mm)
        _assign_kinds(detection, phantom.get(case, []), truth.affine)
        metrics["detection"] = detection
        mass_file = truths[case].with_name(f"masses-{case}.nii.gz")
        if mass_file.is_file():
            metrics["masses"] = _mass_scores(load_volume(mass_file).array, pred.array,
                                             mass_sites.get(case, {}), masses)
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
                            "by_diameter_mm": _by_diameter([les for d in detections for les in d["lesions"]]),
                            "by_kind": _by_kind([les for d in detections for les in d["lesions"]]),
                            "false_positive_lesions_per_case": float(np.mean([d["false_positive_pred"]
                                                                              for d in detections]))}}
    if masses["voxels"]:
        masses["share_called_liver_or_tumour"] = masses["called_liver_or_tumour"] / masses["voxels"]
        for site in masses["by_site"].values():
            site["share"] = site["called"] / site["voxels"]
        result["masses"] = masses
    rows = [{"case": c, "liver dice": m["liver"]["dice"], "tumour dice": m["tumour"]["dice"],
             "liver assd mm": m["liver"]["assd"], "liver hd95 mm": m["liver"]["hd95"],
             "tumour burden error mL": m["tumour_burden_ml"]["error"],
             "lesions found": f"{m['detection']['detected']}/{m['detection']['true_lesions']}",
             "false-positive lesions": m["detection"]["false_positive_pred"]} for c, m in cases.items()]
    md = "# Segmentation evaluation\n\n" + markdown_table(rows, list(rows[0])) + (
        f"\nLiver Dice: mean per case {result['liver_dice']['mean_per_case']:.3f}, global "
        f"{result['liver_dice']['global']:.3f}. Tumour Dice: mean per case "
        f"{result['tumour_dice']['mean_per_case']:.3f}, global {result['tumour_dice']['global']:.3f}. Lesions of "
        f"{min_lesion_diameter_mm:g} mm or more detected: {found}/{total}.\n\nAll true lesions by diameter: "
        + ", ".join(f"{band} mm {f}/{n}" for band, (f, n) in result["detection"]["by_diameter_mm"].items())
        + (". By kind: " + ", ".join(f"{k} {f}/{n}" for k, (f, n) in result["detection"]["by_kind"].items())
           if result["detection"]["by_kind"] else "")
        + f". False-positive lesions per case: {result['detection']['false_positive_lesions_per_case']:.2f}.\n")
    if "masses" in result:
        md += (f"\nMasses outside the liver: {100 * result['masses']['share_called_liver_or_tumour']:.2f} % of their "
               f"{result['masses']['voxels']} voxels called liver or tumour ("
               + ", ".join(f"{k} {100 * v['share']:.1f} %" for k, v in result["masses"]["by_site"].items()) + ").\n")
    return result, md


def _mass_scores(mass_id, pred, sites, totals) -> dict:
    """Voxels of each mass outside the liver and how many the prediction calls liver or tumour."""
    out = {"voxels": 0, "called_liver_or_tumour": 0}
    for k in np.unique(mass_id[mass_id > 0]):
        inside = mass_id == k
        n, called = int(inside.sum()), int((pred[inside] > 0).sum())
        out["voxels"] += n
        out["called_liver_or_tumour"] += called
        site = totals["by_site"].setdefault(sites.get(int(k), "unknown"), {"voxels": 0, "called": 0})
        site["voxels"] += n
        site["called"] += called
    totals["voxels"] += out["voxels"]
    totals["called_liver_or_tumour"] += out["called_liver_or_tumour"]
    return out
