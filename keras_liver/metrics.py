"""Training-time metrics (stateful `keras.metrics.Metric`, registered).

Segmentation scores accumulate voxel counts over an epoch (a "global"
score) from the arg-max of the predicted probabilities. **Empty against
empty**: when neither prediction nor truth holds the class in the whole
epoch, Dice, IoU, precision and recall are 1.0 (nothing to find, nothing
wrongly found); a test pins this.
"""

import keras
from keras import ops

from keras_liver.errors import ConfigError

KINDS = ("dice", "iou", "precision", "recall")


def _labels(y_true, y_pred):
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape):
        y_true = ops.argmax(y_true, axis=-1) if y_true.shape[-1] == y_pred.shape[-1] and y_pred.shape[-1] != 1 \
            else ops.squeeze(y_true, -1)
    return ops.cast(y_true, "int32")


@keras.saving.register_keras_serializable(package="keras_liver")
class SegmentationScore(keras.metrics.Metric):
    """Dice, IoU, precision or recall of one class over all voxels seen.

    Args:
        class_id: Class index (1 liver, 2 tumour).
        kind: ``"dice"``, ``"iou"``, ``"precision"`` or ``"recall"``.
        name: Metric name (default ``"<kind>_<class_id>"``).
    """

    def __init__(self, class_id: int, kind: str = "dice", name: str | None = None, **kwargs):
        if kind not in KINDS:
            raise ConfigError(f"kind: one of {KINDS}, got {kind!r}")
        super().__init__(name=name or f"{kind}_{class_id}", **kwargs)
        self.class_id, self.kind = int(class_id), kind
        self.tp = self.add_variable((), initializer="zeros", name="tp")
        self.fp = self.add_variable((), initializer="zeros", name="fp")
        self.fn = self.add_variable((), initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth = ops.equal(_labels(y_true, y_pred), self.class_id)
        pred = ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), self.class_id)
        self.tp.assign_add(ops.sum(ops.cast(truth & pred, "float32")))
        self.fp.assign_add(ops.sum(ops.cast(~truth & pred, "float32")))
        self.fn.assign_add(ops.sum(ops.cast(truth & ~pred, "float32")))

    def result(self):
        tp, fp, fn = self.tp, self.fp, self.fn
        num, den = {"dice": (2 * tp, 2 * tp + fp + fn), "iou": (tp, tp + fp + fn),
                    "precision": (tp, tp + fp), "recall": (tp, tp + fn)}[self.kind]
        return ops.where(den > 0, num / ops.maximum(den, 1e-12), 1.0)

    def reset_state(self):
        for v in (self.tp, self.fp, self.fn):
            v.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "kind": self.kind}


@keras.saving.register_keras_serializable(package="keras_liver")
class MacroF1(keras.metrics.Metric):
    """Macro-averaged F1 over classes from an accumulated confusion matrix.

    A class that never occurs and is never predicted is left out of the
    average (its F1 is undefined); one that is only predicted scores 0.

    Args:
        num_classes: Number of classes.
    """

    def __init__(self, num_classes: int, name: str = "macro_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.matrix = self.add_variable((self.num_classes, self.num_classes), initializer="zeros", name="matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth = ops.reshape(_labels(y_true, y_pred), (-1,))
        pred = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        idx = truth * self.num_classes + pred
        counts = ops.bincount(idx, minlength=self.num_classes ** 2)
        self.matrix.assign_add(ops.reshape(ops.cast(counts, "float32"), (self.num_classes, self.num_classes)))

    def result(self):
        tp = ops.diagonal(self.matrix)
        predicted, actual = ops.sum(self.matrix, axis=0), ops.sum(self.matrix, axis=1)
        den = predicted + actual
        f1 = ops.where(den > 0, 2 * tp / ops.maximum(den, 1e-12), 0.0)
        present = ops.cast(den > 0, "float32")
        return ops.sum(f1 * present) / ops.maximum(ops.sum(present), 1.0)

    def reset_state(self):
        self.matrix.assign(ops.zeros_like(self.matrix))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="keras_liver")
class MacroAUC(keras.metrics.AUC):
    """One-vs-rest ROC AUC averaged over classes, from integer labels and class probabilities."""

    def __init__(self, num_classes: int, name: str = "macro_auc", **kwargs):
        kwargs.pop("multi_label", None)
        kwargs.pop("num_labels", None)
        super().__init__(name=name, multi_label=True, num_labels=int(num_classes), **kwargs)
        self.num_classes = int(num_classes)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(_labels(y_true, y_pred), (-1,))
        return super().update_state(ops.one_hot(labels, self.num_classes), y_pred, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("multi_label", None)
        config.pop("num_labels", None)
        return {**config, "num_classes": self.num_classes}
