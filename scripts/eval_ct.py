"""Score a CT model or cascade on held-out phantoms and on the real scans, as a new user runs it.

Usage:
    python scripts/eval_ct.py --model runs/ct_cascade.keras [--data data/ct512_heldout10000 --preds preds_cascade]
        [--real ../shared/data/real] [--limit N] [--out result.json]

Every volume of ``--data`` (a phantom or LiTS folder) is segmented with no ``--spacing`` and
no ``--patch``: the model's plan decides (a `CTCascade` runs both stages). Masks go to
``--preds`` (NIfTI, on each volume's grid), then `evaluate_folder` scores them (liver and
tumour Dice per case and global, recall of lesions >= 10 mm, by size band and lesion kind,
false-positive lesions per case). The seconds per volume (model loaded once, reading and
writing excluded) are reported too. With ``--real``, every real CT with a liver label
(`evaluate_real_scans`, as ``scripts/eval_real.py``) gets its liver Dice (an older command's
``--real .../totalsegmentator`` means its parent). A cascade is scored twice from one run of its models: as it is (with its lesion
probability floor) and without the floor (``without_probability_floor``). A summary prints as JSON.
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_liver.evaluation import evaluate_folder, evaluate_real_scans  # noqa: E402
from keras_liver.inference import cascade_predict, predict_volume, run_cascade  # noqa: E402
from keras_liver.inference.sliding_window import model_predictor  # noqa: E402
from keras_liver.io import find_lits_cases, load_volume, save_volume  # noqa: E402
from keras_liver.models import CTCascade, load_model  # noqa: E402


def _segment(model, volume):
    return cascade_predict(model, volume) if isinstance(model, CTCascade) else predict_volume(model, volume)


def _held_out(model, data, preds, limit) -> dict:
    preds.mkdir(parents=True, exist_ok=True)
    cascade = isinstance(model, CTCascade)
    if cascade:  # the stages' windows are remembered, so the figures without the probability floor come cheap
        from lesion_probability_sweep import remembered

        stages = remembered(model_predictor(model.liver_stage)), remembered(model_predictor(model.tumour_stage))
        unfloored = preds.with_name(preds.name + "_nofloor")
        unfloored.mkdir(parents=True, exist_ok=True)
    seconds = []
    for case in find_lits_cases(data)[:limit]:
        volume = load_volume(case.image_path)
        started = time.perf_counter()
        mask = run_cascade(*stages, model.plan, volume) if cascade else _segment(model, volume)
        seconds.append(time.perf_counter() - started)
        save_volume(mask, preds / f"segmentation-{case.case_id}.nii.gz")
        if cascade:
            save_volume(run_cascade(*stages, model.plan, volume, min_lesion_probability=None),
                        unfloored / f"segmentation-{case.case_id}.nii.gz")
            for stage in stages:
                stage[0].clear()
        print(f"case {case.case_id}: {volume.shape} in {seconds[-1]:.1f} s", file=sys.stderr)
    out = {"cases": len(seconds), "seconds_per_volume_mean": float(np.mean(seconds)),
           "seconds_per_volume_max": float(np.max(seconds)), **_scores(evaluate_folder(preds, data), data)}
    if cascade:
        out["without_probability_floor"] = _scores(evaluate_folder(unfloored, data), data)
    return out


def by_phase(result, data) -> dict:
    """Liver and tumour Dice per case, averaged per contrast phase (a phantom folder's ``cases.json``)."""
    path = pathlib.Path(data) / "cases.json"
    phases = json.loads(path.read_text()) if path.is_file() else {}
    groups = {}
    for case, metrics in result["cases"].items():
        phase = (phases.get(f"volume-{case}") or {}).get("phase")
        if phase:
            groups.setdefault(phase, []).append((metrics["liver"]["dice"], metrics["tumour"]["dice"]))
    out = {}
    for phase, rows in sorted(groups.items()):
        tumour = [r[1] for r in rows if r[1] is not None]
        out[phase] = {"cases": len(rows), "liver_dice_per_case": round(float(np.mean([r[0] for r in rows])), 4),
                      "liver_dice_min": round(float(np.min([r[0] for r in rows])), 4),
                      "tumour_dice_per_case": round(float(np.mean(tumour)), 4) if tumour else None}
    return out


def _scores(result, data=None) -> dict:
    return {"by_phase": by_phase(result, data) if data is not None else {},
            "liver_dice_per_case": result["liver_dice"]["mean_per_case"],
            "liver_dice_global": result["liver_dice"]["global"],
            "tumour_dice_per_case": result["tumour_dice"]["mean_per_case"],
            "tumour_dice_global": result["tumour_dice"]["global"],
            "recall_10mm": result["detection"]["recall"],
            "by_diameter_mm": result["detection"]["by_diameter_mm"],
            "by_kind": result["detection"]["by_kind"],
            "false_positive_lesions_per_case": result["detection"]["false_positive_lesions_per_case"],
            "masses_called_liver_or_tumour": result.get("masses", {}).get("share_called_liver_or_tumour")}

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras CT model or cascade")
    parser.add_argument("--data", default=None, help="held-out folder (volume-N / segmentation-N)")
    parser.add_argument("--preds", default=None, help="folder for the predicted masks (with --data)")
    parser.add_argument("--real", default=None, help="the real-scan folder (../shared/data/real)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--out", default=None, help="JSON file for the summary")
    args = parser.parse_args(argv)
    model = load_model(args.model, compile=False)
    summary = {"model": args.model}
    if args.data:
        if not args.preds:
            parser.error("--preds: needed with --data")
        summary.update(_held_out(model, pathlib.Path(args.data), pathlib.Path(args.preds), args.limit))
    if args.real:
        real = pathlib.Path(args.real)
        real = real.parent if real.name == "totalsegmentator" else real
        for row in evaluate_real_scans(lambda v: _segment(model, v), real):
            summary[f"real {row['scan']} liver dice"] = row["liver_dice"]
            summary[f"real {row['scan']} seconds"] = row["seconds"]
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
