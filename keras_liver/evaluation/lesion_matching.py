"""Lesion-by-lesion matching of a prediction to the truth: detection by size band and per-lesion class accuracy."""

import numpy as np

from keras_liver.evaluation.classification_metrics import classification_metrics

SIZE_BANDS_MM = (0.0, 10.0, 20.0, 40.0)


def _band(diameter_mm: float) -> str:
    edges = list(SIZE_BANDS_MM) + [float("inf")]
    for low, high in zip(edges[:-1], edges[1:]):
        if low <= diameter_mm < high:
            return f"{low:g}-{high:g}" if high != float("inf") else f"{low:g}+"
    return f"{SIZE_BANDS_MM[-1]:g}+"


def _equivalent_diameter(voxels: int, voxel_mm3: float) -> float:
    return float((6.0 * voxels * voxel_mm3 / np.pi) ** (1.0 / 3.0))


def match_lesions(pred_instance, truth_instance, spacing, *, pred_classes=None, truth_classes=None,
                  min_overlap: float = 0.5) -> dict:
    """Match predicted lesions to true ones on one grid.

    A true lesion is **detected** when predicted lesions cover at least
    ``min_overlap`` of its voxels; its match is the predicted lesion that
    covers most of it, and with classes given, the match's class is the
    prediction of the true lesion's class. A predicted lesion is a **true
    positive** when at least ``min_overlap`` of its voxels lie in true
    lesions (the rules of `lesion_detection`, so CT and DCE figures agree).

    Args:
        pred_instance, truth_instance: ``(z, y, x)`` integer maps of lesion ids (0: none).
        spacing: Voxel spacing ``(z, y, x)`` in mm.
        pred_classes, truth_classes: Optional ``{lesion id: class name}``.
        min_overlap: The covered share that counts.

    Returns:
        ``{"truth": [{"id", "diameter_mm", "band", "detected", "match", "class", "predicted_class"}],
        "pred": [{"id", "diameter_mm", "band", "true_positive"}]}`` (diameters are
        those of the sphere of equal volume).
    """
    pred = np.asarray(pred_instance).astype(np.int64)
    truth = np.asarray(truth_instance).astype(np.int64)
    if pred.shape != truth.shape:
        raise ValueError(f"match_lesions: prediction {pred.shape} and truth {truth.shape} are not on one grid")
    voxel = float(np.prod(spacing))
    n_p, n_t = int(pred.max(initial=0)), int(truth.max(initial=0))
    # joint[t, p]: voxels of true lesion t inside predicted lesion p (0 rows/columns: outside any lesion)
    joint = np.bincount(truth.ravel() * (n_p + 1) + pred.ravel(), minlength=(n_t + 1) * (n_p + 1))
    joint = joint.reshape(n_t + 1, n_p + 1)
    t_size, p_size = joint.sum(1), joint.sum(0)
    rows_t, rows_p = [], []
    for t in range(1, n_t + 1):
        if not t_size[t]:
            continue
        covered = joint[t, 1:].sum()
        detected = bool(covered >= min_overlap * t_size[t])
        match = int(np.argmax(joint[t, 1:]) + 1) if covered else None
        d = _equivalent_diameter(int(t_size[t]), voxel)
        row = {"id": t, "diameter_mm": round(d, 2), "band": _band(d), "detected": detected,
               "match": match if detected else None}
        if truth_classes is not None:
            row["class"] = truth_classes.get(t)
            row["predicted_class"] = (pred_classes or {}).get(match) if detected else None
        rows_t.append(row)
    for p in range(1, n_p + 1):
        if not p_size[p]:
            continue
        d = _equivalent_diameter(int(p_size[p]), voxel)
        rows_p.append({"id": p, "diameter_mm": round(d, 2), "band": _band(d),
                       "true_positive": bool(joint[1:, p].sum() >= min_overlap * p_size[p])})
    return {"truth": rows_t, "pred": rows_p}


def summarise_matches(matches, class_names=None, *, min_diameter_mm: float = 10.0) -> dict:
    """Detection and per-lesion classification over many cases' `match_lesions` results.

    Args:
        matches: Iterable of `match_lesions` outputs.
        class_names: Class order for the confusion matrix (with classes).
        min_diameter_mm: Lesions at least this large count for ``recall`` and ``precision``.

    Returns:
        ``recall`` and ``precision`` (lesions >= ``min_diameter_mm``), found/total and
        true/predicted by band (``recall_by_band``, ``precision_by_band``), and with
        classes ``class_accuracy`` on detected lesions, ``classification`` (the
        `classification_metrics` of those lesions: confusion matrix, kappa, macro F1).
    """
    truth = [row for m in matches for row in m["truth"]]
    pred = [row for m in matches for row in m["pred"]]
    bands = [f"{a:g}-{b:g}" for a, b in zip(SIZE_BANDS_MM, SIZE_BANDS_MM[1:])] + [f"{SIZE_BANDS_MM[-1]:g}+"]
    big_t = [r for r in truth if r["diameter_mm"] >= min_diameter_mm]
    big_p = [r for r in pred if r["diameter_mm"] >= min_diameter_mm]
    out = {
        "true_lesions": len(big_t), "detected": sum(r["detected"] for r in big_t),
        "recall": sum(r["detected"] for r in big_t) / len(big_t) if big_t else 1.0,
        "pred_lesions": len(big_p), "true_positive_pred": sum(r["true_positive"] for r in big_p),
        "precision": sum(r["true_positive"] for r in big_p) / len(big_p) if big_p else 1.0,
        "recall_by_band": {b: [sum(r["detected"] for r in truth if r["band"] == b),
                               sum(r["band"] == b for r in truth)] for b in bands},
        "precision_by_band": {b: [sum(r["true_positive"] for r in pred if r["band"] == b),
                                  sum(r["band"] == b for r in pred)] for b in bands},
    }
    classified = [r for r in truth if r["detected"] and r.get("class") is not None]
    if classified:
        names = list(class_names) if class_names is not None else sorted({r["class"] for r in classified})
        y_true = [names.index(r["class"]) for r in classified]
        y_pred = [names.index(r["predicted_class"]) if r["predicted_class"] in names else -1 for r in classified]
        out["class_accuracy"] = float(np.mean([a == b for a, b in zip(y_true, y_pred)]))
        known = [(a, b) for a, b in zip(y_true, y_pred) if b >= 0]
        if known:
            out["classification"] = classification_metrics([a for a, _ in known], [b for _, b in known],
                                                           class_names=names)
    return out
