"""Score a trained DCESegmenter on whole series of a DCE phantom folder it has never seen.

Usage:
    python scripts/eval_dce_segmenter.py --model runs/dce_segmenter/model.keras --data data/dce_test [--postprocess]

Predicts every series of the folder (`keras-liver phantoms dce` layout) in
one piece (the model must be built for the series' shape; runs trained on
``series_patch`` save it that way), optionally cleans the label map with
`postprocess_liver_tumour` (one liver, lesions inside it, no specks), and
prints liver and lesion Dice (mean per series and global,
`keras_liver.evaluation.dataset_dice`) and lesion-wise recall and
precision (`lesion_detection`). The full numbers go to ``--out`` as JSON.
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_liver.data import load_dce_folder  # noqa: E402
from keras_liver.evaluation import dataset_dice, lesion_detection  # noqa: E402
from keras_liver.inference import postprocess_liver_tumour  # noqa: E402
from keras_liver.io import load_volume  # noqa: E402
from keras_liver.models import load_model  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--postprocess", action="store_true", help="largest liver, lesions inside it, no specks")
    parser.add_argument("--out", default=None, help="JSON file for the metrics")
    args = parser.parse_args(argv)
    ids, series, seg, _, _ = load_dce_folder(args.data)
    model = load_model(args.model, compile=False)
    probs = np.asarray(model.predict({"sequence": series[..., None]}, batch_size=4, verbose=0)["probabilities"])
    preds = probs.argmax(-1).astype(np.uint8)
    spacings = [load_volume(pathlib.Path(args.data) / f"dce-seg-{n}.nii.gz").spacing for n in ids]
    if args.postprocess:
        preds = np.stack([postprocess_liver_tumour(p, s) for p, s in zip(preds, spacings)])
    liver = dataset_dice(zip(preds, seg), (1, 2))
    lesion = dataset_dice(zip(preds, seg), (2,))
    found = [lesion_detection(p, t, s) for p, t, s in zip(preds, seg, spacings)]
    detected, true = sum(f["detected"] for f in found), sum(f["true_lesions"] for f in found)
    tp, predicted = sum(f["true_positive_pred"] for f in found), sum(f["pred_lesions"] for f in found)
    print(f"{len(ids)} series from {args.data} ({'post-processed' if args.postprocess else 'raw argmax'}): "
          f"liver Dice {liver['mean_per_case']:.3f} per series / {liver['global']:.3f} global; "
          f"lesion Dice {lesion['mean_per_case']:.3f} per series / {lesion['global']:.3f} global; "
          f"lesions found {detected}/{true}, predicted lesions {tp}/{predicted} true")
    if args.out:
        result = {"liver": liver, "lesion": lesion, "detected": detected, "true_lesions": true,
                  "true_positive_pred": tp, "pred_lesions": predicted, "cases": ids,
                  "postprocess": bool(args.postprocess)}
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
