"""Score a DCE lesion pipeline on held-out phantom series: lesion Dice, detection by size, class per lesion.

    python scripts/eval_dce_pipeline.py --model runs/dce_pipeline/pipeline.keras --data data/dce_heldout10000
        [--limit N] [--out eval.json] [--preds DIR] [--liver-gate-mm MM|none] [--lesion-threshold P]
        [--min-lesion-probability P|none] [--min-shell-labelled S|none] [--flip-tta|--no-flip-tta]
        [--split-probability P|none] [--lesions lesions.json]

For every series of the folder (``keras-liver phantoms dce``; held-out seeds are 10000 and up) the
pipeline (`pipeline_predict`) gives a label map and a class per predicted lesion. Scored against
the phantom's truth: lesion Dice per case (and global), liver Dice per case, detection recall and
precision of lesions >= 10 mm and by size band, per-lesion class accuracy on detected lesions
with its confusion matrix, kappa and macro F1 (`match_lesions` / `summarise_matches`, the true
class of every lesion from the series' sidecar JSON), and seconds per series. Prints one JSON
summary and writes it (with the per-case rows) to ``--out``. Settings not given are the
pipeline's own (`DCEPipeline`'s ``postprocess``, chosen on validation), else `run_dce_cascade`'s defaults.

``--lesions`` writes one row per TRUE lesion: its equivalent diameter, class, whether it was
detected, stage 2's lesion probability inside it (peak, mean, share of voxels >= 0.5 / 0.3 / 0.2),
the share inside stage 1's liver, and its contrast-to-noise per frame (mean signal in the lesion
minus the mean in a liver ring 1-3 voxels outside it, over the ring's standard deviation): does
the model see a missed lesion at all, and could it? It also writes one row per PREDICTED lesion
(``"kind": "pred"``): its size, whether it is a true positive, stage 2's peak and mean lesion
probability in it (what a probability floor would keep), its voxels, its share inside stage 1's
liver, the share of a 2-voxel shell around it that the pipeline labels liver or lesion (``shell_labelled``:
a lesion inside the liver is wrapped in liver, fluid beside it is not), and its class with the classifier's
probability for it; a true lesion's row names the
predicted lesion that covers most of it (``match``), so a floor can be swept offline exactly.
"""

import argparse
import csv
import dataclasses
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import match_lesions, summarise_matches  # noqa: E402
from keras_liver.inference import lesion_shell_shares, pipeline_predict  # noqa: E402
from keras_liver.io import load_volume, save_volume  # noqa: E402
from keras_liver.models import DCEPipeline, load_model  # noqa: E402


