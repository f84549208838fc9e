"""Score a trained DCE classifier on a DCE phantom folder it has never seen.

Usage:
    python scripts/eval_dce_classifier.py --model runs/dce/model.keras --data data/dce_test [--crop 8,32,32]
        [--per-lesion] [--out metrics.json]

Loads the folder (`keras-liver phantoms dce` layout), crops every series
around its lesion when ``--crop`` is given (as training with
``lesion_crop`` did), predicts, and prints accuracy, macro F1, kappa and the
confusion matrix (`keras_liver.evaluation.classification_metrics`); the
full metrics go to ``--out`` as JSON. ``--per-lesion`` (with ``--crop``) scores
every lesion of every series on its own crop and class (`load_lesion_crops`, the
true-lesion crops a DCE pipeline's classifier is trained on), streaming the folder, and also
prints the accuracy by lesion diameter (under 20, 20-40, 40 mm and over).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_liver.data import lesion_crop, load_dce_folder, load_lesion_crops  # noqa: E402
from keras_liver.evaluation import classification_metrics  # noqa: E402
from keras_liver.models import load_model  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--crop", default=None, help="lesion crop T?,Z,Y,X as in training: Z,Y,X")
    parser.add_argument("--out", default=None, help="JSON file for the metrics")
    parser.add_argument("--per-lesion", action="store_true", help="every lesion's crop and class (needs --crop)")
    args = parser.parse_args(argv)
    if args.per_lesion:
        if not args.crop:
            parser.error("--per-lesion: give the classifier's --crop")
        crops = load_lesion_crops(args.data, tuple(int(v) for v in args.crop.split(",")))
        ids, series, classes, names = crops["cases"], crops["series"], crops["classes"], crops["class_names"]
    else:
        ids, series, seg, classes, names = load_dce_folder(args.data)
    if args.crop and not args.per_lesion:
        size = tuple(int(v) for v in args.crop.split(","))
        series = np.stack([lesion_crop(s, lab, size)[0] for s, lab in zip(series, seg)])
    model = load_model(args.model, compile=False)
    feed = {"sequence": series[..., None]}
    if "masks" in model.input:  # a classifier with lesion_masks: each true lesion's own mask and the liver's
        if not args.per_lesion:
            parser.error("--per-lesion: a classifier with lesion masks is scored per lesion")
        feed["masks"] = crops["masks"].astype(np.float32)
    probs = np.asarray(model.predict(feed, batch_size=8, verbose=0)["probabilities"])
    result = classification_metrics(classes, probs.argmax(1), probs, names)
    print(f"{len(ids)} {'lesions' if args.per_lesion else 'series'} from {args.data}: accuracy {result['accuracy']:.3f}, macro F1 {result['macro_f1']:.3f}, "
          f"kappa {result['kappa']:.3f}, ROC-AUC {result['roc_auc'] if result['roc_auc'] is not None else float('nan'):.3f}")
    print("confusion (rows true, columns predicted):", names)
    for name, row in zip(names, result["confusion_matrix"]):
        print(f"  {name:12s} {row}")
    if args.per_lesion:  # accuracy by lesion size: the small lesions' curves are the noisy ones
        hit = probs.argmax(1) == classes
        result["accuracy_by_diameter"] = {}
        for lo, hi in ((0, 20), (20, 40), (40, np.inf)):
            inside = (crops["diameters_mm"] >= lo) & (crops["diameters_mm"] < hi)
            band = f"{lo}-{hi} mm" if np.isfinite(hi) else f">= {lo} mm"
            if inside.any():
                result["accuracy_by_diameter"][band] = {"accuracy": float(hit[inside].mean()), "n": int(inside.sum())}
                print(f"  {band:10s} accuracy {hit[inside].mean():.3f} (n={inside.sum()})")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
