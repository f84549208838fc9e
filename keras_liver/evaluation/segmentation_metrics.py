"""LiTS-style segmentation metrics with distances in mm (NumPy/SciPy only).

Structures: ``liver`` is every voxel labelled 1 or 2 (liver including its
tumours, as the LiTS challenge scores the liver) and ``tumour`` is label 2.

Per structure: ``dice``, ``jaccard``, ``voe`` (1 - Jaccard), ``rvd``
(signed relative volume difference, (|P| - |T|) / |T|), and surface
distances between the boundary voxels of prediction and truth, using the
voxel spacing: ``assd`` (mean of all distances both ways), ``mssd``
(maximum symmetric surface distance, the Hausdorff distance) and ``hd95``
(the larger of the two directed 95th percentiles).

Empty structures: both empty gives Dice 1 and distances 0; exactly one
empty gives Dice 0 and distances ``inf``; ``rvd`` is ``nan`` when the
truth is empty. A lesion is *detected* when at least ``min_overlap`` (50
%) of its voxels are predicted tumour; a predicted lesion is a *true
positive* when at least ``min_overlap`` of its voxels are true tumour.
"""

import numpy as np
from scipy import ndimage

from keras_liver.errors import GeometryError

STRUCTURES = {"liver": (1, 2), "tumour": (2,)}


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1),
                                          border_value=0)


