"""Per-lesion separability ceiling of the DCE phantom classes: what any classifier can reach from true masks.

Usage:
    python scripts/bench_dce_lesion_ceiling.py [--train data/dce500] [--test data/dce_heldout10000_200]

For every lesion of every series of two ``keras-liver phantoms dce`` folders (train, test), the
lesion's time-intensity curves are measured with its TRUE mask (the lesion-id map, so a series'
other lesions do not mix in) against the series' liver (`keras_liver.features.time_intensity_curves`:
3 curves x t frames, from the noisy series every model sees). Three classifiers that need no
GPU are fit on the train folder's lesions and scored on the test folder's, overall and by
lesion diameter (the sidecar's ``diameter_mm``). A second feature set adds the series' frame
times (which no image model is given) to show how much of the remaining error is bolus timing; a
third adds the curves of three radial shells of the lesion (core, middle, rim, by normalised
distance from its surface: the phantom's rim, scar and centripetal patterns), the spatial
pattern a mean curve cannot see and an image model can.
This is the per-lesion counterpart of ``bench_dce_ceiling.py`` (index lesions only, 5-fold CV),
and the line against which Table 1's per-lesion accuracy (target 0.95) is read.
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from keras_liver.data.dce_cases import read_cases_table  # noqa: E402
from keras_liver.features import time_intensity_curves  # noqa: E402
from keras_liver.io import load_volume  # noqa: E402
from keras_liver.phantoms import LESION_CLASSES  # noqa: E402

BANDS = ((0, 20), (20, 40), (40, 1e9))


def lesion_features(folder):
    """Per lesion: its curves (t x 3, flattened), the frame times, its class index and diameter."""
    folder = pathlib.Path(folder)
    curves, times, shells, classes, diameters = [], [], [], [], []
    for row in read_cases_table(folder):
        n = row["case"]
        series = load_volume(folder / f"dce-{n}.nii.gz").array.astype(np.float32)
        label = load_volume(folder / f"dce-seg-{n}.nii.gz").array
        instance = load_volume(folder / f"dce-lesions-{n}.nii.gz").array
        side = json.loads((folder / f"dce-{n}.json").read_text())
        liver = label == 1
        for lesion in side["lesions"]:
            mask = instance == int(lesion["id"])
            if not mask.any():
                continue
            own = np.where(mask, 2, np.where(liver, 1, 0))
            curves.append(time_intensity_curves(series, own).ravel())
            times.append(np.asarray(side["frame_times_s"], np.float32))
            shells.append(shell_curves(series, mask, liver))
            classes.append(LESION_CLASSES.index(lesion["class"]))
            diameters.append(float(lesion["diameter_mm"]))
    return np.stack(curves), np.stack(times), np.asarray(classes), np.asarray(diameters), np.stack(shells)


def shell_curves(series, mask, liver):
    """Mean signal per frame in the lesion's core, middle and rim thirds, over the pre-contrast liver mean."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(mask)
    level = depth / max(float(depth.max()), 1e-6)  # 0 at the surface, 1 at the centre
    scale = max(float(series[0][liver].mean()), 1e-6)
    out = []
    for lo, hi in ((2 / 3, 1.01), (1 / 3, 2 / 3), (0.0, 1 / 3)):
        shell = mask & (level >= lo) & (level < hi)
        shell = shell if shell.any() else mask  # a lesion a few voxels across: every shell is the lesion
        out.append(series[:, shell].mean(axis=1) / scale)
    return np.concatenate(out).astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="data/dce500")
    parser.add_argument("--test", default="data/dce_heldout10000_200")
    args = parser.parse_args(argv)
    start = time.time()
    train, test = lesion_features(args.train), lesion_features(args.test)
    print(f"{len(train[2])} training and {len(test[2])} test lesions measured in {time.time() - start:.0f} s; "
          f"chance 0.20")
    models = {
        "logistic regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=10.0)),
        "random forest": lambda: RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=2),
        "gradient boosting": lambda: HistGradientBoostingClassifier(random_state=0),
    }
    feature_sets = {"curves": lambda d: d[0], "curves + frame times": lambda d: np.concatenate([d[0], d[1]], 1),
                    "curves + radial shells": lambda d: np.concatenate([d[0], d[4]], 1)}
    bands = " | ".join(f"{lo:g}-{hi:g} mm" if hi < 1e9 else f">= {lo:g} mm" for lo, hi in BANDS)
    print(f"| features | classifier | accuracy | {bands} |")
    print("|---|---|---|" + "---|" * len(BANDS))
    for fname, take in feature_sets.items():
        for mname, make in models.items():
            model = make().fit(take(train), train[2])
            hit = model.predict(take(test)) == test[2]
            cells = []
            for lo, hi in BANDS:
                inside = (test[3] >= lo) & (test[3] < hi)
                cells.append(f"{hit[inside].mean():.3f} (n={inside.sum()})" if inside.any() else "-")
            print(f"| {fname} | {mname} | {hit.mean():.3f} | " + " | ".join(cells) + " |")
    print(f"total {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
