"""Train the DCE lesion pipeline from scratch and tie it into one model (issue 17's recipe).

    python scripts/train_dce_pipeline.py [--out runs/dce_pipeline] [--liver-config configs/dce_cascade_liver.yaml]
        [--lesion-config configs/dce_cascade_lesion.yaml] [--classifier-config configs/dce_pipeline_classifier_masks.yaml]

Runs ``keras-liver train`` for stage 1 (the liver, coarse, whole series), stage 2 (liver and lesion
in the liver box) and the lesion classifier, each as its own process, one after the other, then
``keras-liver cascade --classifier`` on the stages' best checkpoints and the classifier's last weights
(chosen on the validation series: its 10 % validation split saturates early, so its "best" epoch is
an early one; docs/RESULTS.md). Stage 2 is validated on boxes from
stage 1's predicted liver (``val_roi_model``, set here to this run's stage 1). A stage whose run folder already has a
``summary.json`` is reused (its wall time then is the run's, from its files). Writes
``OUT/pipeline.keras`` and ``OUT/timing.json`` (wall seconds per model: each recipe's "at most 60
minutes" is its figure; ``segmentation_s`` is both stages together). ``--postprocess`` stores the
inference settings chosen on validation in the pipeline (rerun with it: the trained stages are reused). The data the configs name
must exist (``keras-liver phantoms dce --cases 500 --balanced --seed 0 --out data/dce500``).
"""

import argparse
import json
import pathlib
import platform
import sys
import time

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_ct_cascade import ROOT, checkpoint, run  # noqa: E402


def train_stage(config: str, run_dir: pathlib.Path, log: pathlib.Path) -> float:
    """Train one model unless its run is complete; its wall seconds."""
    summary = run_dir / "summary.json"
    if summary.is_file():
        return round(summary.stat().st_mtime - (run_dir / "config.json").stat().st_mtime, 1)
    return round(run(["train", "--config", config, "--out-dir", str(run_dir)], log), 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/dce_pipeline")
    parser.add_argument("--liver-config", default="configs/dce_cascade_liver.yaml")
    parser.add_argument("--lesion-config", default="configs/dce_cascade_lesion.yaml")
    parser.add_argument("--classifier-config", default="configs/dce_pipeline_classifier_masks.yaml")
    parser.add_argument("--lesion-epochs", type=int, default=None,
                        help="train stage 2 for exactly this many epochs, without its time budget (a comparison "
                             "at equal steps on a machine that other work shares)")
    parser.add_argument("--postprocess", default=None,
                        help="the inference settings chosen on validation (keras-liver cascade --postprocess)")
    args = parser.parse_args(argv)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    timing = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()})",
              "date": time.strftime("%Y-%m-%d"),
              "configs": [args.liver_config, args.lesion_config, args.classifier_config]}
    timing["liver_s"] = train_stage(args.liver_config, out / "liver", out / "liver.log")
    lesion = yaml.safe_load((ROOT / args.lesion_config).read_text())
    lesion["val_roi_model"] = str(checkpoint(out / "liver"))  # validated on stage 1's boxes, as it will run
    if args.lesion_epochs is not None:
        lesion["epochs"], lesion["time_budget_s"] = args.lesion_epochs, None
    lesion_config = out / "lesion.yaml"
    lesion_config.write_text(yaml.safe_dump(lesion, sort_keys=False))
    timing["lesion_s"] = train_stage(str(lesion_config), out / "lesion", out / "lesion.log")
    timing["classifier_s"] = train_stage(args.classifier_config, out / "classifier", out / "classifier.log")
    timing["segmentation_s"] = timing["liver_s"] + timing["lesion_s"]
    timing["pipeline_s"] = run(["cascade", "--liver", str(checkpoint(out / "liver")), "--tumour",
                                str(checkpoint(out / "lesion")), "--classifier",
                                str(out / "classifier" / "model.keras"), "--out", str(out / "pipeline.keras")]
                               + (["--postprocess", args.postprocess] if args.postprocess else []), out / "pipeline.log")
    (out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    print(json.dumps(timing, indent=2))


if __name__ == "__main__":
    main()
