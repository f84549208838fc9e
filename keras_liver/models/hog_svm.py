"""`HOGSVM`: the SVM baseline on HOG features, saved as plain arrays (no pickle)."""

import io
import json
import logging
import pathlib

import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.atomic import write_bytes_atomic

logger = logging.getLogger(__name__)

FORMAT = "keras_liver.hog_svm"


class HOGSVM:
    """Standardised HOG features and a linear SVM (one-vs-rest), as in Dalal & Triggs (2005).

    A scikit-learn pipeline (``StandardScaler`` + ``LinearSVC``) does the
    fitting; prediction uses the learnt arrays with NumPy, and `save` /
    `load` keep only those arrays and the settings in one ``.npz`` read with
    ``allow_pickle=False``, so loading a model file cannot run code (a
    joblib/pickle file can).

    Args:
        C: SVM regularisation (inverse strength).
        class_weight: ``"balanced"`` or ``None``.
        max_iter: Solver iterations.
        class_names: Names of the class indices, stored with the model.
        seed: Solver seed.

    Example:
        >>> svm = HOGSVM(class_names=LESION_CLASSES).fit(train_x, train_y)
        >>> svm.save("svm.npz"); HOGSVM.load("svm.npz").predict(test_x)
    """

    def __init__(self, C: float = 0.1, class_weight="balanced", max_iter: int = 5000, class_names=None,
                 seed: int = 0):
        self.C, self.class_weight, self.max_iter, self.seed = float(C), class_weight, int(max_iter), int(seed)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.mean_ = self.scale_ = self.coef_ = self.intercept_ = self.classes_ = None

    def fit(self, features, labels) -> "HOGSVM":
        """Fit on ``(n, n_features)`` features and integer class labels."""
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        x = np.asarray(features, np.float64)
        y = np.asarray(labels)
        if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
            raise ConfigError(f"features {x.shape} and labels {y.shape}: need (n, f) and (n,) with n > 0")
        if len(np.unique(y)) < 2:
            raise ConfigError("labels: need at least two classes to fit an SVM")
        pipeline = make_pipeline(StandardScaler(), LinearSVC(C=self.C, class_weight=self.class_weight,
                                                             max_iter=self.max_iter, random_state=self.seed))
        pipeline.fit(x, y)
        scaler, svm = pipeline[0], pipeline[1]
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        self.coef_, self.intercept_, self.classes_ = svm.coef_, svm.intercept_, svm.classes_
        logger.info("HOGSVM fitted on %d samples, %d features, %d classes", *x.shape, len(self.classes_))
        return self

    def _check_fitted(self):
        if self.coef_ is None:
            raise ConfigError("HOGSVM: fit or load the model first")

    def decision_function(self, features) -> np.ndarray:
        """One-vs-rest margins ``(n, n_classes)``."""
        self._check_fitted()
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or x.shape[1] != self.coef_.shape[1]:
            raise ConfigError(f"features: expected (n, {self.coef_.shape[1]}), got {x.shape}")
        scores = ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_
        return np.concatenate([-scores, scores], axis=1) if len(self.classes_) == 2 else scores

    def predict(self, features) -> np.ndarray:
        """Class labels."""
        return self.classes_[np.argmax(self.decision_function(features), axis=1)]

    def predict_proba(self, features) -> np.ndarray:
        """Softmax of the margins: a ranking score for AUC, not a calibrated probability."""
        scores = self.decision_function(features)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, path) -> pathlib.Path:
        """Write the arrays and settings to one ``.npz`` (atomically)."""
        self._check_fitted()
        path = pathlib.Path(path)
        meta = {"format": FORMAT, "C": self.C, "class_weight": self.class_weight, "max_iter": self.max_iter,
                "seed": self.seed, "class_names": self.class_names}
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean_, scale=self.scale_, coef=self.coef_, intercept=self.intercept_,
                 classes=self.classes_, meta=np.array(json.dumps(meta)))
        return write_bytes_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> "HOGSVM":
        """Read a model written by `save` (no pickle)."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise MissingPathError(f"{path}: no such SVM model file")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT:
                    raise FileFormatError(f"{path}: not a keras-liver HOGSVM file")
                model = cls(C=meta["C"], class_weight=meta["class_weight"], max_iter=meta["max_iter"],
                            class_names=meta["class_names"], seed=meta["seed"])
                model.mean_, model.scale_ = data["mean"], data["scale"]
                model.coef_, model.intercept_, model.classes_ = data["coef"], data["intercept"], data["classes"]
        except (OSError, KeyError, ValueError) as exc:
            raise FileFormatError(f"{path}: not a keras-liver HOGSVM file ({exc})") from None
        return model
