"""Sweep the cascade's lesion filters (peak probability, minimum size) and liver gate on phantoms; the models run once.

    python scripts/lesion_probability_sweep.py --model runs/ct_cascade_v2/cascade.keras \
        --data data/ct512_val9000 [--probabilities none,0.6,0.7,0.8,0.9] [--sizes 100,200,400]
        [--gates none,3] [--limit N] [--work sweep_preds] [--out sweep.json]

Choose the filters on validation phantoms (seeds below 10000, e.g. ``keras-liver phantoms ct
--cases 10 --seed 9000 --shape 100,512,512``), then score held-out phantoms once.

For every case both stages' window predictions are computed once and remembered (keyed by the
window batch's bytes), so each (min_lesion_probability, min_lesion_mm3, liver_gate_mm) setting reruns only the
resampling, blending and post-processing of `run_cascade`. Masks of each setting go to
``WORK/p<prob>_s<size>_g<gate>/`` and `evaluate_folder` scores them; one JSON row per pair is printed
(liver Dice per case, tumour Dice per case and global, recall of lesions >= 10 mm, false-positive
lesions per case).
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import evaluate_folder  # noqa: E402
from keras_liver.inference import run_cascade  # noqa: E402
from keras_liver.inference.sliding_window import model_predictor  # noqa: E402
from keras_liver.io import find_lits_cases, load_volume, save_volume  # noqa: E402
from keras_liver.models import CTCascade, load_model  # noqa: E402


def remembered(predictor):
    """The predictor with its outputs kept by input bytes (cleared per case with ``.clear()``)."""
    predict, dims, channels = predictor
    memory = {}

    def call(batch):
        key = hashlib.sha1(batch.tobytes()).hexdigest() + str(batch.shape)
        if key not in memory:
            memory[key] = predict(batch)
        return memory[key]

    call.clear = memory.clear
    return call, dims, channels


def _folder(p, size, gate) -> str:
    return f"p{p}_s{size:g}" + ("" if gate is None else f"_g{gate:g}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--probabilities", default="none,0.6,0.7,0.8,0.9")
    parser.add_argument("--sizes", default="100,200,400")
    parser.add_argument("--gates", default="none", help="liver_gate_mm values of run_cascade (none: no gate)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--work", default="sweep_preds")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    cascade = load_model(args.model, compile=False)
    if not isinstance(cascade, CTCascade):
        sys.exit(f"--model {args.model}: not a CT cascade")
    liver, tumour = remembered(model_predictor(cascade.liver_stage)), remembered(model_predictor(cascade.tumour_stage))
    probs = [None if p == "none" else float(p) for p in args.probabilities.split(",")]
    sizes = [float(s) for s in args.sizes.split(",")]
    gates = [None if g == "none" else float(g) for g in args.gates.split(",")]
    settings = [(p, size, gate) for p in probs for size in sizes for gate in gates]
    work = pathlib.Path(args.work)
    cases = find_lits_cases(args.data)[:args.limit]
    for case in cases:
        volume = load_volume(case.image_path)
        for p, size, gate in settings:
            mask = run_cascade(liver, tumour, cascade.plan, volume, min_lesion_mm3=size, min_lesion_probability=p,
                               liver_gate_mm=gate)
            folder = work / _folder(p, size, gate)
            folder.mkdir(parents=True, exist_ok=True)
            save_volume(mask, folder / f"segmentation-{case.case_id}.nii.gz")
        liver[0].clear()
        tumour[0].clear()
        print(f"case {case.case_id} done", file=sys.stderr, flush=True)
    rows = []
    for p, size, gate in settings:
        result = evaluate_folder(work / _folder(p, size, gate), args.data)
        rows.append({"min_lesion_probability": p, "min_lesion_mm3": size, "liver_gate_mm": gate,
                     "liver_dice_per_case": round(result["liver_dice"]["mean_per_case"], 4),
                     "tumour_dice_per_case": round(result["tumour_dice"]["mean_per_case"], 4),
                     "tumour_dice_global": round(result["tumour_dice"]["global"], 4),
                     "recall_10mm": round(result["detection"]["recall"], 4),
                     "false_positive_lesions_per_case":
                         round(result["detection"]["false_positive_lesions_per_case"], 2)})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
