"""Run a CT model or cascade on every real scan with a liver label, as a new user would (no --spacing).

    python scripts/eval_real.py --model runs/ct_cascade_v3/cascade.keras [--real ../shared/data/real]
        [--out-dir real_out] [--modality CT|MR|all] [--liver-gate-mm MM|none] [--settings JSON|FILE]

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

from keras_liver.cli.cascade import read_postprocess  # noqa: E402
from keras_liver.evaluation import evaluate_real_scans  # noqa: E402
from keras_liver.evaluation.reports import markdown_table  # noqa: E402
from keras_liver.inference import cascade_predict, predict_volume  # noqa: E402
from keras_liver.models import CTCascade, load_model  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = ("scan", "shape", "liver_dice", "liver_volume_error_pct", "tumour_voxels", "false_liver_top", "seconds")


def top_labels(by_label: dict, n: int = 4) -> str:
    """The ``n`` labels with most false liver voxels, as ``label:voxels`` (0 is the label's background)."""
    return " ".join(f"{k}:{v}" for k, v in list(by_label.items())[:n]) or "-"


def segmenter(model, **cascade_options):
    """``Volume -> label Volume`` for a CT model or cascade (with `run_cascade` options), its plan deciding."""
    if isinstance(model, CTCascade):
        return lambda v: cascade_predict(model, v, **cascade_options)
    return lambda v: predict_volume(model, v)


def gate(text: str):
    """``--liver-gate-mm``: a distance in mm, or ``none`` (stage 2's liver kept wherever it is)."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a distance in mm or 'none', got {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras CT model or cascade")
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--out-dir", default=None, help="folder for real_scans.json and the overlays")
    parser.add_argument("--modality", default="CT", choices=("CT", "MR", "all"))
    parser.add_argument("--liver-gate-mm", type=gate, default=argparse.SUPPRESS,
                        help="a cascade's stage-2 labels further than this from stage 1's liver become background "
                             "(default: run_cascade's, 3 mm; 'none': no gate)")
    parser.add_argument("--settings", default=None,
                        help="a cascade's run_cascade settings as a JSON object or .json file, over the plan's "
                             "(e.g. '{\"boundary_from_probabilities\": true}')")
    args = parser.parse_args(argv)
    model = load_model(args.model, compile=False)
    options = dict(read_postprocess(args.settings) or {})
    if hasattr(args, "liver_gate_mm"):
        options["liver_gate_mm"] = args.liver_gate_mm
    rows = evaluate_real_scans(segmenter(model, **options), args.real, out_dir=args.out_dir,
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
