"""Give a CT model saved before plans existed the plan of the data it was trained on.

Usage:
    python scripts/add_plan.py --model runs/ct_fused_unet_45min/model.keras --data data/ct100 \
        --patch 1,128,128 --out runs/ct_stage1/model.keras

The target spacing is the one `target_spacing: auto` would have planned for ``--data``
(nnU-Net's median rule over its cases' spacings): the spacing distribution the model saw.
The model's weights are unchanged; the copy is written atomically.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_liver.models import load_model, save_model  # noqa: E402
from keras_liver.plans import Plan, StagePlan, target_spacing_of  # noqa: E402
from keras_liver.training.planning import data_spacings  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="the folder the model was trained on")
    parser.add_argument("--patch", required=True, help="its training window Z,Y,X (2D: 1,Y,X)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    model = load_model(args.model, compile=False)
    spacings = np.asarray(data_spacings(args.data))
    window = tuple(int(v) for v in args.patch.split(","))
    stage = StagePlan("liver_tumour", target_spacing_of(spacings), window,
                      intensity=f"window:{getattr(model, 'intensity', '')}" if getattr(model, "intensity", None)
                      else "")
    model.plan = Plan(task="ct_segmentation", stages=(stage,), source="trained",
                      fingerprint={"n_cases": len(spacings), "spacing_rule": "auto, added after training",
                                   "median_spacing": [round(float(v), 4) for v in np.median(spacings, axis=0)]})
    save_model(model, args.out)
    print(args.out, stage.target_spacing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
