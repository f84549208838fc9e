"""How separable are the DCE phantom lesion classes from their true time-intensity curves?

Usage:
    python scripts/bench_dce_ceiling.py [--cases 100 300 1000] [--folds 5]

For ``n`` balanced phantom series (seeds 3000..), the lesion and liver
time-intensity curves are taken with the TRUE lesion mask
(`keras_liver.features.time_intensity_curves`, 3 curves x t frames) from the
noisy series every model sees, and from the noise-free series
(``case.clean``) when the phantom provides it. Three classifiers that need
no GPU (logistic regression, random forest, gradient boosting) are scored by
stratified k-fold cross-validation. The best of them estimates what any
classifier can reach from the lesion's enhancement pattern on this data:
the ceiling against which the Table 1 target (accuracy >= 0.95) can be read.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from keras_liver.features import time_intensity_curves  # noqa: E402
from keras_liver.phantoms import LESION_CLASSES, dce_case  # noqa: E402


def curves(n: int, seed0: int = 3000):
    noisy, clean, y = [], [], []
    for k in range(n):
        klass = k % len(LESION_CLASSES)
        case = dce_case(seed0 + k, lesion_class=LESION_CLASSES[klass])
        # the index lesion (id 1) carries the class; other lesions of the series are background here
        label = case.label.replace(np.where(case.instance.array == 1, 2, np.minimum(case.label.array, 1)))
        noisy.append(time_intensity_curves(case.image, label).ravel())
        if getattr(case, "clean", None) is not None:
            clean.append(time_intensity_curves(case.clean, label).ravel())
        y.append(klass)
    return np.array(noisy), (np.array(clean) if len(clean) == n else None), np.array(y)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.time()
    noisy, clean, y = curves(max(args.cases))
    print(f"{max(args.cases)} phantom series made and measured in {time.time() - start:.0f} s; chance 0.20")
    models = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=10.0)),
        "random forest": RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=2),
        "gradient boosting": HistGradientBoostingClassifier(random_state=0),
    }
    print("| series | curves from | " + " | ".join(models) + " |")
    print("|---" * (len(models) + 2) + "|")
    for n in args.cases:
        idx = np.concatenate([np.flatnonzero(y == k)[: n // len(LESION_CLASSES)] for k in range(len(LESION_CLASSES))])
        for label, x in (("noisy series", noisy), ("noise-free series", clean)):
            if x is None:
                continue
            folds = StratifiedKFold(args.folds, shuffle=True, random_state=0)
            scores = [cross_val_score(m, x[idx], y[idx], cv=folds).mean() for m in models.values()]
            print(f"| {len(idx)} | {label} | " + " | ".join(f"{s:.3f}" for s in scores) + " |", flush=True)
    print(f"total {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
