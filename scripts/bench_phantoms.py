"""Benchmark the phantoms: generation speed, and whether lesion classes need time.

Usage:
    python scripts/bench_phantoms.py [--repeats 3] [--dce-cases 100]

1. Seconds per case (best of ``--repeats``, one process, so one core):
   default CT (48x128x128), default DCE (8x16x64x64), CT 100x512x512, and CT
   100x512x512 with the wider anatomy (``variety=True``) for seeds 0..``--variety-seeds``-1
   (the slowest seed is the figure: the variety differs per seed).
2. Separability of the DCE lesion classes: for ``--dce-cases`` balanced
   cases, features are the lesion-to-liver mean-signal ratio of each frame.
   A logistic regression (5-fold cross-validation) on one frame at a time is
   compared with one on all frames; the classes are meant to differ mostly
   over time, so every single frame should score well below all frames.
"""

import argparse
import sys

import numpy as np
from benchutil import best_of

from keras_liver.phantoms import LESION_CLASSES, ct_case, dce_case


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dce-cases", type=int, default=100)
    parser.add_argument("--variety-seeds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.dce_cases < 5 * len(LESION_CLASSES):
        parser.error(f"--dce-cases {args.dce_cases}: 5-fold cross-validation needs at least 5 cases of each of the "
                     f"{len(LESION_CLASSES)} classes ({5 * len(LESION_CLASSES)})")
    print("| case | seconds (best of %d) |" % args.repeats)
    print("|---|---|")
    print(f"| CT 48x128x128 (default) | {best_of(lambda: ct_case(0), args.repeats):.3f} |")
    print(f"| DCE 8x32x128x128 (default) | {best_of(lambda: dce_case(0), args.repeats):.3f} |")
    print(f"| DCE 8x16x64x64 | {best_of(lambda: dce_case(0, shape=(16, 64, 64)), args.repeats):.3f} |")
    print(f"| CT 100x512x512 | {best_of(lambda: ct_case(0, shape=(100, 512, 512)), args.repeats):.2f} |")
    wide = [best_of(lambda s=s: ct_case(s, shape=(100, 512, 512), variety=True), args.repeats)
            for s in range(args.variety_seeds)]
    print(f"| CT 100x512x512 with variety, slowest of seeds 0-{args.variety_seeds - 1} | {max(wide):.2f} "
          f"(mean {np.mean(wide):.2f}) |")

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats, labels = [], []
    for n in range(args.dce_cases):
        klass = LESION_CLASSES[n % len(LESION_CLASSES)]
        case = dce_case(1000 + n, klass)
        series, label = case.image.array, case.label.array
        index = case.instance.array == 1  # the index lesion carries the class
        feats.append(series[:, index].mean(axis=1) / series[:, label == 1].mean(axis=1))
        labels.append(klass)
    x, y = np.array(feats), np.array(labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    print(f"\nDCE lesion classes, {len(y)} balanced cases, 5-fold CV accuracy (chance 0.20)")
    print("| features | accuracy |")
    print("|---|---|")
    for f in range(x.shape[1]):
        acc = cross_val_score(model, x[:, [f]], y, cv=5).mean()
        print(f"| frame {f} only | {acc:.2f} |")
    print(f"| all frames | {cross_val_score(model, x, y, cv=5).mean():.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
