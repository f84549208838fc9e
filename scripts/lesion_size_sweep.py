"""How the minimum lesion size of post-processing trades false positives against recall.

Usage:
    python scripts/lesion_size_sweep.py --preds preds_cascade_heldout10000 --truth data/ct512_heldout10000 \
        [--sizes 10,50,100,200,400]

Re-applies `postprocess_liver_tumour` with each ``min_lesion_mm3`` to masks already predicted
(no model runs), and scores them with `lesion_detection` and `dataset_dice`: tumour Dice per case
and global, recall of lesions >= 10 mm, false-positive lesions per case. Prints one JSON row per size.
"""

import argparse
import json
import pathlib
import sys

from keras_liver.evaluation import dataset_dice, lesion_detection
from keras_liver.inference import postprocess_liver_tumour
from keras_liver.io import find_lits_cases, load_volume


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preds", required=True, help="folder of segmentation-N.nii.gz predictions")
    parser.add_argument("--truth", required=True)
    parser.add_argument("--sizes", default="10,50,100,200,400", help="minimum lesion volumes in mm^3")
    args = parser.parse_args(argv)
    pairs = []
    for case in find_lits_cases(args.truth):
        pred = pathlib.Path(args.preds) / f"segmentation-{case.case_id}.nii.gz"
        pairs.append((load_volume(pred), load_volume(case.label_path)))
    for size in (float(s) for s in args.sizes.split(",")):
        cleaned = [(postprocess_liver_tumour(p.array, p.spacing, min_lesion_mm3=size), t.array) for p, t in pairs]
        found = total = fp = 0
        for (p, t), (_, truth) in zip(cleaned, pairs):
            d = lesion_detection(p, t, truth.spacing, min_diameter_mm=10.0)
            found, total, fp = found + d["detected"], total + d["true_lesions"], fp + d["false_positive_pred"]
        dice = dataset_dice(cleaned, (2,))
        print(json.dumps({"min_lesion_mm3": size, "tumour_dice_per_case": round(dice["mean_per_case"], 4),
                          "tumour_dice_global": round(dice["global"], 4), "recall_10mm": f"{found}/{total}",
                          "false_positive_lesions_per_case": round(fp / len(pairs), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