def surface_distances(pred: np.ndarray, truth: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each boundary voxel of ``pred`` to ``truth``'s boundary, and back."""
    box = np.argwhere(pred | truth)
    lo, hi = np.maximum(box.min(0) - 1, 0), box.max(0) + 2
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    p, t = _surface(pred[crop]), _surface(truth[crop])
    to_truth = ndimage.distance_transform_edt(~t, sampling=spacing)
    to_pred = ndimage.distance_transform_edt(~p, sampling=spacing)
    return to_truth[p], to_pred[t]


def binary_metrics(pred: np.ndarray, truth: np.ndarray, spacing) -> dict:
    """The LiTS metrics of one binary structure."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    n_pred, n_truth = int(pred.sum()), int(truth.sum())
    inter = int((pred & truth).sum())
    union = n_pred + n_truth - inter
    out = {"voxels_pred": n_pred, "voxels_truth": n_truth}
    if n_pred == 0 and n_truth == 0:
        return {**out, "dice": 1.0, "jaccard": 1.0, "voe": 0.0, "rvd": float("nan"), "assd": 0.0, "mssd": 0.0,
                "hd95": 0.0}
    dice = 2 * inter / (n_pred + n_truth)
    jaccard = inter / union
    out.update(dice=dice, jaccard=jaccard, voe=1 - jaccard,
               rvd=(n_pred - n_truth) / n_truth if n_truth else float("nan"))
    if n_pred == 0 or n_truth == 0:
        return {**out, "assd": float("inf"), "mssd": float("inf"), "hd95": float("inf")}
    a, b = surface_distances(pred, truth, spacing)
    both = np.concatenate([a, b])
    out.update(assd=float(both.mean()), mssd=float(both.max()),
               hd95=float(max(np.percentile(a, 95), np.percentile(b, 95))))
    return out


def _check(pred, truth, spacing):
    pred, truth = np.asarray(getattr(pred, "array", pred)), np.asarray(getattr(truth, "array", truth))
    if pred.shape != truth.shape:
        raise GeometryError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != pred.ndim or min(spacing) <= 0:
        raise GeometryError(f"spacing {spacing}: need {pred.ndim} positive values (mm)")
    return pred, truth, spacing


def segmentation_metrics(pred, truth, spacing, structures=None) -> dict:
    """LiTS metrics per structure, distances in mm.

    Args:
        pred: Predicted label map (array or `Volume`), 0/1/2.
        truth: True label map on the same grid.
        spacing: Voxel spacing in mm, one per axis (``(z, y, x)``).
        structures: ``{name: label values}``; default `STRUCTURES`.

    Returns:
        ``{"liver": {...}, "tumour": {...}, "tumour_burden_ml": {...}}``.
    """
    pred, truth, spacing = _check(pred, truth, spacing)
    out = {name: binary_metrics(np.isin(pred, values), np.isin(truth, values), spacing)
           for name, values in (structures or STRUCTURES).items()}
    voxel_ml = float(np.prod(spacing)) / 1000.0
    p_ml, t_ml = float((pred == 2).sum()) * voxel_ml, float((truth == 2).sum()) * voxel_ml
    out["tumour_burden_ml"] = {"pred": p_ml, "truth": t_ml, "error": p_ml - t_ml}
    return out


def lesion_detection(pred, truth, spacing, *, lesion_label: int = 2, min_overlap: float = 0.5,
                     min_diameter_mm: float = 0.0) -> dict:
    """Lesion-wise detection: connected components of the lesion label (26-connectivity in 3D).

    Args:
        pred, truth: Label maps on the same grid.
        spacing: Voxel spacing in mm.
        lesion_label: Lesion label value.
        min_overlap: Fraction of a lesion's voxels that must be covered (see module notes).
        min_diameter_mm: Only true lesions at least this large (equivalent
            sphere diameter) count for recall.

    Returns:
        ``{"true_lesions", "detected", "recall", "pred_lesions", "true_positive_pred",
        "false_positive_pred", "precision", "lesions": [{"diameter_mm", "detected", "centroid_zyx"}, ...]}``
        (a false-positive predicted lesion is one less than ``min_overlap`` inside true lesions); recall and
        precision are 1.0 when there is nothing to find or nothing predicted, respectively.
    """
    pred, truth, spacing = _check(pred, truth, spacing)
    structure = ndimage.generate_binary_structure(pred.ndim, pred.ndim)
    p_mask, t_mask = pred == lesion_label, truth == lesion_label
    t_comp, n_t = ndimage.label(t_mask, structure)
    p_comp, n_p = ndimage.label(p_mask, structure)
    voxel = float(np.prod(spacing))
    lesions = []
    if n_t:
        sizes = np.bincount(t_comp.ravel(), minlength=n_t + 1)
        covered = np.bincount(t_comp.ravel(), weights=p_mask.ravel(), minlength=n_t + 1)
        centres = ndimage.center_of_mass(t_mask, t_comp, range(1, n_t + 1))
        for k in range(1, n_t + 1):
            diameter = (6.0 * sizes[k] * voxel / np.pi) ** (1.0 / 3.0)
            lesions.append({"diameter_mm": float(diameter), "detected": bool(covered[k] >= min_overlap * sizes[k]),
                            "centroid_zyx": [round(float(c), 2) for c in centres[k - 1]]})
    counted = [d for d in lesions if d["diameter_mm"] >= min_diameter_mm]
    detected = sum(d["detected"] for d in counted)
    tp_pred = 0
    if n_p:
        sizes = np.bincount(p_comp.ravel(), minlength=n_p + 1)
        true_in = np.bincount(p_comp.ravel(), weights=t_mask.ravel(), minlength=n_p + 1)
        tp_pred = int(sum(true_in[k] >= min_overlap * sizes[k] for k in range(1, n_p + 1)))
    return {"true_lesions": len(counted), "detected": int(detected),
            "recall": detected / len(counted) if counted else 1.0, "pred_lesions": int(n_p),
            "true_positive_pred": tp_pred, "false_positive_pred": int(n_p) - tp_pred,
            "precision": tp_pred / n_p if n_p else 1.0, "lesions": lesions}


def dataset_dice(pairs, label_values=(2,)) -> dict:
    """Per-case mean and global Dice of a structure over ``(pred, truth)`` pairs.

    Global Dice pools the voxels of every case (the LiTS "Dice global"); a
    case where the structure is absent in both counts as 1 in the per-case mean.
    """
    per_case, inter, total = [], 0, 0
    for pred, truth in pairs:
        p = np.isin(np.asarray(getattr(pred, "array", pred)), label_values)
        t = np.isin(np.asarray(getattr(truth, "array", truth)), label_values)
        i, s = int((p & t).sum()), int(p.sum() + t.sum())
        per_case.append(2 * i / s if s else 1.0)
        inter, total = inter + i, total + s
    return {"per_case": per_case, "mean_per_case": float(np.mean(per_case)) if per_case else float("nan"),
            "global": 2 * inter / total if total else 1.0}
