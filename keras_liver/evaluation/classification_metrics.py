"""Classification metrics for lesion classes (scikit-learn)."""

import numpy as np

from keras_liver.errors import ConfigError


def classification_metrics(y_true, y_pred, probabilities=None, class_names=None) -> dict:
    """Accuracy, per-class precision/recall/F1, macro F1, Cohen's kappa, confusion matrix, ROC-AUC.

    Args:
        y_true: True class indices ``(n,)``.
        y_pred: Predicted class indices ``(n,)``.
        probabilities: Optional ``(n, n_classes)`` scores for the ROC-AUC
            (one-vs-rest, macro average; ``None`` when a class is missing
            from ``y_true``).
        class_names: Names in index order (default ``"0"``, ``"1"``, ...).

    Returns:
        A JSON-ready dict.
    """
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or not len(y_true):
        raise ConfigError(f"y_true {y_true.shape} and y_pred {y_pred.shape}: need two equal non-empty 1D arrays")
    n = len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(n)]
    labels = list(range(n))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                         zero_division=0)
    out = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "kappa": float(skm.cohen_kappa_score(y_true, y_pred, labels=labels)),
        "per_class": {names[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                 "support": int(support[i])} for i in labels},
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": names,
        "roc_auc": None,
    }
    if probabilities is not None and len(np.unique(y_true)) == n:
        probs = np.asarray(probabilities, np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)
        out["roc_auc"] = float(skm.roc_auc_score(y_true, probs, multi_class="ovr", labels=labels)) if n > 2 else \
            float(skm.roc_auc_score(y_true, probs[:, 1]))
    return out
