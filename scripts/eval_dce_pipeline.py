"""Score a DCE lesion pipeline on held-out phantom series: lesion Dice, detection by size, class per lesion.

    python scripts/eval_dce_pipeline.py --model runs/dce_pipeline/pipeline.keras --data data/dce_heldout10000
        [--limit N] [--out eval.json] [--preds DIR] [--liver-gate-mm MM|none]

For every series of the folder (``keras-liver phantoms dce``; held-out seeds are 10000 and up) the
pipeline (`pipeline_predict`) gives a label map and a class per predicted lesion. Scored against
the phantom's truth: lesion Dice per case (and global), liver Dice per case, detection recall and
precision of lesions >= 10 mm and by size band, per-lesion class accuracy on detected lesions
with its confusion matrix, kappa and macro F1 (`match_lesions` / `summarise_matches`, the true
class of every lesion from the series' sidecar JSON), and seconds per series. Prints one JSON
summary and writes it (with the per-case rows) to ``--out``.
"""

import argparse
import csv
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import match_lesions, summarise_matches  # noqa: E402
from keras_liver.inference import pipeline_predict  # noqa: E402
from keras_liver.io import load_volume, save_volume  # noqa: E402
from keras_liver.models import DCEPipeline, load_model  # noqa: E402


def dice(a: np.ndarray, b: np.ndarray) -> float | None:
    """Dice of two masks; ``None`` when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return None if total == 0 else 2.0 * float(np.logical_and(a, b).sum()) / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--preds", default=None, help="also save each label map here")
    parser.add_argument("--liver-gate-mm", default=None, help="run_dce_cascade's liver_gate_mm ('none': no gate)")
    args = parser.parse_args(argv)
    pipeline = load_model(args.model, compile=False)
    if not isinstance(pipeline, DCEPipeline):
        sys.exit(f"--model {args.model}: not a DCE pipeline")
    folder = pathlib.Path(args.data)
    with open(folder / "cases.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:args.limit]
    names = pipeline.class_names
    options = {}
    if args.liver_gate_mm is not None:
        options["liver_gate_mm"] = None if args.liver_gate_mm == "none" else float(args.liver_gate_mm)
    if args.preds:
        pathlib.Path(args.preds).mkdir(parents=True, exist_ok=True)
    cases, matches, inter, total = [], [], 0, 0
    for row in rows:
        n = row["case"]
        series = load_volume(folder / f"dce-{n}.nii.gz")
        truth = load_volume(folder / f"dce-seg-{n}.nii.gz").array
        truth_ids = load_volume(folder / f"dce-lesions-{n}.nii.gz").array
        sidecar = json.loads((folder / f"dce-{n}.json").read_text())
        start = time.perf_counter()
        labels, instance, lesions = pipeline_predict(pipeline, series, **options)
        seconds = time.perf_counter() - start
        if args.preds:
            save_volume(labels, pathlib.Path(args.preds) / f"dce-pred-{n}.nii.gz")
        pred = labels.array
        match = match_lesions(instance.array, truth_ids, series.spacing,
                              pred_classes={r["id"]: r["class"] for r in lesions},
                              truth_classes={int(r["id"]): r["class"] for r in sidecar["lesions"]})
        matches.append(match)
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
           "date": time.strftime("%Y-%m-%d"),
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


if __name__ == "__main__":
    main()
