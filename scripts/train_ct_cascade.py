"""Train both stages of the CT cascade from scratch and tie them into one model (issue 16's recipe).

    python scripts/train_ct_cascade.py [--out runs/ct_cascade] [--liver-config configs/ct_cascade_liver.yaml]
                                       [--tumour-config configs/ct_cascade_tumour.yaml]

Runs ``keras-liver train`` for stage 1 (the liver, coarse, whole volume) and stage 2 (liver and
tumour inside the liver box, fine), each as its own process, one after the other, then
``keras-liver cascade`` on their best checkpoints. Stage 2 is validated on boxes from stage 1's
predicted liver (``val_roi_model``, set here to this run's stage 1), as it will run. Writes ``OUT/cascade.keras`` and
``OUT/timing.json`` (wall seconds per stage and in all: the issue's "both stages in at most
60 minutes together" is the ``train_total_s`` figure). The data the configs name must exist
(``keras-liver phantoms ct --cases 60 --seed 0 --shape 100,512,512 --out data/ct512``).
"""

import argparse
import json
import pathlib
import platform
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "keras_liver.cli"]


def run(args, log_path):
    """Run one CLI command, its output into ``log_path``; wall seconds, or exit on failure."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.call(CLI + args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    wall = time.perf_counter() - start
    if code:
        sys.exit(f"{' '.join(args[:3])}: failed with exit code {code} after {wall:.0f} s; see {log_path}")
    return wall


def checkpoint(run_dir: pathlib.Path) -> pathlib.Path:
    """The run's best checkpoint (by its monitored validation figure), else its last model."""
    best = run_dir / "best.keras"
    return best if best.is_file() else run_dir / "model.keras"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ct_cascade")
    parser.add_argument("--liver-config", default="configs/ct_cascade_liver.yaml")
    parser.add_argument("--tumour-config", default="configs/ct_cascade_tumour.yaml")
    args = parser.parse_args(argv)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    timing = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()})",
              "date": time.strftime("%Y-%m-%d"), "configs": [args.liver_config, args.tumour_config]}
    timing["liver_s"] = run(["train", "--config", args.liver_config, "--out-dir", str(out / "liver")],
                            out / "liver.log")
    tumour = yaml.safe_load((ROOT / args.tumour_config).read_text())
    tumour["val_roi_model"] = str(checkpoint(out / "liver"))
    tumour_config = out / "tumour.yaml"
    tumour_config.write_text(yaml.safe_dump(tumour, sort_keys=False))
    timing["tumour_s"] = run(["train", "--config", str(tumour_config), "--out-dir", str(out / "tumour")],
                             out / "tumour.log")
    timing["train_total_s"] = timing["liver_s"] + timing["tumour_s"]
    timing["cascade_s"] = run(["cascade", "--liver", str(checkpoint(out / "liver")), "--tumour",
                               str(checkpoint(out / "tumour")), "--out", str(out / "cascade.keras")],
                              out / "cascade.log")
    (out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    print(json.dumps(timing, indent=2))


if __name__ == "__main__":
    main()
