"""Run a CT model or cascade on every real scan with a liver label, as a new user would (no --spacing).

    python scripts/eval_real.py --model runs/ct_cascade_v3/cascade.keras [--real ../shared/data/real]
        [--out-dir real_out] [--modality CT|MR|all]

The scans are `keras_liver.evaluation.REAL_SCANS` found under ``--real`` (the TotalSegmentator
CT as NIfTI and as a DICOM series, the dcmqi slices with their NRRD mask; the MR with
``--modality MR``). The model's plan decides spacing and patches (a `CTCascade` runs both
stages). Prints one markdown table (liver Dice, liver volume error, tumour voxels predicted,
seconds) and, with ``--out-dir``, writes ``real_scans.json`` and one overlay PNG per scan there.
Exits 1 when no scan is found.
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import evaluate_real_scans  # noqa: E402
from keras_liver.evaluation.reports import markdown_table  # noqa: E402
from keras_liver.inference import cascade_predict, predict_volume  # noqa: E402
from keras_liver.models import CTCascade, load_model  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = ("scan", "shape", "liver_dice", "liver_volume_error_pct", "tumour_voxels", "false_liver_top", "seconds")


def top_labels(by_label: dict, n: int = 4) -> str:
    """The ``n`` labels with most false liver voxels, as ``label:voxels`` (0 is the label's background)."""
    return " ".join(f"{k}:{v}" for k, v in list(by_label.items())[:n]) or "-"


def segmenter(model):
    """``Volume -> label Volume`` for a CT model or cascade, its plan deciding."""
    return (lambda v: cascade_predict(model, v)) if isinstance(model, CTCascade) else (lambda v: predict_volume(model, v))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras CT model or cascade")
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--out-dir", default=None, help="folder for real_scans.json and the overlays")
    parser.add_argument("--modality", default="CT", choices=("CT", "MR", "all"))
    args = parser.parse_args(argv)
    model = load_model(args.model, compile=False)
    rows = evaluate_real_scans(segmenter(model), args.real, out_dir=args.out_dir,
                               modality=None if args.modality == "all" else args.modality)
    if not rows:
        print(f"--real {args.real}: no real scan with a liver label found", file=sys.stderr)
        return 1
    table = [{**r, "false_liver_top": top_labels(r["false_liver_by_label"])} for r in rows]
    print(markdown_table([{k: r[k] for k in COLUMNS} for r in table], list(COLUMNS)))
    if args.out_dir:
        path = pathlib.Path(args.out_dir) / "real_scans.json"
        path.write_text(json.dumps({"model": args.model, "scans": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
