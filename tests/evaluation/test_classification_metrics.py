import numpy as np
import pytest

from keras_liver.errors import ConfigError
from keras_liver.evaluation.classification_metrics import classification_metrics


def test_counts_by_hand():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    probs = np.eye(3)[y_pred] * 0.8 + 0.1
    out = classification_metrics(y_true, y_pred, probs, class_names=["hcc", "cyst", "fnh"])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert out["per_class"]["cyst"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                        "support": 2}
    assert out["macro_f1"] == pytest.approx(np.mean([0.5, 0.8, 2 / 3]))
    assert -1 <= out["kappa"] < 1 and out["roc_auc"] is not None


def test_perfect_and_missing_class():
    out = classification_metrics([0, 1, 2], [0, 1, 2], class_names=list("abcd"))
    assert out["accuracy"] == 1.0 and out["kappa"] == 1.0 and out["roc_auc"] is None
    assert out["per_class"]["d"]["support"] == 0
    with pytest.raises(ConfigError):
        classification_metrics([0, 1], [0])