def dice(a: np.ndarray, b: np.ndarray) -> float | None:
    """Dice of two masks; ``None`` when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return None if total == 0 else 2.0 * float(np.logical_and(a, b).sum()) / total


def lesion_rows(case, series, truth, truth_ids, sidecar, match, stages, instance, lesions, pred) -> list[dict]:
    """One diagnosis row per true and per predicted lesion of a series (see ``--lesions``)."""
    found = {row["id"]: row for row in match["truth"]}
    probability, liver = stages["lesion_probability"], stages["liver"]
    classified = {int(r["id"]): r for r in lesions}
    shells = lesion_shell_shares(pred, instance)
    rows = []
    for row in match["pred"]:
        inside = instance == row["id"]
        record = classified.get(int(row["id"]), {})
        rows.append({"case": case, "kind": "pred", "id": int(row["id"]), "diameter_mm": row["diameter_mm"],
                     "true_positive": row["true_positive"],
                     "peak_probability": round(float(probability[inside].max()), 4),
                     "mean_probability": round(float(probability[inside].mean()), 4),
                     "voxels": int(inside.sum()), "share_in_stage1_liver": round(float(liver[inside].mean()), 4),
                     "shell_labelled": round(shells.get(int(row["id"]), 0.0), 4),
                     "class": record.get("class"),
                     "class_probability": max(record["probabilities"].values()) if record.get("probabilities")
                     else None})
    for lesion in sidecar["lesions"]:
        mask = truth_ids == int(lesion["id"])
        if not mask.any():
            continue
        near = ndimage.binary_dilation(mask, iterations=3) & ~ndimage.binary_dilation(mask) & (truth == 1)
        p = probability[mask]
        signal = series.array[:, mask].mean(1)
        if near.any():
            ring = series.array[:, near]
            cnr = [round(float(v), 2) for v in (signal - ring.mean(1)) / np.maximum(ring.std(1), 1e-6)]
        else:
            cnr = None
        rows.append({"case": case, "kind": "truth", "id": int(lesion["id"]), "class": lesion["class"],
                     "diameter_mm": found.get(int(lesion["id"]), {}).get("diameter_mm"),
                     "detected": found.get(int(lesion["id"]), {}).get("detected"),
                     "match": found.get(int(lesion["id"]), {}).get("match"),
                     "peak_probability": round(float(p.max()), 4), "mean_probability": round(float(p.mean()), 4),
                     **{f"share_p{t:g}": round(float((p >= t).mean()), 4) for t in (0.5, 0.3, 0.2)},
                     "share_in_stage1_liver": round(float(liver[mask].mean()), 4), "cnr_per_frame": cnr})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--cases", default=None, help="only these case numbers, comma-separated (a diagnosis)")
    parser.add_argument("--lesion-overlap", type=float, default=None,
                        help="stage 2's sliding-window overlap instead of the plan's")
    parser.add_argument("--out", default=None)
    parser.add_argument("--preds", default=None, help="also save each label map here")
    parser.add_argument("--liver-gate-mm", default=None, help="run_dce_cascade's liver_gate_mm ('none': no gate)")
    parser.add_argument("--lesion-threshold", default=None, help="run_dce_cascade's lesion_threshold ('none': arg-max)")
    parser.add_argument("--min-lesion-probability", default=None,
                        help="run_dce_cascade's min_lesion_probability ('none': no floor)")
    parser.add_argument("--min-shell-labelled", default=None,
                        help="run_dce_cascade's min_shell_labelled ('none': no shell rule)")
    parser.add_argument("--split-probability", default=None,
                        help="run_dce_pipeline's split_probability ('none': no split)")
    parser.add_argument("--flip-tta", action=argparse.BooleanOptionalAction, default=None,
                        help="run_dce_cascade's flip_tta (stage 2 mirrored)")
    parser.add_argument("--register-frames", action=argparse.BooleanOptionalAction, default=None,
                        help="run_dce_cascade's register_frames (each frame moved back to the mean position)")
    parser.add_argument("--lesions", default=None, help="write one diagnosis row per true and predicted lesion here")
    args = parser.parse_args(argv)
    pipeline = load_model(args.model, compile=False)
    if not isinstance(pipeline, DCEPipeline):
        sys.exit(f"--model {args.model}: not a DCE pipeline")
    folder = pathlib.Path(args.data)
    with open(folder / "cases.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:args.limit]
    if args.cases:
        wanted = set(args.cases.split(","))
        rows = [row for row in rows if row["case"] in wanted]
    if args.lesion_overlap is not None:  # stage 2's own plan with its windows at another overlap
        stage2 = pipeline.lesion_stage
        stage2.plan = dataclasses.replace(stage2.plan, stages=(
            dataclasses.replace(stage2.plan.stage, overlap=args.lesion_overlap),))
    names = pipeline.class_names
    options = {}  # run_dce_cascade settings given on the command line ('none' turns one off)
    for name in ("liver_gate_mm", "lesion_threshold", "min_lesion_probability", "min_shell_labelled",
                 "split_probability"):
        value = getattr(args, name)
        if value is not None:
            options[name] = None if value == "none" else float(value)
    if args.flip_tta is not None:
        options["flip_tta"] = args.flip_tta
    if args.register_frames is not None:
        options["register_frames"] = args.register_frames
    if args.preds:
        pathlib.Path(args.preds).mkdir(parents=True, exist_ok=True)
    cases, matches, diagnosis, inter, total = [], [], [], 0, 0
    for row in rows:
        n = row["case"]
        series = load_volume(folder / f"dce-{n}.nii.gz")
        truth = load_volume(folder / f"dce-seg-{n}.nii.gz").array
        truth_ids = load_volume(folder / f"dce-lesions-{n}.nii.gz").array
        sidecar = json.loads((folder / f"dce-{n}.json").read_text())
        start = time.perf_counter()
        labels, instance, lesions, stages = pipeline_predict(pipeline, series, return_stages=True, **options)
        seconds = time.perf_counter() - start
        if args.preds:
            save_volume(labels, pathlib.Path(args.preds) / f"dce-pred-{n}.nii.gz")
        pred = labels.array
        match = match_lesions(instance.array, truth_ids, series.spacing,
                              pred_classes={r["id"]: r["class"] for r in lesions},
                              truth_classes={int(r["id"]): r["class"] for r in sidecar["lesions"]})
        matches.append(match)
        if args.lesions:
            diagnosis += lesion_rows(n, series, truth, truth_ids, sidecar, match, stages, instance.array, lesions, pred)
        inter += int(np.logical_and(pred == 2, truth == 2).sum())
        total += int((pred == 2).sum() + (truth == 2).sum())
        cases.append({"case": n, "seconds": round(seconds, 2), "lesion_dice": dice(pred == 2, truth == 2),
                      "liver_dice": dice(pred > 0, truth > 0), "true_lesions": len(sidecar["lesions"]),
                      "predicted_lesions": len(lesions)})
        print(json.dumps(cases[-1]), file=sys.stderr, flush=True)
    summary = summarise_matches(matches, names)
    lesion = [c["lesion_dice"] for c in cases if c["lesion_dice"] is not None]
    out = {"model": args.model, "data": args.data, "series": len(cases),
           "machine": f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
           "date": time.strftime("%Y-%m-%d"), "options": {**pipeline.postprocess, **options},
           "lesion_dice_per_case": round(float(np.mean(lesion)), 4) if lesion else None,
           "lesion_dice_global": round(2.0 * inter / total, 4) if total else None,
           "liver_dice_per_case": round(float(np.mean([c["liver_dice"] for c in cases])), 4),
           "seconds_per_series_mean": round(float(np.mean([c["seconds"] for c in cases])), 2),
           "seconds_per_series_max": round(float(np.max([c["seconds"] for c in cases])), 2),
           "detection": summary}
    print(json.dumps({k: v for k, v in out.items() if k != "detection"} | {
        "recall_10mm": summary.get("recall"), "precision_10mm": summary.get("precision"),
        "class_accuracy": summary.get("class_accuracy")}, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(out | {"cases": cases}, indent=1, default=float) + "\n")
    if args.lesions:
        pathlib.Path(args.lesions).write_text(json.dumps(diagnosis, indent=1) + "\n")


if __name__ == "__main__":
    main()
