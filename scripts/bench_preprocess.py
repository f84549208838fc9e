"""Speed of preprocessing and HOG on a clinical-size CT volume (512 x 512 x 100).

Usage:
    python scripts/bench_preprocess.py [--repeats 2] [--slices 100]

Times (best of ``--repeats``, seconds) for one phantom volume of
``--slices`` x 512 x 512 int16 HU, with 1 and 2 workers where the function
takes them:
threshold_denoise; hog_map (9 bins, 8-pixel cells); slice_hog_features
(scikit-image defaults: 9 bins, 8x8 cells, 3x3 blocks, L2-Hys); liver_roi
(body mask included); SpatialPreprocessor to 2.0 x 1.5 x 1.5 mm (linear)
with a liver crop and padding to 16, and the label inverted back.
"""

import argparse
import sys

import numpy as np
from benchutil import best_of

from keras_liver.features import hog_map, slice_hog_features
from keras_liver.phantoms import ct_case
from keras_liver.preprocess import SpatialPreprocessor, liver_roi, threshold_denoise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--slices", type=int, default=100)
    args = parser.parse_args(argv)
    case = ct_case(0, shape=(args.slices, 512, 512), noise_sigma=20)
    hu = case.image.array
    print(f"volume {hu.shape} {hu.dtype}, spacing {tuple(round(s, 3) for s in case.image.spacing)} mm\n")
    print(f"| step | workers | seconds (best of {args.repeats}) | ms per slice |")
    print("|---|---|---|---|")

    def row(name, workers, fn):
        seconds = best_of(fn, args.repeats)
        print(f"| {name} | {workers} | {seconds:.2f} | {1000 * seconds / hu.shape[0]:.1f} |", flush=True)

    for w in (1, 2):
        row("threshold_denoise (median 5x5 x2, 3.5 sigma)", w, lambda: threshold_denoise(hu, workers=w))
    for w in (1, 2):
        row("hog_map (9 bins, 8 px cells) -> (z, y, x, 9) float32", w, lambda: hog_map(hu, window="abdomen",
                                                                                       workers=w))
    for w in (1, 2):
        row("slice_hog_features (skimage defaults)", w, lambda: slice_hog_features(hu, window="abdomen", workers=w))
    row("liver_roi (with body_mask)", 1, lambda: liver_roi(case.image))
    roi = liver_roi(case.image)
    prep = SpatialPreprocessor((2.0, 1.5, 1.5), pad_multiple=16)

    def spatial():
        _, label, record = prep(case.image, case.label, crop_mask=roi)
        back = record.invert(label.array)
        assert np.array_equal(back.array.shape, hu.shape)

    row("SpatialPreprocessor crop + resample + pad, then invert", 1, spatial)
    return 0


if __name__ == "__main__":
    sys.exit(main())
