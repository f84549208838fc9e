"""The main job, run by `make demo`.

1. Generate phantom data sets (CT in the LiTS layout, DCE-MRI series) with
   previews.
2. Summarise a phantom case and, when ../shared/data/real exists, the real
   sample scans (``keras-liver info``), and write a preview of the real
   DICOM series with its liver labels.
3. Preprocessing pictures (threshold denoising, histogram, HOG) for a
   phantom CT case and, when present, the real DICOM series.

Later issues grow this into the whole pipeline (train, evaluate, export,
serve).
"""

import argparse
import logging
import pathlib
import sys

from keras_liver.cli.main import main as cli

REAL = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "totalsegmentator"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--cases", type=int, default=4)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("demo")
    steps = [
        ["phantoms", "ct", "--cases", str(args.cases), "--out", str(out / "ct"), "--preview", str(out / "ct.png")],
        ["phantoms", "dce", "--cases", str(max(args.cases, 5)), "--balanced", "--out", str(out / "dce"),
         "--preview", str(out / "dce.png")],
        ["info", str(out / "ct" / "volume-0.nii.gz"), str(out / "ct" / "segmentation-0.nii.gz"),
         str(out / "dce" / "dce-0.nii.gz")],
        ["figures", "preprocess", str(out / "ct" / "volume-0.nii.gz"), "--label",
         str(out / "ct" / "segmentation-0.nii.gz"), "--out", str(out / "preprocess_phantom")],
    ]
    (out / "preprocess_phantom").mkdir(exist_ok=True)
    if REAL.is_dir():
        (out / "preprocess_real").mkdir(exist_ok=True)
        steps.append(["info", str(REAL / "example_ct_dicom"), str(REAL / "example_seg_dicom.nii.gz"),
                      str(REAL / "example_mr_sm.nii.gz")])
        steps.append(["preview", str(REAL / "example_ct_dicom"), "--label", str(REAL / "example_seg_dicom.nii.gz"),
                      "--out", str(out / "real_preview.png")])
        steps.append(["figures", "preprocess", str(REAL / "example_ct_dicom"), "--label",
                      str(REAL / "example_seg_dicom.nii.gz"), "--out", str(out / "preprocess_real")])
    else:
        log.info("real samples not found at %s; phantoms only", REAL)
    for step in steps:
        log.info("$ keras-liver %s", " ".join(step))
        rc = cli(step)
        if rc:
            return rc
    log.info("demo finished: outputs in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
